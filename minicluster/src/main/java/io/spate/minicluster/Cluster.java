package io.spate.minicluster;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Writer;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.hdfs.DistributedFileSystem;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.protocol.DatanodeInfo;
import org.apache.hadoop.hdfs.protocol.HdfsConstants.DatanodeReportType;
import org.apache.hadoop.hdfs.server.datanode.DataNode;
import org.apache.hadoop.hdfs.server.namenode.NameNode;
import org.apache.hadoop.metrics2.lib.DefaultMetricsSystem;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.records.NodeReport;
import org.apache.hadoop.yarn.api.records.NodeState;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.nodemanager.NodeManager;
import org.apache.hadoop.yarn.server.resourcemanager.ResourceManager;
import org.apache.hadoop.yarn.server.resourcemanager.rmnode.RMNode;

/**
 * One NameNode, N DataNodes, one ResourceManager and N NodeManagers in this JVM.
 *
 * <p>Simulated host k (1-based) is the loopback address 127.0.0.(k+1):
 * <ul>
 *   <li>its DataNode listens on that address, reports it as its host name
 *       ({@code dfs.datanode.hostname}) and connects from it ({@link BoundSocketFactory}), so the
 *       NameNode records it as both IP and host name: block locations name 127.0.0.(k+1) and
 *       clients read the block from 127.0.0.(k+1):port;</li>
 *   <li>its NodeManager binds its RPC server to that address, so its NodeId (the canonical name of
 *       the bound address, which for an unresolvable loopback IP is the IP itself) is
 *       {@code 127.0.0.(k+1):port}.</li>
 * </ul>
 * MiniYARNCluster is deliberately not used: it pins every NodeManager to {@code localhost}.
 * MiniDFSCluster is not used either: starting the daemons directly needs no test jars and keeps
 * full control over addresses.
 */
final class Cluster {
  private static final String LOOPBACK = "127.0.0.1";

  private final Options opts;
  private final File dataDir;
  private final File confDir;
  private final String user;

  private NameNode nameNode;
  private final List<DataNode> dataNodes = new ArrayList<>();
  private ResourceManager resourceManager;
  private final List<NodeManager> nodeManagers = new ArrayList<>();
  private volatile boolean aborted;

  /** Client-facing values, filled in as the daemons come up. */
  private String nnUri;
  private String nnRpcAddress;
  private String nnHttpAddress;
  private final Map<String, String> rmAddresses = new TreeMap<>();
  private final List<String> nodeIds = new ArrayList<>();
  private final List<String> dataNodeDescriptions = new ArrayList<>();

  Cluster(Options opts) throws IOException {
    this.opts = opts;
    this.dataDir = new File(opts.dir, "data");
    this.confDir = new File(opts.dir, "conf");
    this.user = UserGroupInformation.getCurrentUser().getShortUserName();
  }

  /** Makes a start() in progress fail at its next wait or step. */
  void abort() {
    aborted = true;
  }

  boolean isAborted() {
    return aborted;
  }

  private void checkAborted() {
    if (aborted) {
      throw new IllegalStateException("start-up interrupted by a signal");
    }
  }

  File confDir() {
    return confDir;
  }

  // ------------------------------------------------------------------ start

  void start() throws Exception {
    long t0 = System.nanoTime();
    // Several DataNodes / NodeManagers in one JVM register same-named metrics sources.
    DefaultMetricsSystem.setMiniClusterMode(true);
    deleteRecursively(dataDir.toPath());
    deleteRecursively(confDir.toPath());
    mkdirs(dataDir);

    Configuration hdfs = hdfsConf();
    startNameNode(hdfs);
    log("NameNode up at %s (web http://%s) after %.1f s", nnUri, nnHttpAddress, secs(t0));
    checkAborted();
    startDataNodes(hdfs);
    waitFor("HDFS: " + opts.hosts + " live DataNodes and safe mode off", () -> hdfsReady());
    checkHdfsFromClient(hdfs);
    log("HDFS ready after %.1f s: %s", secs(t0), String.join(", ", dataNodeDescriptions));

    checkAborted();
    YarnConfiguration yarn = yarnConf(hdfs);
    startResourceManager(yarn);
    log("ResourceManager up at %s (web http://%s) after %.1f s",
        rmAddresses.get("yarn.resourcemanager.address"),
        rmAddresses.get("yarn.resourcemanager.webapp.address"), secs(t0));
    checkAborted();
    startNodeManagers();
    waitFor("YARN: " + opts.hosts + " RUNNING NodeManagers", () -> yarnReady());
    checkYarnFromClient();
    log("YARN ready after %.1f s: nodes %s", secs(t0), String.join(", ", nodeIds));

    checkAborted();
    writeClientConf();
    writeClusterEnv();
    log("client configuration in %s; up in %.1f s", confDir, secs(t0));
  }

