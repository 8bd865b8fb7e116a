#!/usr/bin/env bash
# Word count on a 2-TaskManager standalone cluster against the same job embedded, in the same run.
#
#   scripts/bench-cluster.sh [SIZE_MB]            (default 128)
#
# Builds release binaries, generates a corpus (gen-corpus, seed 42), starts a cluster of one
# JobManager and two TaskManagers (1 slot each, so that the shuffle crosses the network) on private
# ports, then alternates RUNS rounds of: the embedded job (`wordcount -p 2`) and the same job
# submitted with `spate run -m` (its time includes submission: uploading the job binary, starting
# the coordinator and workers). Checks that both outputs agree, prints median wall times, MB/s and
# the ratio cluster/embedded, and stops the cluster.
#
# Environment: RUNS=3, SPATE_BENCH_DIR (corpus cache, default ${TMPDIR:-/tmp}/spate-bench),
# SKIP_BUILD=1, SPATE_RPC_PORT=26123, SPATE_REST_PORT=28081.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE="${1:-128}"
RUNS="${RUNS:-3}"
CORPUS_DIR="${SPATE_BENCH_DIR:-${TMPDIR:-/tmp}/spate-bench}"
export SPATE_RPC_PORT="${SPATE_RPC_PORT:-26123}" SPATE_REST_PORT="${SPATE_REST_PORT:-28081}"
[[ "$SIZE" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SIZE_MB]" >&2; exit 1; }
T="${CARGO_TARGET_DIR:-$ROOT/target}"

if [[ -z "${SKIP_BUILD:-}" ]]; then
  (cd "$ROOT" && cargo build --release -q -p spate-cli -p spate-bench -p spate-examples --bins --examples) >&2
fi
mkdir -p "$CORPUS_DIR"
CORPUS="$CORPUS_DIR/corpus-${SIZE}mb-seed42-v50000.txt"
[[ -f "$CORPUS" ]] || "$T/release/gen-corpus" --size-mb "$SIZE" --seed 42 --vocabulary 50000 --output "$CORPUS" >&2

WORK="$(mktemp -d)"
export SPATE_CLUSTER_DIR="$WORK/cluster" SPATE_BIN="$T/release/spate"
cleanup() { "$ROOT/scripts/stop-cluster.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
"$ROOT/scripts/start-cluster.sh" -n 2 --slots 1 \
  -D "security.cluster.secret-file=$WORK/secret" -D execution.progress.interval=0 >&2

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
EMB=(); CLU=()
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$WORK/emb" "$WORK/clu"
  s=$(now); RUST_LOG=warn "$T/release/examples/wordcount" --input "$CORPUS" --output "$WORK/emb" -p 2 >/dev/null 2>&1; e=$(now)
  EMB+=("$(echo "$e - $s" | bc -l)")
  s=$(now)
  RUST_LOG=warn "$SPATE_BIN" run -m "127.0.0.1:$SPATE_RPC_PORT" -D "security.cluster.secret-file=$WORK/secret" -p 2 \
    "$T/release/examples/wordcount" --input "$CORPUS" --output "$WORK/clu" >/dev/null 2>"$WORK/run.err" \
    || { cat "$WORK/run.err" >&2; exit 1; }
  e=$(now)
  CLU+=("$(echo "$e - $s" | bc -l)")
  cmp <(cat "$WORK"/emb/part-* | sort) <(cat "$WORK"/clu/part-* | sort) >/dev/null \
    || { echo "bench-cluster: outputs differ" >&2; exit 1; }
  echo "round $((r + 1)): embedded ${EMB[-1]} s, cluster ${CLU[-1]} s" >&2
done
me=$(printf '%s\n' "${EMB[@]}" | median); mc=$(printf '%s\n' "${CLU[@]}" | median)
echo "| run | median s | MB/s |"
echo "| --- | ---: | ---: |"
printf '| embedded (p=2, one process) | %.2f | %.0f |\n' "$me" "$(echo "$SIZE / $me" | bc -l)"
printf '| cluster (2 TaskManagers x 1 slot, incl. submission) | %.2f | %.0f |\n' "$mc" "$(echo "$SIZE / $mc" | bc -l)"
printf 'ratio cluster/embedded: %.2f (outputs identical)\n' "$(echo "$mc / $me" | bc -l)"
