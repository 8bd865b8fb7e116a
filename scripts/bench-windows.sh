#!/usr/bin/env bash
# Window benchmark (issue 3): a keyed tumbling event-time window count in Spate against a
# hand-written single-threaded Rust loop doing the same aggregation on the same generated events.
#
#   scripts/bench-windows.sh            (EVENTS=12500000 scripts/bench-windows.sh for a quick run)
#
# 1. builds the `window_bench` example and the `window-baseline` binary (cargo build --release);
# 2. runs RUNS rounds of the engine (`window_bench`, streaming mode, parallelism PARALLELISM:
#    generator → timestamps/periodic watermarks → key_by → TumblingEventTimeWindows → aggregate
#    count → a checksum sink) and the baseline (`window-baseline`: one thread, FxHashMap per open
#    window), alternating, on EVENTS events; then one round of both on MEM_EVENTS events, to show
#    that memory follows open windows × keys and not the number of events;
# 3. checks that engine and baseline agree on every size: number of results, total count (= the
#    number of events) and the checksum of the (key, window, count) results; no event is late;
# 4. prints a Markdown summary: events/s (median over the rounds, measured inside each process
#    around the job or the loop), wall time and peak RSS from GNU time, the ratio engine/baseline,
#    and PASS/MISS against the issue's targets: engine >= 2,000,000 events/s, engine >= 0.5 ×
#    baseline events/s, engine RSS(EVENTS) / RSS(MEM_EVENTS) <= 1.5 (it would be ~4 if memory grew
#    with the events). Also CPU time (user + sys) and events per CPU-second, since on a shared
#    machine the engine may get less than PARALLELISM cores.
#
# Exits non-zero if a build or a run fails or if the results differ. Performance targets are only
# reported: the machine may be noisy.
#
# Environment:
#   EVENTS=50000000       events of the timed rounds
#   MEM_EVENTS=EVENTS/4   events of the memory comparison round (0: skip it)
#   RUNS=1                timed rounds (engine, then baseline, each round)
#   KEYS=1000000          distinct keys
#   EVENTS_PER_MS=1000    events per millisecond of event time
#   WINDOW_MS=1000        tumbling window size
#   OUT_OF_ORDERNESS_MS=100   watermark bound; the generated disorder stays below it
#   SEED=42
#   PARALLELISM=2         engine parallelism
#   SKIP_BUILD=1          do not run cargo
#   RUN_TIMEOUT=1800      seconds before a run is killed (and counted as failed)
#   TIME_BIN=/usr/bin/time   GNU time (wall time and peak RSS)
#   SPATE_CONF_DIR / -D style configuration reaches the engine through StreamEnv::from_env.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVENTS="${EVENTS:-50000000}"
MEM_EVENTS="${MEM_EVENTS:-$((EVENTS / 4))}"
RUNS="${RUNS:-1}"
KEYS="${KEYS:-1000000}"
EVENTS_PER_MS="${EVENTS_PER_MS:-1000}"
WINDOW_MS="${WINDOW_MS:-1000}"
OOO_MS="${OUT_OF_ORDERNESS_MS:-100}"
SEED="${SEED:-42}"
PARALLELISM="${PARALLELISM:-2}"
RUN_TIMEOUT="${RUN_TIMEOUT:-1800}"
TIME_BIN="${TIME_BIN:-/usr/bin/time}"

die() { echo "bench-windows: $*" >&2; exit 1; }
for v in EVENTS MEM_EVENTS RUNS KEYS EVENTS_PER_MS WINDOW_MS OOO_MS SEED PARALLELISM RUN_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
[[ "$EVENTS" -gt 0 && "$RUNS" -gt 0 && "$KEYS" -gt 0 && "$PARALLELISM" -gt 0 ]] \
  || die "EVENTS, RUNS, KEYS and PARALLELISM must be at least 1"

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== cargo build --release -p spate-examples -p spate-bench --example window_bench --bin window-baseline" >&2
  cargo build --release -p spate-examples -p spate-bench --example window_bench --bin window-baseline >&2 \
    || die "build failed"
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
ENGINE="$TARGET_DIR/release/examples/window_bench"
BASELINE="$TARGET_DIR/release/window-baseline"
for b in "$ENGINE" "$BASELINE" "$TIME_BIN"; do
  [[ -x "$b" ]] || die "missing executable $b (build failed?)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spate-bench-windows.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

