#!/usr/bin/env bash
# Word count benchmark: Spate's word count example against the hand-written single-threaded
# baseline (crates/bench, `wc-baseline`), on synthetic corpora (`gen-corpus`).
#
#   scripts/bench-wordcount.sh [SIZE_MB ...]        (default: 64 256)
#
# 1. builds the wordcount example and the bench binaries (cargo build --release);
# 2. generates the corpora (seed 42, vocabulary 50,000) unless they are already there;
# 3. on the first size: RUNS rounds (after a warm-up round) of the engine
#    (`wordcount --input F --output D --parallelism 2`) and the baseline, alternating, each run
#    measured: wall time, CPU time, peak RSS (GNU time; harness: scripts/bench/wordcount.py);
# 4. checks every engine output (all part-* files, sorted) against the baseline's (sorted);
# 5. on every other size: the baseline once (reference) and the engine MEM_RUNS times, for the
#    engine's peak RSS per size;
# 6. prints a Markdown summary on stdout (progress goes to stderr): median wall times, the ratio
#    engine/baseline (target <= 1.5), MB/s, peak RSS, and RSS(largest)/RSS(smallest) (target <= 1.2).
#
# Exits non-zero if a build or run fails or if outputs differ. Performance targets are only
# reported (PASS/MISS): the machine may be noisy.
#
# Environment:
#   RUNS=5            timed rounds on the first size
#   WARMUP=1          untimed rounds before them
#   MEM_RUNS=3        engine runs on each further size (the RSS is their median)
#   PARALLELISM=2     --parallelism for the engine
#   SEED=42 VOCABULARY=50000   corpus parameters
#   SPATE_BENCH_DIR   where corpora are kept and reused (default ${TMPDIR:-/tmp}/spate-bench)
#   ENGINE_BIN        engine binary (default <target>/release/examples/wordcount); when set, only
#                     spate-bench is built. E.g. ENGINE_BIN=target/release/wc-baseline (it accepts
#                     and ignores --parallelism) tests this script with the baseline standing in
#                     for the engine.
#   SKIP_BUILD=1      do not run cargo
#   RUN_TIMEOUT=900   seconds before a run is killed (and counted as failed)
#   TIME_BIN=/usr/bin/time   GNU time (measures the peak RSS)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-5}"
WARMUP="${WARMUP:-1}"
MEM_RUNS="${MEM_RUNS:-3}"
PARALLELISM="${PARALLELISM:-2}"
SEED="${SEED:-42}"
VOCABULARY="${VOCABULARY:-50000}"
CORPUS_DIR="${SPATE_BENCH_DIR:-${TMPDIR:-/tmp}/spate-bench}"
RUN_TIMEOUT="${RUN_TIMEOUT:-900}"
TIME_BIN="${TIME_BIN:-/usr/bin/time}"

die() { echo "bench-wordcount: $*" >&2; exit 1; }

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(64 256)
for s in "${SIZES[@]}" "$RUNS" "$MEM_RUNS" "$PARALLELISM" "$WARMUP"; do
  [[ "$s" =~ ^[0-9]+$ ]] || die "not a number: '$s' (usage: $0 [SIZE_MB ...])"
done
for s in "${SIZES[@]}"; do [[ "$s" -gt 0 ]] || die "sizes must be at least 1 MiB"; done

ENGINE_LABEL="${ENGINE_BIN:-target/release/examples/wordcount}"
# A relative ENGINE_BIN is relative to where the script is called from.
if [[ -n "${ENGINE_BIN:-}" && "$ENGINE_BIN" != /* ]]; then ENGINE_BIN="$PWD/$ENGINE_BIN"; fi

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  if [[ -z "${ENGINE_BIN:-}" ]]; then
    echo "== cargo build --release -p spate-examples -p spate-bench --examples --bins" >&2
    cargo build --release -p spate-examples -p spate-bench --examples --bins >&2 \
      || die "build failed"
  else
    echo "== cargo build --release -p spate-bench --bins (ENGINE_BIN is set)" >&2
    cargo build --release -p spate-bench --bins >&2 || die "build failed"
  fi
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release"
ENGINE="${ENGINE_BIN:-$BIN/examples/wordcount}"
BASELINE="$BIN/wc-baseline"
GEN="$BIN/gen-corpus"
for b in "$ENGINE" "$BASELINE" "$GEN" "$TIME_BIN"; do
  [[ -x "$b" ]] || die "missing executable $b (build failed or ENGINE_BIN is wrong?)"
done

mkdir -p "$CORPUS_DIR"
CORPORA=()
for size in "${SIZES[@]}"; do
  file="$CORPUS_DIR/corpus-${size}mb-seed${SEED}-v${VOCABULARY}.txt"
  if [[ ! -s "$file" ]]; then
    echo "== generating $file" >&2
    "$GEN" --output "$file.partial" --size-mb "$size" --seed "$SEED" --vocabulary "$VOCABULARY"
    mv "$file.partial" "$file"
  else
    echo "== reusing $file" >&2
  fi
  CORPORA+=("$size=$file")
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spate-bench-run.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

python3 "$ROOT/scripts/bench/wordcount.py" \
  --engine "$ENGINE" --engine-label "$ENGINE_LABEL" --baseline "$BASELINE" \
  --parallelism "$PARALLELISM" --runs "$RUNS" --warmup "$WARMUP" --mem-runs "$MEM_RUNS" \
  --timeout "$RUN_TIMEOUT" --time-bin "$TIME_BIN" --work "$WORK" --commit "$COMMIT" \
  --corpus-note "gen-corpus seed $SEED, vocabulary $VOCABULARY, in $CORPUS_DIR" \
  "${CORPORA[@]}"
