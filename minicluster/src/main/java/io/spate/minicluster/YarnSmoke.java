package io.spate.minicluster;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configured;
import org.apache.hadoop.util.Tool;
import org.apache.hadoop.util.ToolRunner;
import org.apache.hadoop.yarn.api.records.ApplicationAttemptReport;
import org.apache.hadoop.yarn.api.records.ApplicationId;
import org.apache.hadoop.yarn.api.records.ApplicationReport;
import org.apache.hadoop.yarn.api.records.ApplicationSubmissionContext;
import org.apache.hadoop.yarn.api.records.ContainerLaunchContext;
import org.apache.hadoop.yarn.api.records.ContainerReport;
import org.apache.hadoop.yarn.api.records.Priority;
import org.apache.hadoop.yarn.api.records.Resource;
import org.apache.hadoop.yarn.api.records.ResourceRequest;
import org.apache.hadoop.yarn.api.records.YarnApplicationState;
import org.apache.hadoop.yarn.client.api.YarnClient;
import org.apache.hadoop.yarn.client.api.YarnClientApplication;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

/**
 * {@code scripts/hadoop-cli.sh yarn-smoke HOST...}: proves that YARN launches containers and
 * honours a container request for a named host. For each HOST it submits an application whose
 * ApplicationMaster container is asked for on that host only (relaxLocality=false above the node
 * level) and runs {@code echo; sleep}; it prints the node the container got and exits non-zero
 * when it is not HOST or the container did not run. The AM never registers, so YARN ends each
 * application as FAILED ("exited without unregistering"); that is expected here.
 */
public final class YarnSmoke extends Configured implements Tool {
  public static void main(String[] args) throws Exception {
    System.exit(ToolRunner.run(new YarnConfiguration(), new YarnSmoke(), args));
  }

  @Override
  public int run(String[] hosts) throws Exception {
    if (hosts.length == 0) {
      System.err.println("usage: yarn-smoke HOST...   (e.g. 127.0.0.2 127.0.0.3 127.0.0.4)");
      return 2;
    }
    YarnClient yc = YarnClient.createYarnClient();
    yc.init(new YarnConfiguration(getConf()));
    yc.start();
    int failures = 0;
    try {
      for (String host : hosts) {
        if (!runOn(yc, host)) {
          failures++;
        }
      }
    } finally {
      yc.stop();
    }
    System.out.println(failures == 0 ? "yarn-smoke: OK" : "yarn-smoke: " + failures + " failed");
    return failures == 0 ? 0 : 1;
  }

  private boolean runOn(YarnClient yc, String host) throws Exception {
    long t0 = System.nanoTime();
    YarnClientApplication app = yc.createApplication();
    ApplicationSubmissionContext ctx = app.getApplicationSubmissionContext();
    ApplicationId id = ctx.getApplicationId();
    ctx.setApplicationName("spate-minicluster-smoke-" + host);
    ctx.setApplicationType("SMOKE");
    ctx.setMaxAppAttempts(1);
    ctx.setQueue("default");
    Resource res = Resource.newInstance(128, 1);
    Priority prio = Priority.newInstance(0);
    List<ResourceRequest> asks = new ArrayList<>();
    asks.add(ResourceRequest.newInstance(prio, host, res, 1, true));
    asks.add(ResourceRequest.newInstance(prio, "/default-rack", res, 1, false));
    asks.add(ResourceRequest.newInstance(prio, ResourceRequest.ANY, res, 1, false));
    ctx.setAMContainerResourceRequests(asks);
    // The NodeManager runs the command with bash -c in its launch script.
    String cmd = "echo container $CONTAINER_ID on NM_HOST=$NM_HOST"
        + " HADOOP_CONF_DIR=$HADOOP_CONF_DIR 1><LOG_DIR>/stdout"
        + " 2><LOG_DIR>/stderr; sleep 4";
    ContainerLaunchContext clc = ContainerLaunchContext.newInstance(Collections.emptyMap(),
        Map.of(), List.of(cmd), null, null, null);
    ctx.setAMContainerSpec(clc);
    yc.submitApplication(ctx);

    String node = null;
    ApplicationReport r = yc.getApplicationReport(id);
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      r = yc.getApplicationReport(id);
      if (node == null && r.getCurrentApplicationAttemptId() != null) {
        ApplicationAttemptReport a = yc.getApplicationAttemptReport(
            r.getCurrentApplicationAttemptId());
        if (a.getAMContainerId() != null) {
          try {
            ContainerReport c = yc.getContainerReport(a.getAMContainerId());
            node = c.getAssignedNode().toString();
          } catch (Exception e) {
            // not yet known to the RM
          }
        }
      }
      YarnApplicationState s = r.getYarnApplicationState();
      if (s == YarnApplicationState.FINISHED || s == YarnApplicationState.FAILED
          || s == YarnApplicationState.KILLED) {
        break;
      }
      Thread.sleep(200);
    }
    String diag = String.valueOf(r.getDiagnostics()).replace('\n', ' ');
    boolean ran = diag.contains("exitCode: 0") || diag.contains("exit code 0")
        || r.getYarnApplicationState() == YarnApplicationState.FINISHED;
    boolean placed = node != null && node.startsWith(host + ":");
    System.out.printf("%s: asked for %s, AM container ran on %s, state %s, %s (%.1f s)%n", id,
        host, node, r.getYarnApplicationState(), ran ? "exit code 0" : "diagnostics: " + diag,
        (System.nanoTime() - t0) / 1e9);
    return placed && ran;
  }
}