  private Configuration hdfsConf() {
    Configuration c = new HdfsConfiguration();
    c.set("hadoop.tmp.dir", path("tmp"));
    c.set("hadoop.security.authentication", "simple");
    c.set("fs.defaultFS", "hdfs://" + LOOPBACK + ":" + opts.nnPort);
    c.set("dfs.namenode.rpc-address", LOOPBACK + ":" + opts.nnPort);
    c.set("dfs.namenode.http-address", LOOPBACK + ":" + opts.nnHttpPort);
    c.set("dfs.namenode.https-address", LOOPBACK + ":0");
    c.set("dfs.namenode.secondary.http-address", LOOPBACK + ":0");
    c.set("dfs.namenode.secondary.https-address", LOOPBACK + ":0");
    c.set("dfs.namenode.name.dir", uri("nn/name"));
    c.set("dfs.namenode.edits.dir", uri("nn/name"));
    c.setInt("dfs.replication", Math.min(opts.replication, opts.hosts));
    c.setInt("dfs.namenode.safemode.extension", 0);
    c.setInt("dfs.namenode.safemode.min.datanodes", 0);
    // Allow small blocks so tests can make multi-block files cheaply (must stay a multiple of
    // dfs.bytes-per-checksum, 512).
    c.setLong("dfs.namenode.fs-limits.min-block-size", 4096);
    // Do not enter safe mode on a nearly full disk (default 100 MB reserved).
    c.setLong("dfs.namenode.resource.du.reserved", 16L * 1024 * 1024);
    // With 3 DataNodes one writer's pipeline makes a node look "too busy" (load > 2x average of
    // possibly stale heartbeats) and new blocks get 2 replicas: place by space, not load.
    c.setBoolean("dfs.namenode.redundancy.considerLoad", false);
    c.setLong("dfs.heartbeat.interval", 1);
    c.setLong("dfs.blockreport.initialDelay", 0);
    c.setLong("dfs.datanode.du.reserved", 0);
    c.setBoolean("dfs.permissions.enabled", true);
    c.setBoolean("dfs.namenode.acls.enabled", true);
    // Data goes to the address the NameNode saw (127.0.0.1), not to the reported host name.
    c.setBoolean("dfs.client.use.datanode.hostname", false);
    // Issue delegation tokens over SIMPLE auth too, so the IPC client's TOKEN/DIGEST-MD5 path can
    // be tested against the NameNode (crates/hadoop-ipc/tests/namenode.rs).
    c.setBoolean("dfs.namenode.delegation.token.always-use", true);
    return c;
  }

  private void startNameNode(Configuration hdfs) throws IOException {
    mkdirs(new File(dataDir, "nn/name"));
    NameNode.format(new HdfsConfiguration(hdfs));
    nameNode = new NameNode(new HdfsConfiguration(hdfs));
    int rpcPort = nameNode.getNameNodeAddress().getPort();
    int httpPort = nameNode.getHttpAddress().getPort();
    nnRpcAddress = LOOPBACK + ":" + rpcPort;
    nnHttpAddress = LOOPBACK + ":" + httpPort;
    nnUri = "hdfs://" + nnRpcAddress;
    hdfs.set("fs.defaultFS", nnUri);
    hdfs.set("dfs.namenode.rpc-address", nnRpcAddress);
    hdfs.set("dfs.namenode.http-address", nnHttpAddress);
  }

