#!/usr/bin/env bash
# Hadoop's own command-line clients, from the same Maven artifacts as minicluster/ (Hadoop 3.5.0),
# without a Hadoop installation. Generic options (-D key=value, -conf, -fs, ...) work as usual.
#
#   scripts/hadoop-cli.sh fs <args>           = hdfs dfs <args>      (org.apache.hadoop.fs.FsShell)
#   scripts/hadoop-cli.sh fsck <args>         = hdfs fsck <args>     (org.apache.hadoop.hdfs.tools.DFSck)
#   scripts/hadoop-cli.sh dfsadmin <args>     = hdfs dfsadmin <args> (org.apache.hadoop.hdfs.tools.DFSAdmin)
#   scripts/hadoop-cli.sh blocks <path>...    block offsets/lengths/hosts as the Java client sees them
#                                             (FileSystem.getFileBlockLocations)
#   scripts/hadoop-cli.sh application <args>  = yarn application <args> (ApplicationCLI)
#   scripts/hadoop-cli.sh applicationattempt|container <args>  (ApplicationCLI, as yarn does)
#   scripts/hadoop-cli.sh node <args>         = yarn node <args>     (NodeCLI)
#   scripts/hadoop-cli.sh queue <args>        = yarn queue <args>    (QueueCLI)
#   scripts/hadoop-cli.sh logs <args>         = yarn logs <args>     (LogsCLI)
#   scripts/hadoop-cli.sh yarn-smoke <host>...  run one container on each named host, check placement
#   scripts/hadoop-cli.sh class <FQCN> <args> any main class on the Hadoop classpath
#
# HADOOP_CONF_DIR comes from the environment, else from the running minicluster
# (${SPATE_MINICLUSTER_DIR:-/tmp/spate-minicluster}/conf). Extra JVM options: HADOOP_CLI_JAVA_OPTS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="$ROOT/minicluster"
JAR="$MODULE/target/spate-minicluster-0.1.0.jar"
LIB="$MODULE/target/lib"
DIR="${SPATE_MINICLUSTER_DIR:-/tmp/spate-minicluster}"

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[[ $# -ge 1 ]] || usage
sub="$1"
shift
prefix=()
case "$sub" in
  fs | dfs) class=org.apache.hadoop.fs.FsShell ;;
  fsck) class=org.apache.hadoop.hdfs.tools.DFSck ;;
  dfsadmin) class=org.apache.hadoop.hdfs.tools.DFSAdmin ;;
  blocks) class=io.spate.minicluster.BlockLocations ;;
  application | applicationattempt | container)
    # Like bin/yarn: ApplicationCLI takes the sub-command as its first argument.
    class=org.apache.hadoop.yarn.client.cli.ApplicationCLI
    prefix=("$sub")
    ;;
  node) class=org.apache.hadoop.yarn.client.cli.NodeCLI ;;
  queue) class=org.apache.hadoop.yarn.client.cli.QueueCLI ;;
  logs) class=org.apache.hadoop.yarn.client.cli.LogsCLI ;;
  yarn-smoke) class=io.spate.minicluster.YarnSmoke ;;
  class)
    [[ $# -ge 1 ]] || usage
    class="$1"
    shift
    ;;
  -h | --help | help) usage ;;
  *) echo "hadoop-cli: unknown sub-command '$sub'" >&2; usage ;;
esac

if [[ -z "${HADOOP_CONF_DIR:-}" ]]; then
  if [[ -f "$DIR/conf/core-site.xml" ]]; then
    HADOOP_CONF_DIR="$DIR/conf"
  else
    echo "hadoop-cli: HADOOP_CONF_DIR is not set and no minicluster is running" \
      "(no $DIR/conf); run: scripts/minicluster.sh start" >&2
    exit 1
  fi
fi
[[ -d "$HADOOP_CONF_DIR" ]] || { echo "hadoop-cli: HADOOP_CONF_DIR=$HADOOP_CONF_DIR is not a directory" >&2; exit 1; }
export HADOOP_CONF_DIR

# Same jars as the minicluster. Built only when missing: rebuilding under a running minicluster
# would rewrite jars that its JVM has open (scripts/minicluster.sh start rebuilds when stale).
if [[ ! -f "$JAR" || ! -f "$MODULE/target/lib.complete" ]]; then
  "$ROOT/scripts/minicluster.sh" build >/dev/null
fi

# Short-lived client JVMs: C1 only and a small heap start noticeably faster.
# shellcheck disable=SC2206
opts=(${HADOOP_CLI_JAVA_OPTS:--Xmx512m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC})
exec java "@$MODULE/jvm.args" "${opts[@]}" \
  -Dlog4j.configuration=log4j-cli.properties \
  -Dhadoop.log.dir="${TMPDIR:-/tmp}" \
  -cp "$HADOOP_CONF_DIR:$JAR:$LIB/*" \
  "$class" "${prefix[@]}" "$@"
