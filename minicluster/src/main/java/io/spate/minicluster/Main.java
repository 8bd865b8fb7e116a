package io.spate.minicluster;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Entry point: starts a {@link Cluster}, announces readiness on stdout, and stops it when stdin
 * reaches EOF or the JVM gets SIGTERM.
 *
 * <p>Protocol on stdout (progress and Hadoop's own logging go to stderr / DIR/logs):
 * <pre>
 *   MINICLUSTER READY
 *   export HADOOP_CONF_DIR=DIR/conf
 *   ...                                  (while running: nothing more)
 *   MINICLUSTER STOPPED                  (after a clean stop)
 * </pre>
 * or {@code MINICLUSTER FAILED: reason} and exit status 1 when start-up fails.
 *
 * <p>No static logger here on purpose: the log directory system property must be set before
 * log4j initialises.
 */
public final class Main {
  private static final int SHUTDOWN_HOOK_PRIORITY = 100; // above FileSystem's cache hook (10)
  private static final AtomicBoolean STOPPED = new AtomicBoolean(false);
  private static final CountDownLatch DONE = new CountDownLatch(1);
  private static volatile boolean ready;

  private Main() {}

  public static void main(String[] args) throws Exception {
    Options opts;
    try {
      opts = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    File logDir = new File(opts.dir, "logs");
    if (!logDir.isDirectory() && !logDir.mkdirs()) {
      System.out.println("MINICLUSTER FAILED: cannot create " + logDir);
      System.exit(1);
    }
    setIfAbsent("spate.minicluster.log.dir", logDir.getPath());
    setIfAbsent("hadoop.log.dir", logDir.getPath());

    Cluster cluster = new Cluster(opts);
    // SIGTERM / SIGINT stop the cluster from an ordinary thread, then exit: inside a JVM shutdown
    // hook DataNodes cannot shut down cleanly (they remove hooks of their own). The shutdown hook
    // stays as a fallback for any other exit.
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        sun.misc.Signal.handle(new sun.misc.Signal(name), sig -> {
          Thread t = new Thread(() -> onSignal(cluster, "SIG" + name), "signal-" + name);
          t.start();
        });
      } catch (IllegalArgumentException e) {
        System.err.println("[minicluster] cannot handle SIG" + name + ": " + e.getMessage());
      }
    }
    org.apache.hadoop.util.ShutdownHookManager.get().addShutdownHook(
        () -> stop(cluster, "JVM shutdown"), SHUTDOWN_HOOK_PRIORITY, 120, TimeUnit.SECONDS);

    try {
      cluster.start();
    } catch (Throwable t) {
      System.err.println("[minicluster] start-up failed:");
      t.printStackTrace();
      System.out.println("MINICLUSTER FAILED: " + oneLine(t));
      System.out.flush();
      stop(cluster, "start-up failure");
      System.exit(1);
    }
    ready = true;
    if (cluster.isAborted()) {
      // a signal arrived while the last start-up step finished
      stop(cluster, "signal during start-up");
      System.exit(0);
    }

    System.out.println("MINICLUSTER READY");
    System.out.println("export HADOOP_CONF_DIR=" + cluster.confDir().getPath());
    System.out.flush();

    if (opts.watchStdin) {
      Thread watcher = new Thread(() -> {
        watchStdin();
        stop(cluster, "standard input closed");
        System.exit(0);
      }, "stdin-watcher");
      watcher.setDaemon(true);
      watcher.start();
    }
    DONE.await();
  }

  private static void onSignal(Cluster cluster, String name) {
    cluster.abort(); // makes a start-up in progress fail fast; it then stops and exits 1
    if (ready) {
      stop(cluster, name);
      System.exit(0);
    }
  }

  /** Returns when stdin reaches EOF (or fails); any input before that is ignored. */
  private static void watchStdin() {
    byte[] buf = new byte[256];
    try {
      InputStream in = System.in;
      while (in.read(buf) >= 0) {
        // keep reading until EOF
      }
    } catch (IOException e) {
      // treat as closed
    }
  }

  /** Stops the cluster once; a concurrent caller waits until that stop has finished. */
  private static void stop(Cluster cluster, String why) {
    if (!STOPPED.compareAndSet(false, true)) {
      try {
        DONE.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return;
    }
    System.err.println("[minicluster] stopping: " + why);
    // Watchdog: never hang forever on a stuck daemon.
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(90_000);
        System.err.println("[minicluster] shutdown took longer than 90 s, halting");
        Runtime.getRuntime().halt(3);
      } catch (InterruptedException e) {
        // stopped in time
      }
    }, "shutdown-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    long t0 = System.nanoTime();
    cluster.stop();
    watchdog.interrupt();
    System.err.printf("[minicluster] stopped in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    System.out.println("MINICLUSTER STOPPED");
    System.out.flush();
    DONE.countDown();
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  private static String oneLine(Throwable t) {
    StringBuilder sb = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (sb.length() > 0) {
        sb.append(" <- ");
      }
      sb.append(c.getClass().getName()).append(": ").append(c.getMessage());
      if (c.getCause() == c) {
        break;
      }
    }
    return sb.toString().replace('\n', ' ');
  }
}
