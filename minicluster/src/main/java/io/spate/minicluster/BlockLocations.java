package io.spate.minicluster;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.fs.BlockLocation;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.Tool;
import org.apache.hadoop.util.ToolRunner;

/**
 * {@code scripts/hadoop-cli.sh blocks PATH...}: the block locations Hadoop's Java client reports
 * ({@link FileSystem#getFileBlockLocations}), one line per block:
 * <pre>  PATH  offset=O length=L hosts=h1,h2 names=ip1:port,ip2:port</pre>
 * {@code hosts} are what locality-aware schedulers match against node names.
 */
public final class BlockLocations extends Configured implements Tool {
  public static void main(String[] args) throws Exception {
    System.exit(ToolRunner.run(new Configuration(), new BlockLocations(), args));
  }

  @Override
  public int run(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: blocks PATH...   (files, or directories: their direct children)");
      return 2;
    }
    int rc = 0;
    for (String a : args) {
      Path p = new Path(a);
      FileSystem fs = p.getFileSystem(getConf());
      FileStatus[] matches = fs.globStatus(p);
      if (matches == null || matches.length == 0) {
        System.err.println("blocks: " + a + ": no such file or directory");
        rc = 1;
        continue;
      }
      List<FileStatus> files = new ArrayList<>();
      for (FileStatus st : matches) {
        if (st.isDirectory()) {
          for (FileStatus c : fs.listStatus(st.getPath())) {
            if (c.isFile()) {
              files.add(c);
            }
          }
        } else {
          files.add(st);
        }
      }
      for (FileStatus f : files) {
        String path = Path.getPathWithoutSchemeAndAuthority(f.getPath()).toString();
        for (BlockLocation b : fs.getFileBlockLocations(f, 0, f.getLen())) {
          System.out.printf("%s\toffset=%d length=%d hosts=%s names=%s%n", path, b.getOffset(),
              b.getLength(), String.join(",", sorted(b.getHosts())),
              String.join(",", sorted(b.getNames())));
        }
      }
    }
    return rc;
  }

  private static String[] sorted(String[] a) {
    String[] c = a.clone();
    Arrays.sort(c);
    return c;
  }
}
