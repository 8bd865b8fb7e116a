package io.spate.minicluster;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

/** Command-line options of {@link Main}. Every port flag accepts 0 for "pick a free port". */
final class Options {
  File dir;
  int hosts = 3;
  int nnPort = 9000;
  int nnHttpPort = 9870;
  int rmPort = 8032;
  int rmSchedulerPort = 8030;
  int rmTrackerPort = 8031;
  int rmAdminPort = 8033;
  int rmWebPort = 8088;
  int nmMemoryMb = 4096;
  int nmVcores = 4;
  int minAllocationMb = 128;
  int replication = 3;
  int timeoutSeconds = 150;
  boolean watchStdin = true;

  static final String USAGE = String.join("\n",
      "usage: io.spate.minicluster.Main --dir DIR [options]",
      "  --dir DIR                 data + conf output directory (DIR/data is wiped at start,",
      "                            the client config is written to DIR/conf)",
      "  --hosts N                 simulated hosts, each with a DataNode and a NodeManager (default 3);",
      "                            host k is 127.0.0.(k+1)",
      "  --nn-port P               NameNode RPC port (default 9000)",
      "  --nn-http-port P          NameNode web UI port (default 9870)",
      "  --rm-port P               ResourceManager client port (default 8032)",
      "  --rm-scheduler-port P     ResourceManager scheduler (AM) port (default 8030)",
      "  --rm-tracker-port P       ResourceManager resource-tracker port (default 8031)",
      "  --rm-admin-port P         ResourceManager admin port (default 8033)",
      "  --rm-web-port P           ResourceManager web UI / REST port (default 8088)",
      "  --ephemeral-ports         all of the above = 0 (free ports, read back into DIR/conf)",
      "  --nm-memory-mb MB         memory of each NodeManager (default 4096)",
      "  --nm-vcores N             vcores of each NodeManager (default 4)",
      "  --min-allocation-mb MB    YARN minimum container allocation (default 128)",
      "  --replication N           default dfs.replication written to the client config (default 3)",
      "  --timeout SECONDS         give up if not ready within this time (default 150)",
      "  --no-stdin                do not stop when standard input closes (stop with SIGTERM only)",
      "Prints 'MINICLUSTER READY' and 'export HADOOP_CONF_DIR=DIR/conf' on stdout when ready;",
      "stops cleanly when stdin reaches EOF or on SIGTERM.");

  static Options parse(String[] args) {
    Options o = new Options();
    List<String> a = new ArrayList<>(List.of(args));
    for (int i = 0; i < a.size(); i++) {
      String flag = a.get(i);
      switch (flag) {
        case "--help":
        case "-h":
          System.out.println(USAGE);
          System.exit(0);
          break;
        case "--ephemeral-ports":
          o.nnPort = o.nnHttpPort = o.rmPort = o.rmSchedulerPort = 0;
          o.rmTrackerPort = o.rmAdminPort = o.rmWebPort = 0;
          break;
        case "--no-stdin":
          o.watchStdin = false;
          break;
        default:
          if (i + 1 >= a.size()) {
            throw new IllegalArgumentException("missing value for " + flag + "\n" + USAGE);
          }
          String v = a.get(++i);
          switch (flag) {
            case "--dir": o.dir = new File(v).getAbsoluteFile(); break;
            case "--hosts": o.hosts = intIn(flag, v, 1, 250); break;
            case "--nn-port": o.nnPort = port(flag, v); break;
            case "--nn-http-port": o.nnHttpPort = port(flag, v); break;
            case "--rm-port": o.rmPort = port(flag, v); break;
            case "--rm-scheduler-port": o.rmSchedulerPort = port(flag, v); break;
            case "--rm-tracker-port": o.rmTrackerPort = port(flag, v); break;
            case "--rm-admin-port": o.rmAdminPort = port(flag, v); break;
            case "--rm-web-port": o.rmWebPort = port(flag, v); break;
            case "--nm-memory-mb": o.nmMemoryMb = intIn(flag, v, 128, 1 << 20); break;
            case "--nm-vcores": o.nmVcores = intIn(flag, v, 1, 1024); break;
            case "--min-allocation-mb": o.minAllocationMb = intIn(flag, v, 1, 1 << 20); break;
            case "--replication": o.replication = intIn(flag, v, 1, 512); break;
            case "--timeout": o.timeoutSeconds = intIn(flag, v, 1, 3600); break;
            default: throw new IllegalArgumentException("unknown option " + flag + "\n" + USAGE);
          }
      }
    }
    if (o.dir == null) {
      throw new IllegalArgumentException("--dir is required\n" + USAGE);
    }
    return o;
  }

  private static int port(String flag, String v) {
    return intIn(flag, v, 0, 65535);
  }

  private static int intIn(String flag, String v, int lo, int hi) {
    int n;
    try {
      n = Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + ": not a number: " + v);
    }
    if (n < lo || n > hi) {
      throw new IllegalArgumentException(flag + ": " + n + " is outside " + lo + ".." + hi);
    }
    return n;
  }

  /** Loopback address of simulated host k (1-based): 127.0.0.(k+1). */
  static String hostAddress(int k) {
    return "127.0.0." + (k + 1);
  }
}