  private void startDataNodes(Configuration hdfs) throws IOException {
    for (int k = 1; k <= opts.hosts; k++) {
      Configuration c = new HdfsConfiguration(hdfs);
      String host = Options.hostAddress(k);
      File dir = new File(dataDir, "dn" + k + "/data");
      mkdirs(dir);
      c.set("dfs.datanode.data.dir", dir.toURI().toString());
      c.set("dfs.datanode.hostname", host);
      // The NameNode records the RPC peer address of a registering DataNode as its IP; binding
      // the DataNode's client sockets to its host's address makes that 127.0.0.(k+1), where its
      // servers listen too. Every view (block locations, fsck, dfsadmin) then agrees.
      c.set("hadoop.rpc.socket.factory.class.default", BoundSocketFactory.class.getName());
      c.set(BoundSocketFactory.BIND_ADDRESS, host);
      c.set("dfs.datanode.address", host + ":0");
      c.set("dfs.datanode.ipc.address", host + ":0");
      c.set("dfs.datanode.http.address", host + ":0");
      c.set("dfs.datanode.https.address", host + ":0");
      DataNode dn = DataNode.createDataNode(new String[0], c);
      if (dn == null) {
        throw new IOException("DataNode " + k + " did not start (see DIR/logs/hadoop.log)");
      }
      dataNodes.add(dn);
    }
  }

  private boolean hdfsReady() {
    if (nameNode.isInSafeMode()) {
      return false;
    }
    if (nameNode.getNamesystem().getNumLiveDataNodes() < opts.hosts) {
      return false;
    }
    for (DataNode dn : dataNodes) {
      if (!dn.isDatanodeFullyStarted()) {
        return false;
      }
    }
    return true;
  }

  /** Through a real client: the DataNode report, the usual directories, and one write. */
  private void checkHdfsFromClient(Configuration hdfs) throws IOException {
    try (FileSystem fs = FileSystem.newInstance(URI.create(nnUri), hdfs)) {
      DistributedFileSystem dfs = (DistributedFileSystem) fs;
      List<String> expected = new ArrayList<>();
      for (int k = 1; k <= opts.hosts; k++) {
        expected.add(Options.hostAddress(k));
      }
      List<String> seen = new ArrayList<>();
      for (DatanodeInfo d : dfs.getDataNodeStats(DatanodeReportType.LIVE)) {
        seen.add(d.getHostName());
        dataNodeDescriptions.add(d.getHostName() + "@" + d.getXferAddr());
      }
      seen.sort(Comparator.naturalOrder());
      dataNodeDescriptions.sort(Comparator.naturalOrder());
      if (!seen.equals(expected)) {
        throw new IOException("DataNode host names are " + seen + ", expected " + expected);
      }
      for (DatanodeInfo d : dfs.getDataNodeStats(DatanodeReportType.LIVE)) {
        if (!d.getIpAddr().equals(d.getHostName())) {
          throw new IOException("DataNode " + d.getHostName() + " registered from IP "
              + d.getIpAddr() + " (its RPC client did not bind to its host address)");
        }
      }
      Path tmp = new Path("/tmp");
      fs.mkdirs(tmp);
      fs.setPermission(tmp, new FsPermission((short) 01777));
      Path home = new Path("/user/" + user);
      fs.mkdirs(home);
      // One small write through the pipeline proves the DataNodes accept data.
      Path probe = new Path("/tmp/.minicluster-probe");
      try (FSDataOutputStream out = fs.create(probe, true, 4096,
          (short) Math.min(3, opts.hosts), 1024 * 1024)) {
        out.write("ok\n".getBytes(StandardCharsets.UTF_8));
      }
      fs.delete(probe, false);
    }
  }

