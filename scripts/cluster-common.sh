# Shared by start-cluster.sh, stop-cluster.sh and taskmanager.sh (sourced, not run).
#
# Environment:
#   SPATE_CLUSTER_DIR  state directory (default ${TMPDIR:-/tmp}/spate-cluster-$USER): log/, pid/,
#                      tm-*/ work directories, cluster.env
#   SPATE_BIN          the spate binary (default: target/release/spate, else target/debug/spate,
#                      else `spate` on PATH, else built with cargo build --release)
#   SPATE_RPC_PORT     JobManager RPC port (default 6123)
#   SPATE_REST_PORT    REST and dashboard port (default 8081)
#   SPATE_START_TIMEOUT seconds to wait for registration (default 60)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(realpath -m "${SPATE_CLUSTER_DIR:-${TMPDIR:-/tmp}/spate-cluster-${USER:-spate}}")"
RPC_PORT="${SPATE_RPC_PORT:-6123}"
REST_PORT="${SPATE_REST_PORT:-8081}"
TIMEOUT="${SPATE_START_TIMEOUT:-60}"

die() { echo "spate cluster: $*" >&2; exit 1; }

find_spate() {
  if [[ -n "${SPATE_BIN:-}" ]]; then
    [[ -x "$SPATE_BIN" ]] || die "SPATE_BIN=$SPATE_BIN is not executable"
    echo "$SPATE_BIN"; return
  fi
  local t="${CARGO_TARGET_DIR:-$ROOT/target}"
  for b in "$t/release/spate" "$t/debug/spate"; do
    if [[ -x "$b" ]]; then echo "$b"; return; fi
  done
  if command -v spate >/dev/null; then command -v spate; return; fi
  echo "spate cluster: building spate (cargo build --release -p spate-cli)" >&2
  (cd "$ROOT" && cargo build --release -q -p spate-cli) >&2 || die "cannot build spate"
  echo "$t/release/spate"
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

overview() { curl -sf --max-time 2 "http://127.0.0.1:$REST_PORT/overview" 2>/dev/null; }

registered_tms() {
  overview | sed -n 's/.*"taskmanagers":\([0-9]*\).*/\1/p'
}

# Starts one TaskManager with host identity $1 (and extra arguments); prints its pid file.
start_tm() {
  local host="$1"; shift
  local n=1
  while [[ -e "$DIR/pid/taskmanager-$n.pid" ]] && alive "$DIR/pid/taskmanager-$n.pid"; do n=$((n + 1)); done
  mkdir -p "$DIR/tm-$n" "$DIR/log" "$DIR/pid"
  nohup "$SPATE" taskmanager -m "127.0.0.1:$RPC_PORT" --host "$host" --work-dir "$DIR/tm-$n" "$@" \
    >"$DIR/log/taskmanager-$n.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid/taskmanager-$n.pid"
  echo "started TaskManager $n on $host (pid $!, log $DIR/log/taskmanager-$n.log)"
}

wait_tms() {
  local want="$1" deadline=$((SECONDS + TIMEOUT))
  while (( SECONDS < deadline )); do
    local got; got="$(registered_tms)"
    if [[ -n "$got" ]] && (( got >= want )); then return 0; fi
    sleep 0.2
  done
  die "only ${got:-0} of $want TaskManagers registered within ${TIMEOUT}s; see $DIR/log"
}
