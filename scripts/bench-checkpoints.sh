#!/usr/bin/env bash
# Checkpoint overhead benchmark (issue 7): the keyed tumbling event-time window count of
# scripts/bench-windows.sh (`window_bench`, streaming, parallelism PARALLELISM) with checkpoints
# every INTERVAL to local disk, against the same job without checkpoints, alternating in the same
# run, RUNS rounds each.
#
#   scripts/bench-checkpoints.sh            (EVENTS=5000000 scripts/bench-checkpoints.sh: quick)
#
# Checks that both runs give the same results (count and checksum), then prints a Markdown
# summary: events/s of each (median), the ratio checkpointed/plain (target >= 0.9), the number of
# checkpoints completed, their median and largest duration and state size (from the job's log
# lines `checkpoint completed ms=… bytes=…`). KEYS sets the number of keys, which sets the state
# size (about KEYS x open windows entries). Exits non-zero if a build or run fails or results
# differ; the target is only reported (the machine may be noisy).
#
# Environment: EVENTS=20000000 KEYS=200000 RUNS=3 PARALLELISM=2 INTERVAL=1s EVENTS_PER_MS=1000
# SKIP_BUILD=1. For about 1 GB of keyed state: EVENTS=40000000 KEYS=20000000 EVENTS_PER_MS=20000
# RUNS=1 (about 25 million (key, window) entries in open windows).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVENTS="${EVENTS:-20000000}"
KEYS="${KEYS:-200000}"
RUNS="${RUNS:-3}"
PARALLELISM="${PARALLELISM:-2}"
EVENTS_PER_MS="${EVENTS_PER_MS:-1000}"
INTERVAL="${INTERVAL:-1s}"
die() { echo "bench-checkpoints: $*" >&2; exit 1; }
for v in EVENTS KEYS RUNS PARALLELISM EVENTS_PER_MS; do
  [[ "${!v}" =~ ^[0-9]+$ && "${!v}" -gt 0 ]] || die "$v must be a positive integer, not '${!v}'"
done
cd "$ROOT"
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --example window_bench >&2 || die "build failed"
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/window_bench"
[ -x "$BIN" ] || die "$BIN not found (build it, or unset SKIP_BUILD)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
plain=(); ckpt=(); results=""
for r in $(seq 1 "$RUNS"); do
  out=$(SPATE_DYNAMIC_PROPERTIES="" "$BIN" --events "$EVENTS" --keys "$KEYS" --events-per-ms "$EVENTS_PER_MS" -p "$PARALLELISM" 2>"$TMP/plain.log") \
    || die "plain run failed: $(tail -5 "$TMP/plain.log")"
  plain+=("$(field events_per_sec "$out")")
  want="$(field results "$out") $(field total "$out") $(field checksum "$out")"
  rm -rf "$TMP/ckpt"
  props=$(printf 'execution.checkpointing.interval=%s\nstate.checkpoints.dir=%s' "$INTERVAL" "$TMP/ckpt")
  out=$(SPATE_DYNAMIC_PROPERTIES="$props" RUST_LOG=info "$BIN" --events "$EVENTS" --keys "$KEYS" --events-per-ms "$EVENTS_PER_MS" -p "$PARALLELISM" 2>"$TMP/ckpt.log") \
    || die "checkpointed run failed: $(tail -5 "$TMP/ckpt.log")"
  ckpt+=("$(field events_per_sec "$out")")
  got="$(field results "$out") $(field total "$out") $(field checksum "$out")"
  [ "$want" = "$got" ] || die "results differ: plain $want, checkpointed $got"
  cat "$TMP/ckpt.log" >> "$TMP/all-ckpt.log"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=$(median "${plain[@]}"); c=$(median "${ckpt[@]}")
ratio=$(awk -v c="$c" -v p="$p" 'BEGIN {printf "%.2f", c / p}')
verdict=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.9) ? "PASS" : "MISS"}')
n=$(grep -c "checkpoint completed" "$TMP/all-ckpt.log" || true)
ms=$(grep "checkpoint completed" "$TMP/all-ckpt.log" | sed -n 's/.*ms=\([0-9]*\).*/\1/p' | sort -n)
bytes=$(grep "checkpoint completed" "$TMP/all-ckpt.log" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p' | sort -n)
med_ms=$( [ -n "$ms" ] && median $ms || echo -); max_ms=$( [ -n "$ms" ] && tail -1 <<<"$ms" || echo -)
max_bytes=$( [ -n "$bytes" ] && tail -1 <<<"$bytes" || echo 0)
echo "## Checkpoint overhead ($EVENTS events, $KEYS keys, parallelism $PARALLELISM, $RUNS rounds, interval $INTERVAL)"
echo
echo "| run | events/s (median) |"
echo "| --- | --- |"
echo "| no checkpoints | $p |"
echo "| checkpoints every $INTERVAL to local disk | $c |"
echo
echo "ratio checkpointed / plain: **$ratio** (target >= 0.9: $verdict); results identical"
echo "checkpoints completed: $n; duration median ${med_ms} ms, max ${max_ms} ms; largest state $((max_bytes / 1024)) KiB"