  private YarnConfiguration yarnConf(Configuration hdfs) {
    YarnConfiguration c = new YarnConfiguration(hdfs);
    c.set("yarn.resourcemanager.hostname", LOOPBACK);
    c.set("yarn.resourcemanager.address", LOOPBACK + ":" + opts.rmPort);
    c.set("yarn.resourcemanager.scheduler.address", LOOPBACK + ":" + opts.rmSchedulerPort);
    c.set("yarn.resourcemanager.resource-tracker.address", LOOPBACK + ":" + opts.rmTrackerPort);
    c.set("yarn.resourcemanager.admin.address", LOOPBACK + ":" + opts.rmAdminPort);
    c.set("yarn.resourcemanager.webapp.address", LOOPBACK + ":" + opts.rmWebPort);
    c.set("yarn.resourcemanager.webapp.https.address", LOOPBACK + ":0");
    c.set("yarn.http.policy", "HTTP_ONLY");
    c.setBoolean("yarn.webapp.ui2.enable", false);
    c.setBoolean("yarn.timeline-service.enabled", false);
    // Container logs are aggregated into HDFS (/tmp/logs/USER/...) when an application ends, as
    // on a real cluster: `scripts/hadoop-cli.sh logs -applicationId ...` reads them.
    c.setBoolean("yarn.log-aggregation-enable", true);
    c.set("yarn.nodemanager.remote-app-log-dir", "/tmp/logs");
    c.setBoolean("yarn.resourcemanager.recovery.enabled", false);
    c.setBoolean("yarn.nodemanager.recovery.enabled", false);
    c.setInt("yarn.resourcemanager.am.max-attempts", 2);
    c.setLong("yarn.resourcemanager.nodemanagers.heartbeat-interval-ms", 250);
    c.setInt("yarn.resourcemanager.max-completed-applications", 100);

    // Capacity scheduler, one queue, and a node-locality delay of one round of node heartbeats:
    // a container asked for on host k waits for host k's heartbeat before it may go elsewhere
    // (with relaxLocality=false it only ever goes to host k).
    c.set("yarn.resourcemanager.scheduler.class",
        "org.apache.hadoop.yarn.server.resourcemanager.scheduler.capacity.CapacityScheduler");
    c.set("yarn.scheduler.capacity.root.queues", "default");
    c.set("yarn.scheduler.capacity.root.default.capacity", "100");
    c.set("yarn.scheduler.capacity.root.default.maximum-capacity", "100");
    c.set("yarn.scheduler.capacity.root.default.state", "RUNNING");
    c.set("yarn.scheduler.capacity.root.default.user-limit-factor", "1");
    c.set("yarn.scheduler.capacity.root.default.acl_submit_applications", "*");
    c.set("yarn.scheduler.capacity.root.default.acl_administer_queue", "*");
    c.set("yarn.scheduler.capacity.maximum-am-resource-percent", "0.5");
    c.setInt("yarn.scheduler.capacity.node-locality-delay", opts.hosts);
    c.setInt("yarn.scheduler.capacity.rack-locality-additional-delay", -1);
    c.setInt("yarn.scheduler.minimum-allocation-mb", opts.minAllocationMb);
    c.setInt("yarn.scheduler.maximum-allocation-mb", opts.nmMemoryMb);
    c.setInt("yarn.scheduler.minimum-allocation-vcores", 1);
    c.setInt("yarn.scheduler.maximum-allocation-vcores", opts.nmVcores);

    // NodeManager defaults shared by all hosts (per-host addresses are set in startNodeManagers).
    c.setBoolean("yarn.nodemanager.resource.detect-hardware-capabilities", false);
    c.setInt("yarn.nodemanager.resource.memory-mb", opts.nmMemoryMb);
    c.setInt("yarn.nodemanager.resource.cpu-vcores", opts.nmVcores);
    c.setBoolean("yarn.nodemanager.pmem-check-enabled", false);
    c.setBoolean("yarn.nodemanager.vmem-check-enabled", false);
    c.setFloat("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage",
        100.0f);
    c.setLong("yarn.nodemanager.disk-health-checker.min-free-space-per-disk-mb", 0);
    // Keep launch scripts briefly for debugging, but free localized job binaries (hundreds of MB
    // each for debug builds) soon: tests start many applications.
    c.setInt("yarn.nodemanager.delete.debug-delay-sec", 20);
    c.setLong("yarn.nodemanager.process-kill-wait.ms", 2000);
    c.set("yarn.nodemanager.aux-services", "");
    // Containers (e.g. a Spate ApplicationMaster) find the cluster through HADOOP_CONF_DIR.
    c.set("yarn.nodemanager.admin-env",
        "MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX,HADOOP_CONF_DIR=" + confDir.getPath());
    return c;
  }

