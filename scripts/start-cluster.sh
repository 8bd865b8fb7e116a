#!/usr/bin/env bash
# Starts a standalone Spate cluster on this machine: one JobManager and N TaskManagers, and
# returns once all TaskManagers have registered.
#
#   scripts/start-cluster.sh [-n N] [--hosts H1,H2,...] [--slots S] [-D key=value ...]
#
#   -n N          number of TaskManagers (default 2)
#   --hosts LIST  one TaskManager per host identity (e.g. 127.0.0.2,127.0.0.3,127.0.0.4 to sit
#                 next to the minicluster's DataNodes); overrides -n
#   --slots S     task slots per TaskManager (default 2)
#   -D key=value  configuration for the JobManager and every TaskManager (repeatable)
#
# Logs and pids go to $SPATE_CLUSTER_DIR (default ${TMPDIR:-/tmp}/spate-cluster-$USER); see
# scripts/cluster-common.sh for the other environment variables. Stop with scripts/stop-cluster.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

N=2; HOSTS=""; SLOTS=2; PROPS=()
while (( $# )); do
  case "$1" in
    -n) N="$2"; shift 2 ;;
    --hosts) HOSTS="$2"; shift 2 ;;
    --slots) SLOTS="$2"; shift 2 ;;
    -D) PROPS+=(-D "$2"); shift 2 ;;
    -D*) PROPS+=("$1"); shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$N" =~ ^[0-9]+$ ]] || die "-n needs a number"
[[ "$SLOTS" =~ ^[1-9][0-9]*$ ]] || die "--slots needs a positive number"

SPATE="$(find_spate)"
mkdir -p "$DIR/log" "$DIR/pid"
if alive "$DIR/pid/jobmanager.pid"; then
  die "a cluster is already running from $DIR (pid $(cat "$DIR/pid/jobmanager.pid")); stop it with scripts/stop-cluster.sh"
fi
rm -f "$DIR"/pid/*.pid

nohup "$SPATE" jobmanager --rpc-port "$RPC_PORT" --rest-port "$REST_PORT" ${PROPS[@]+"${PROPS[@]}"} \
  >"$DIR/log/jobmanager.log" 2>&1 </dev/null &
echo $! >"$DIR/pid/jobmanager.pid"
echo "started JobManager (pid $!, log $DIR/log/jobmanager.log)"
deadline=$((SECONDS + TIMEOUT))
until overview >/dev/null; do
  alive "$DIR/pid/jobmanager.pid" || { tail -n 20 "$DIR/log/jobmanager.log" >&2; die "the JobManager exited"; }
  (( SECONDS < deadline )) || die "the JobManager did not answer on port $REST_PORT within ${TIMEOUT}s"
  sleep 0.1
done

if [[ -n "$HOSTS" ]]; then
  IFS=',' read -r -a LIST <<<"$HOSTS"
else
  LIST=(); for ((i = 0; i < N; i++)); do LIST+=(127.0.0.1); done
fi
for h in ${LIST[@]+"${LIST[@]}"}; do
  start_tm "$h" --slots "$SLOTS" ${PROPS[@]+"${PROPS[@]}"}
done
wait_tms "${#LIST[@]}"
cat >"$DIR/cluster.env" <<ENV
SPATE_JOBMANAGER=127.0.0.1:$RPC_PORT
SPATE_REST=http://127.0.0.1:$REST_PORT
ENV
echo "cluster ready: ${#LIST[@]} TaskManagers; submit with: $SPATE run -m 127.0.0.1:$RPC_PORT ./job; dashboard: http://127.0.0.1:$REST_PORT/"
