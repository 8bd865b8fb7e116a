#!/usr/bin/env bash
# Stops the standalone cluster started by scripts/start-cluster.sh: every TaskManager, then the
# JobManager (SIGTERM, then SIGKILL after 10 s). Logs stay in $SPATE_CLUSTER_DIR/log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

stop_pid() {
  local f="$1"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    echo "stopped $(basename "$f" .pid) (pid $pid)"
  fi
  rm -f "$f"
}

shopt -s nullglob
for f in "$DIR"/pid/taskmanager-*.pid; do stop_pid "$f"; done
stop_pid "$DIR/pid/jobmanager.pid"