  private void startResourceManager(YarnConfiguration yarn) {
    resourceManager = new ResourceManager();
    resourceManager.init(yarn);
    resourceManager.start();
    Configuration rc = resourceManager.getConfig();
    for (String key : List.of("yarn.resourcemanager.address",
        "yarn.resourcemanager.scheduler.address", "yarn.resourcemanager.resource-tracker.address",
        "yarn.resourcemanager.admin.address", "yarn.resourcemanager.webapp.address")) {
      String v = rc.get(key);
      if (key.equals("yarn.resourcemanager.webapp.address") && v != null && v.endsWith(":0")) {
        v = LOOPBACK + ":" + rmWebPort(); // the RM does not write its web port back
      }
      if (v == null || v.endsWith(":0")) {
        throw new IllegalStateException("ResourceManager did not publish " + key + " (" + v + ")");
      }
      // The RM publishes the canonical name ("localhost:8032"); clients get the literal address
      // it is bound to, so no resolver (or IPv6-first "localhost") is involved.
      int port = Integer.parseInt(v.substring(v.lastIndexOf(':') + 1));
      rmAddresses.put(key, LOOPBACK + ":" + port);
    }
  }

  /** The bound port of the RM's web app (ResourceManager.getWebapp() is package-private). */
  private int rmWebPort() {
    try {
      java.lang.reflect.Method m = ResourceManager.class.getDeclaredMethod("getWebapp");
      m.setAccessible(true);
      return ((org.apache.hadoop.yarn.webapp.WebApp) m.invoke(resourceManager)).port();
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new IllegalStateException("cannot read the ResourceManager's web port"
          + " (use a fixed --rm-web-port)", e);
    }
  }

  private void startNodeManagers() {
    Configuration rc = resourceManager.getConfig();
    for (int k = 1; k <= opts.hosts; k++) {
      String host = Options.hostAddress(k);
      YarnConfiguration c = new YarnConfiguration(rc);
      c.set("yarn.nodemanager.hostname", host);
      c.set("yarn.nodemanager.address", host + ":0");
      c.set("yarn.nodemanager.localizer.address", host + ":0");
      c.set("yarn.nodemanager.webapp.address", host + ":0");
      c.set("yarn.nodemanager.webapp.https.address", host + ":0");
      c.set("yarn.nodemanager.collector-service.address", host + ":0");
      c.set("yarn.nodemanager.amrmproxy.address", host + ":0");
      c.set("yarn.nodemanager.local-dirs", mkdirs(new File(dataDir, "nm" + k + "/local")));
      c.set("yarn.nodemanager.log-dirs", mkdirs(new File(dataDir, "nm" + k + "/logs")));
      for (Map.Entry<String, String> e : rmAddresses.entrySet()) {
        c.set(e.getKey(), e.getValue());
      }
      NodeManager nm = new NodeManager();
      nm.init(c);
      nm.start();
      nodeManagers.add(nm);
    }
  }

  private boolean yarnReady() {
    Map<org.apache.hadoop.yarn.api.records.NodeId, RMNode> nodes =
        resourceManager.getRMContext().getRMNodes();
    long running = nodes.values().stream().filter(n -> n.getState() == NodeState.RUNNING).count();
    return running >= opts.hosts
        && resourceManager.getResourceScheduler().getNumClusterNodes() >= opts.hosts;
  }

  /** Through a real client: the node report must list one RUNNING node per simulated host. */
  private void checkYarnFromClient() throws Exception {
    YarnConfiguration c = new YarnConfiguration(clientYarnConf());
    YarnClient yc = YarnClient.createYarnClient();
    yc.init(c);
    yc.start();
    try {
      List<NodeReport> reports = yc.getNodeReports(NodeState.RUNNING);
      List<String> hosts = new ArrayList<>();
      for (NodeReport r : reports) {
        hosts.add(r.getNodeId().getHost());
        nodeIds.add(r.getNodeId().toString());
      }
      hosts.sort(Comparator.naturalOrder());
      nodeIds.sort(Comparator.naturalOrder());
      List<String> expected = new ArrayList<>();
      for (int k = 1; k <= opts.hosts; k++) {
        expected.add(Options.hostAddress(k));
      }
      if (!hosts.equals(expected)) {
        throw new IllegalStateException("YARN node hosts are " + hosts + ", expected " + expected
            + " (does /etc/hosts give 127.0.0.x a name? NodeManagers are named by the reverse"
            + " lookup of their bind address)");
      }
    } finally {
      yc.stop();
    }
  }

