#!/usr/bin/env bash
# Network benchmark: the throughput of Spate's data plane (crates/cluster, `net`) against a raw
# TCP copy of the same bytes, both over loopback in one process (crates/bench, `net-exchange`).
#
#   scripts/bench-network.sh [NET_EXCHANGE_ARGS ...]   e.g. --records 10000000 --credits 8
#
# 1. builds net-exchange (cargo build --release -p spate-bench --bin net-exchange);
# 2. runs it RUNS times. Each run prints
#      exchange: 2 producer threads -> 2 consumer channels (all-to-all) through two data planes:
#                100-byte records in batches of 1024, encoded and decoded like the engine's
#                (postcard of (Vec<String>, Vec<i64>)); records/s and MB/s of payload;
#      raw tcp:  the same bytes over 2 plain loopback connections (write_all / read_exact);
#      ratio:    exchange MB/s / raw tcp MB/s;
#      codec:    encoding + decoding alone on one thread, for reference (the exchange pays it,
#                the raw copy does not);
# 3. prints the median ratio over the runs.
#
# Exits non-zero if the build or a run fails (a run checks that every record arrived intact).
#
# Environment:
#   RUNS=3            runs of net-exchange
#   SKIP_BUILD=1      do not run cargo
#   RUN_TIMEOUT=600   seconds before a run is killed (and counted as failed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-600}"

die() { echo "bench-network: $*" >&2; exit 1; }

[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number, not '$RUNS'"

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== cargo build --release -p spate-bench --bin net-exchange" >&2
  cargo build --release -p spate-bench --bin net-exchange >&2 || die "build failed"
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release/net-exchange"
[[ -x "$BIN" ]] || die "missing executable $BIN (build failed?)"

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi
echo "== net-exchange $*: $RUNS run(s), commit $COMMIT, $(nproc) CPUs" >&2

RATIOS=()
for run in $(seq 1 "$RUNS"); do
  echo "-- run $run/$RUNS" >&2
  out="$(timeout "$RUN_TIMEOUT" "$BIN" "$@")" || die "run $run failed"
  echo "$out"
  ratio="$(sed -n 's/^ratio: //p' <<<"$out")"
  [[ -n "$ratio" ]] || die "run $run printed no ratio"
  RATIOS+=("$ratio")
done

printf '%s\n' "${RATIOS[@]}" | sort -n \
  | awk '{ r[NR] = $1 } END { printf "median ratio (exchange / raw tcp) over %d run(s): %s\n", NR, (NR % 2) ? r[(NR + 1) / 2] : sprintf("%.2f", (r[NR / 2] + r[NR / 2 + 1]) / 2) }'
