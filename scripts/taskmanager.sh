#!/usr/bin/env bash
# Adds or removes TaskManagers of the running standalone cluster (like Flink's bin/taskmanager.sh).
#
#   scripts/taskmanager.sh start [--host H] [--slots S] [-D key=value ...]
#                                 start one more TaskManager; returns once it registered
#   scripts/taskmanager.sh stop   stop the most recently started TaskManager
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

cmd="${1:-}"; shift || true
case "$cmd" in
  start)
    HOST=127.0.0.1; SLOTS=2; PROPS=()
    while (( $# )); do
      case "$1" in
        --host) HOST="$2"; shift 2 ;;
        --slots) SLOTS="$2"; shift 2 ;;
        -D) PROPS+=(-D "$2"); shift 2 ;;
        -D*) PROPS+=("$1"); shift ;;
        *) die "unknown option '$1'" ;;
      esac
    done
    alive "$DIR/pid/jobmanager.pid" || die "no cluster is running from $DIR (start it with scripts/start-cluster.sh)"
    SPATE="$(find_spate)"
    before="$(registered_tms)"
    start_tm "$HOST" --slots "$SLOTS" ${PROPS[@]+"${PROPS[@]}"}
    wait_tms "$(( ${before:-0} + 1 ))"
    ;;
  stop)
    shopt -s nullglob
    last=""
    for f in "$DIR"/pid/taskmanager-*.pid; do last="$f"; done
    [[ -n "$last" ]] || die "no TaskManager is running"
    pid="$(cat "$last")"
    kill "$pid" 2>/dev/null || true
    rm -f "$last"
    echo "stopped TaskManager (pid $pid)"
    ;;
  *) sed -n '2,7p' "$0"; exit 1 ;;
esac