  // ------------------------------------------------------------------ client configuration

  private Configuration clientCoreConf() {
    Configuration c = new Configuration(false);
    c.set("fs.defaultFS", nnUri);
    c.set("hadoop.security.authentication", "simple");
    return c;
  }

  private Configuration clientHdfsConf() {
    Configuration c = new Configuration(false);
    c.set("dfs.namenode.rpc-address", nnRpcAddress);
    c.set("dfs.namenode.http-address", nnHttpAddress);
    c.setInt("dfs.replication", Math.min(opts.replication, opts.hosts));
    c.setBoolean("dfs.client.use.datanode.hostname", false);
    c.setBoolean("dfs.permissions.enabled", true);
    return c;
  }

  private Configuration clientYarnConf() {
    Configuration c = new Configuration(false);
    c.set("yarn.resourcemanager.hostname", LOOPBACK);
    for (Map.Entry<String, String> e : rmAddresses.entrySet()) {
      c.set(e.getKey(), e.getValue());
    }
    c.set("yarn.resourcemanager.scheduler.class",
        "org.apache.hadoop.yarn.server.resourcemanager.scheduler.capacity.CapacityScheduler");
    c.setInt("yarn.scheduler.minimum-allocation-mb", opts.minAllocationMb);
    c.setInt("yarn.scheduler.maximum-allocation-mb", opts.nmMemoryMb);
    c.setInt("yarn.scheduler.minimum-allocation-vcores", 1);
    c.setInt("yarn.scheduler.maximum-allocation-vcores", opts.nmVcores);
    c.setInt("yarn.resourcemanager.am.max-attempts", 2);
    c.set("yarn.http.policy", "HTTP_ONLY");
    c.setBoolean("yarn.timeline-service.enabled", false);
    c.setBoolean("yarn.log-aggregation-enable", true);
    c.set("yarn.nodemanager.remote-app-log-dir", "/tmp/logs");
    // Fail in seconds, not the default 15 minutes, when the cluster is gone.
    c.setLong("yarn.resourcemanager.connect.max-wait.ms", 20_000);
    c.setLong("yarn.resourcemanager.connect.retry-interval.ms", 1_000);
    return c;
  }

  private void writeClientConf() throws IOException {
    File tmp = new File(opts.dir, "conf.tmp");
    deleteRecursively(tmp.toPath());
    mkdirs(tmp);
    writeXml(clientCoreConf(), new File(tmp, "core-site.xml"));
    writeXml(clientHdfsConf(), new File(tmp, "hdfs-site.xml"));
    writeXml(clientYarnConf(), new File(tmp, "yarn-site.xml"));
    deleteRecursively(confDir.toPath());
    Files.move(tmp.toPath(), confDir.toPath(), StandardCopyOption.ATOMIC_MOVE);
  }

  private static void writeXml(Configuration c, File f) throws IOException {
    try (OutputStream out = new FileOutputStream(f)) {
      c.writeXml(out);
    }
  }

