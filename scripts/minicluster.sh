#!/usr/bin/env bash
# A real Apache Hadoop (HDFS: 1 NameNode + 3 DataNodes, YARN: 1 ResourceManager + 3 NodeManagers)
# in one background JVM, for Spate's tests and demos. See minicluster/README.md.
#
#   scripts/minicluster.sh start [Main options]  start in the background, wait until ready (180 s),
#                                               print `export HADOOP_CONF_DIR=...`
#   scripts/minicluster.sh stop                 stop it (SIGTERM, clean shutdown), remove its data
#   scripts/minicluster.sh status               running (exit 0) / stopped (exit 1), and the conf dir
#   scripts/minicluster.sh env                  print `export HADOOP_CONF_DIR=...` if running
#   scripts/minicluster.sh run [Main options]   run in the foreground (stdin EOF or SIGTERM stops it);
#                                               for test fixtures: wait for the line
#                                               `MINICLUSTER READY` on stdout, close stdin to stop
#   scripts/minicluster.sh build                build minicluster/ if its sources changed
#   scripts/minicluster.sh fetch                resolve every Maven dependency now (for offline use)
#
# Environment:
#   SPATE_MINICLUSTER_DIR        state directory (default /tmp/spate-minicluster): conf/, data/,
#                                logs/, cluster.env, minicluster.pid
#   SPATE_MINICLUSTER_TIMEOUT    start-up timeout in seconds (default 180)
#   SPATE_MINICLUSTER_JAVA_OPTS  extra JVM options (default -Xms256m -Xmx1536m)
#   SPATE_MVN_FLAGS              extra Maven flags for the build (e.g. -o for offline)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/minicluster"
JAR="$MODULE/target/spate-minicluster-0.1.0.jar"
LIB="$MODULE/target/lib"
DIR="$(realpath -m "${SPATE_MINICLUSTER_DIR:-/tmp/spate-minicluster}")"
TIMEOUT="${SPATE_MINICLUSTER_TIMEOUT:-180}"
JAVA_OPTS="${SPATE_MINICLUSTER_JAVA_OPTS:--Xms256m -Xmx1536m}"
MAIN=io.spate.minicluster.Main
PIDFILE="$DIR/minicluster.pid"
LOG="$DIR/logs/minicluster.log"

die() { echo "minicluster: $*" >&2; exit 1; }

need_tools() {
  command -v java >/dev/null || die "java not found (Java 17 is needed)"
  command -v mvn >/dev/null || die "mvn not found (Maven 3 is needed to build minicluster/)"
}

# True when the jar or its dependency directory is missing or older than the module's sources.
needs_build() {
  [[ -f "$JAR" && -d "$LIB" && -f "$MODULE/target/lib.complete" ]] || return 0
  [[ -n "$(find "$MODULE/pom.xml" "$MODULE/src" "$MODULE/jvm.args" -newer "$JAR" -print -quit)" ]]
}

build() {
  need_tools
  echo "minicluster: building $MODULE (mvn package)" >&2
  # copy-dependencies only adds jars: when the pom changed, drop those of versions no longer used.
  if [[ ! -f "$MODULE/target/lib.complete" || "$MODULE/pom.xml" -nt "$MODULE/target/lib.complete" ]]; then
    rm -rf "$LIB"
  fi
  rm -f "$MODULE/target/lib.complete"
  local out
  out="$(mktemp)"
  # shellcheck disable=SC2086
  if ! mvn -B -q -Dstyle.color=never ${SPATE_MVN_FLAGS:-} -f "$MODULE/pom.xml" package >"$out" 2>&1; then
    tail -n 40 "$out" >&2
    rm -f "$out"
    die "Maven build of $MODULE failed (offline? run 'scripts/minicluster.sh fetch' once with network)"
  fi
  rm -f "$out"
  touch "$MODULE/target/lib.complete"
}

build_if_needed() {
  if needs_build; then build; fi
}

java_cmd() {
  # shellcheck disable=SC2206
  local opts=($JAVA_OPTS)
  JAVA_CMD=(java "@$MODULE/jvm.args" "${opts[@]}" -cp "$JAR:$LIB/*" "$MAIN")
}

# Prints the pid when the minicluster JVM recorded in the pid file is alive.
running_pid() {
  [[ -f "$PIDFILE" ]] || return 1
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: it must be our Main with our --dir.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$MAIN --dir $DIR " || return 1
  echo "$pid"
}