COMMON=(--keys "$KEYS" --events-per-ms "$EVENTS_PER_MS" --window-ms "$WINDOW_MS"
  --out-of-orderness-ms "$OOO_MS" --seed "$SEED")

# run NAME BIN EVENTS: runs BIN, leaves "<result line> wall=S rss_kb=K" in $WORK/NAME.res.
n_run=0
run() {
  local name="$1" bin="$2" events="$3" rc=0
  n_run=$((n_run + 1))
  echo "== [$n_run] $name: $(basename "$bin") --events $events" >&2
  "$TIME_BIN" -f '%e %M %U %S' -o "$WORK/$name.time" timeout "$RUN_TIMEOUT" \
    "$bin" --events "$events" --parallelism "$PARALLELISM" "${COMMON[@]}" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    tail -n 20 "$WORK/$name.err" >&2
    die "$name failed (exit $rc)"
  fi
  local line
  line="$(grep '^events=' "$WORK/$name.out" | tail -n 1)" || die "$name printed no result line"
  read -r wall rss user sys < <(tail -n 1 "$WORK/$name.time")
  local cpu
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')"
  echo "$line wall=$wall rss_kb=$rss cpu=$cpu" >"$WORK/$name.res"
  echo "   $line wall=${wall}s cpu=${cpu}s peak_rss=$((rss / 1024))MiB" >&2
}
# field NAME KEY: a key=value field of a run's result.
field() { tr ' ' '\n' <"$WORK/$1.res" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

for r in $(seq 1 "$RUNS"); do
  run "engine-$r" "$ENGINE" "$EVENTS"
  run "baseline-$r" "$BASELINE" "$EVENTS"
done
if [[ "$MEM_EVENTS" -gt 0 ]]; then
  run "engine-mem" "$ENGINE" "$MEM_EVENTS"
  run "baseline-mem" "$BASELINE" "$MEM_EVENTS"
fi

# Correctness: every engine run agrees with the baseline of its size; nothing is late.
bad=0
check() { # check ENGINE_RUN BASELINE_RUN EVENTS
  local k
  for k in results total checksum; do
    if [[ "$(field "$1" "$k")" != "$(field "$2" "$k")" ]]; then
      echo "MISMATCH: $1 $k=$(field "$1" "$k") but $2 $k=$(field "$2" "$k")" >&2
      bad=1
    fi
  done
  for k in "$1" "$2"; do
    [[ "$(field "$k" total)" == "$3" ]] || { echo "MISMATCH: $k counted $(field "$k" total) of $3 events" >&2; bad=1; }
    [[ "$(field "$k" late)" == 0 ]] || { echo "MISMATCH: $k had $(field "$k" late) late events" >&2; bad=1; }
  done
}
for r in $(seq 1 "$RUNS"); do check "engine-$r" "baseline-1" "$EVENTS"; done
for r in $(seq 2 "$RUNS"); do check "baseline-$r" "baseline-1" "$EVENTS"; done
[[ "$MEM_EVENTS" -gt 0 ]] && check engine-mem baseline-mem "$MEM_EVENTS"

med() { # med PREFIX KEY
  for r in $(seq 1 "$RUNS"); do field "$1-$r" "$2"; done | median
}
E_EPS="$(med engine events_per_sec)"; B_EPS="$(med baseline events_per_sec)"
E_WALL="$(med engine wall)"; B_WALL="$(med baseline wall)"
E_RSS="$(med engine rss_kb)"; B_RSS="$(med baseline rss_kb)"
E_CPU="$(med engine cpu)"; B_CPU="$(med baseline cpu)"
# Events per CPU-second (user + sys): what each side costs, whatever else runs on the machine.
E_EPC="$(awk -v n="$EVENTS" -v c="$E_CPU" 'BEGIN {printf "%.0f", n / (c > 0 ? c : 1e-9)}')"
B_EPC="$(awk -v n="$EVENTS" -v c="$B_CPU" 'BEGIN {printf "%.0f", n / (c > 0 ? c : 1e-9)}')"
RATIO="$(awk -v e="$E_EPS" -v b="$B_EPS" 'BEGIN {printf "%.2f", e / b}')"
pf() { awk -v ok="$1" 'BEGIN {print (ok ? "PASS" : "MISS")}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
meps() { awk -v e="$1" 'BEGIN {printf "%.2f", e / 1e6}'; }

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

echo
echo "## Window benchmark: keyed tumbling event-time window count"
echo
echo "commit $COMMIT; $(nproc) cores; $KEYS keys, $EVENTS_PER_MS events/ms of event time," \
  "windows of $WINDOW_MS ms, out-of-orderness $OOO_MS ms, seed $SEED; engine parallelism $PARALLELISM," \
  "streaming mode, periodic watermarks; median of $RUNS round(s)"
echo
echo "| $EVENTS events | events/s | wall (s) | CPU (s) | events/CPU-s | peak RSS (MiB) | results | checksum |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
echo "| engine (window_bench, p=$PARALLELISM) | $(meps "$E_EPS") M | $E_WALL | $E_CPU | $(meps "$E_EPC") M | $(mib "$E_RSS") | $(field engine-1 results) | $(field engine-1 checksum) |"
echo "| baseline (window-baseline, 1 thread) | $(meps "$B_EPS") M | $B_WALL | $B_CPU | $(meps "$B_EPC") M | $(mib "$B_RSS") | $(field baseline-1 results) | $(field baseline-1 checksum) |"
echo
echo "- engine events/s >= 2,000,000: $(meps "$E_EPS") M — $(pf "$(awk -v e="$E_EPS" 'BEGIN {print (e >= 2e6)}')")"
echo "- engine / baseline events/s = $RATIO (target >= 0.5) — $(pf "$(awk -v r="$RATIO" 'BEGIN {print (r >= 0.5)}')")"
echo "- CPU: engine $E_CPU s = $(awk -v c="$E_CPU" -v w="$E_WALL" 'BEGIN {printf "%.2f", c / w}') cores busy on average" \
  "(of $(nproc); below $PARALLELISM means the engine was short of CPU — load average $(cut -d' ' -f1 /proc/loadavg));" \
  "baseline needs $(awk -v e="$E_CPU" -v b="$B_CPU" 'BEGIN {printf "%.1f", e / b}')x less CPU per event"
if [[ "$MEM_EVENTS" -gt 0 ]]; then
  EM="$(field engine-mem rss_kb)"; BM="$(field baseline-mem rss_kb)"
  GROWTH="$(awk -v a="$E_RSS" -v b="$EM" 'BEGIN {printf "%.2f", a / b}')"
  echo "- peak RSS at $MEM_EVENTS events: engine $(mib "$EM") MiB ($(meps "$(field engine-mem events_per_sec)") M events/s)," \
    "baseline $(mib "$BM") MiB; engine RSS($EVENTS) / RSS($MEM_EVENTS) = $GROWTH" \
    "(events x$(awk -v a="$EVENTS" -v b="$MEM_EVENTS" 'BEGIN {printf "%.1f", a / b}'); target <= 1.5)" \
    "— $(pf "$(awk -v g="$GROWTH" 'BEGIN {print (g <= 1.5)}')")"
fi
if [[ $bad -ne 0 ]]; then
  echo "- results: **MISMATCH** between engine and baseline (see stderr)"
  exit 1
fi
echo "- results: engine and baseline agree (results, total count = events, checksum; no late events)"