  /** DIR/cluster.env: shell-sourceable facts about the running cluster, for scripts and tests. */
  private void writeClusterEnv() throws IOException {
    List<String> hosts = new ArrayList<>();
    for (int k = 1; k <= opts.hosts; k++) {
      hosts.add(Options.hostAddress(k));
    }
    Map<String, String> env = new java.util.LinkedHashMap<>();
    env.put("HADOOP_CONF_DIR", confDir.getPath());
    env.put("SPATE_MC_PID", Long.toString(ProcessHandle.current().pid()));
    env.put("SPATE_MC_FS_DEFAULT", nnUri);
    env.put("SPATE_MC_NAMENODE_RPC", nnRpcAddress);
    env.put("SPATE_MC_NAMENODE_HTTP", nnHttpAddress);
    env.put("SPATE_MC_RM_ADDRESS", rmAddresses.get("yarn.resourcemanager.address"));
    env.put("SPATE_MC_RM_SCHEDULER_ADDRESS",
        rmAddresses.get("yarn.resourcemanager.scheduler.address"));
    env.put("SPATE_MC_RM_TRACKER_ADDRESS",
        rmAddresses.get("yarn.resourcemanager.resource-tracker.address"));
    env.put("SPATE_MC_RM_ADMIN_ADDRESS", rmAddresses.get("yarn.resourcemanager.admin.address"));
    env.put("SPATE_MC_RM_WEBAPP", rmAddresses.get("yarn.resourcemanager.webapp.address"));
    env.put("SPATE_MC_HOSTS", String.join(",", hosts));
    env.put("SPATE_MC_NODEMANAGERS", String.join(",", nodeIds));
    env.put("SPATE_MC_DATANODES", String.join(",", dataNodeDescriptions));
    String text = env.entrySet().stream()
        .map(e -> e.getKey() + "='" + e.getValue() + "'")
        .collect(Collectors.joining("\n", "", "\n"));
    File tmp = new File(opts.dir, "cluster.env.tmp");
    try (Writer w = Files.newBufferedWriter(tmp.toPath(), StandardCharsets.UTF_8)) {
      w.write(text);
    }
    Files.move(tmp.toPath(), new File(opts.dir, "cluster.env").toPath(),
        StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  // ------------------------------------------------------------------ stop

  /** Stops everything that was started, YARN first; never throws. */
  void stop() {
    // NodeManagers in parallel: each waits a few seconds for its applications' clean-up.
    List<Thread> stoppers = new ArrayList<>();
    for (int i = 0; i < nodeManagers.size(); i++) {
      NodeManager nm = nodeManagers.get(i);
      String what = "NodeManager " + (i + 1);
      Thread t = new Thread(() -> quietly(what, nm::stop), "stop-nm-" + (i + 1));
      t.start();
      stoppers.add(t);
    }
    for (Thread t : stoppers) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    nodeManagers.clear();
    if (resourceManager != null) {
      ResourceManager rm = resourceManager;
      quietly("ResourceManager", rm::stop);
      resourceManager = null;
    }
    for (int i = dataNodes.size() - 1; i >= 0; i--) {
      DataNode dn = dataNodes.get(i);
      quietly("DataNode " + (i + 1), dn::shutdown);
    }
    dataNodes.clear();
    if (nameNode != null) {
      NameNode nn = nameNode;
      quietly("NameNode", () -> {
        nn.stop();
        nn.join();
      });
      nameNode = null;
    }
    new File(opts.dir, "cluster.env").delete();
  }

  private interface Action {
    void run() throws Exception;
  }

  private static void quietly(String what, Action a) {
    long t0 = System.nanoTime();
    try {
      a.run();
      log("stopped %s (%.1f s)", what, secs(t0));
    } catch (Throwable t) {
      System.err.println("[minicluster] error stopping " + what + ": " + t);
    }
  }

  // ------------------------------------------------------------------ helpers

  private void waitFor(String what, BooleanSupplier cond) throws Exception {
    long deadline = System.nanoTime() + opts.timeoutSeconds * 1_000_000_000L;
    while (!cond.getAsBoolean()) {
      checkAborted();
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + opts.timeoutSeconds
            + " s waiting for " + what);
      }
      Thread.sleep(100);
    }
  }

  private String path(String rel) {
    return new File(dataDir, rel).getPath();
  }

  private String uri(String rel) {
    return new File(dataDir, rel).toURI().toString();
  }

  private static String mkdirs(File f) {
    if (!f.isDirectory() && !f.mkdirs()) {
      throw new IllegalStateException("cannot create directory " + f);
    }
    return f.getPath();
  }

  private static void deleteRecursively(java.nio.file.Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<java.nio.file.Path> walk = Files.walk(p)) {
      for (java.nio.file.Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }

  private static double secs(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void log(String fmt, Object... args) {
    System.err.println("[minicluster] " + String.format(fmt, args));
  }
}