log_tail() {
  echo "---- last 40 lines of $LOG ----" >&2
  tail -n 40 "$LOG" >&2 2>/dev/null || true
  echo "---- (Hadoop's full log: $DIR/logs/hadoop.log) ----" >&2
}

cmd_start() {
  local pid
  if pid="$(running_pid)"; then
    echo "minicluster: already running (pid $pid)"
    echo "export HADOOP_CONF_DIR=$DIR/conf"
    return 0
  fi
  build_if_needed
    mkdir -p "$DIR/logs"
  rm -f "$PIDFILE" "$DIR/cluster.env"
  # Empty the log now: the background redirection below may truncate it only after the wait loop
  # has already read a ready line left by an earlier run.
  : >"$LOG"
  java_cmd
  local t0=$SECONDS
  # Own session (no terminal signals), stdin from /dev/null (so --no-stdin), SIGTERM stops it.
  # Containers started by the NodeManagers find the cluster through HADOOP_CONF_DIR.
  HADOOP_CONF_DIR="$DIR/conf" nohup setsid "${JAVA_CMD[@]}" --dir "$DIR" --no-stdin "$@" \
    >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  while true; do
    if grep -q '^MINICLUSTER READY' "$LOG" 2>/dev/null; then
      break
    fi
    if grep -q '^MINICLUSTER FAILED' "$LOG" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; then
      log_tail
      wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      if grep -q 'BindException' "$LOG" 2>/dev/null; then
        echo "minicluster: a port is taken (another Hadoop or minicluster?): stop it, or pass" \
          "--ephemeral-ports / --nn-port P / --rm-port P ... to start" >&2
      fi
      die "start-up failed: $(grep -m1 '^MINICLUSTER FAILED' "$LOG" 2>/dev/null || echo 'the JVM exited')"
    fi
    if ((SECONDS - t0 >= TIMEOUT)); then
      log_tail
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      die "not ready after ${TIMEOUT} s (see the log above)"
    fi
    sleep 0.2
  done
  echo "minicluster: running (pid $pid), ready in $((SECONDS - t0)) s; logs in $DIR/logs"
  grep -E '^\[minicluster\] (HDFS|YARN) ready' "$LOG" | sed 's/^\[minicluster\]/minicluster:/' || true
  echo "export HADOOP_CONF_DIR=$DIR/conf"
}

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
  local pid=$1 limit=$2 i
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

remove_state() {
  rm -rf "$DIR/data" "$DIR/conf" "$DIR/conf.tmp" "$DIR/cluster.env" "$DIR/cluster.env.tmp"
  rm -f "$PIDFILE"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "minicluster: not running"
    remove_state
    return 0
  fi
  local t0=$SECONDS
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_gone "$pid" 120; then
    echo "minicluster: pid $pid did not exit within 120 s of SIGTERM, killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || die "pid $pid survived SIGKILL"
  fi
  remove_state
  echo "minicluster: stopped (pid $pid) in $((SECONDS - t0)) s; data removed, logs kept in $DIR/logs"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if [[ -f "$DIR/cluster.env" ]]; then
      echo "minicluster: running (pid $pid)"
      echo "HADOOP_CONF_DIR=$DIR/conf"
      sed -n 's/^SPATE_MC_\(FS_DEFAULT\|RM_ADDRESS\|RM_WEBAPP\|NAMENODE_HTTP\|NODEMANAGERS\|DATANODES\)=/  \1=/p' \
        "$DIR/cluster.env"
    else
      echo "minicluster: running (pid $pid), not ready yet"
    fi
    return 0
  fi
  echo "minicluster: stopped"
  return 1
}

cmd_env() {
  running_pid >/dev/null || die "not running (scripts/minicluster.sh start)"
  echo "export HADOOP_CONF_DIR=$DIR/conf"
}

cmd_run() {
  build_if_needed
  java_cmd
  mkdir -p "$DIR"
  export HADOOP_CONF_DIR="$DIR/conf"
  exec "${JAVA_CMD[@]}" --dir "$DIR" "$@"
}

cmd_fetch() {
  need_tools
  build
  echo "minicluster: dependencies resolved into ${MAVEN_REPO:-$HOME/.m2/repository}; built $JAR"
  echo "minicluster: later builds work offline (SPATE_MVN_FLAGS=-o to forbid network access)"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  run) shift; cmd_run "$@" ;;
  build) build_if_needed; echo "minicluster: $JAR is up to date" ;;
  fetch) cmd_fetch ;;
  *)
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
