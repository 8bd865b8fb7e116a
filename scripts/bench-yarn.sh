#!/usr/bin/env bash
# Spate on YARN: start-up and footprint on a running minicluster (or any YARN cluster whose
# configuration is in HADOOP_CONF_DIR), with the same job embedded as the baseline.
#
#   eval "$(scripts/minicluster.sh env)"; scripts/bench-yarn.sh [SIZE_MB]     (default 64)
#
# Builds release binaries, writes a SIZE_MB text file, then for RUNS rounds:
# - the word count embedded (`wordcount -p 2`), the baseline;
# - the same job with `spate run -t yarn-per-job -p 2`: seconds from the command's start to the
#   application's JobManager answering (AM up), to the job RUNNING (its TaskManager containers
#   started and registered; the earlier of the client's log line and the REST API's state, polled
#   every 100 ms), to the first record processed (a vertex's write-records > 0 at the
#   REST API, polled every 100 ms; counters are reported every second, so this is an upper bound),
#   and to the end (the application FINISHED); the outputs must agree.
# Then a detached session with one TaskManager: the resident memory (VmRSS) of its idle
# TaskManager process and of the ApplicationMaster (JobManager) process, read from /proc (the
# minicluster's containers are processes of this machine). Prints medians against the targets:
# <= 5 s to RUNNING, <= 30 MB for an idle TaskManager.
#
# Environment: RUNS=3, SKIP_BUILD=1, CARGO_TARGET_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE="${1:-64}"
RUNS="${RUNS:-3}"
[[ "$SIZE" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SIZE_MB]" >&2; exit 1; }
[[ -n "${HADOOP_CONF_DIR:-}" ]] || { echo "bench-yarn: HADOOP_CONF_DIR is not set (eval \"\$(scripts/minicluster.sh env)\")" >&2; exit 1; }
T="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ -z "${SKIP_BUILD:-}" ]]; then
  (cd "$ROOT" && cargo build --release -q -p spate-cli -p spate-examples --bins --examples) >&2
fi
SPATE="$T/release/spate"
WORDCOUNT="$T/release/examples/wordcount"

WORK="$(mktemp -d)"
export SPATE_YARN_PROPERTIES_FILE="$WORK/yarn-properties"
SESSION=""
cleanup() {
  [[ -n "$SESSION" ]] && "$SPATE" yarn-session --kill "$SESSION" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
SMALL=(-D jobmanager.memory.process.size=256mb -D taskmanager.memory.process.size=256mb)

head -c "$((SIZE << 20))" < <(yes "the quick brown fox jumps over the lazy dog while seven wizards box and quit") \
  > "$WORK/in.txt"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
since() { echo "$1 - $2" | bc -l; }

EMB=(); UP=(); RUN=(); FIRST=(); TOTAL=()
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$WORK/emb" "$WORK/yarn" "$WORK/err"
  s=$(now); RUST_LOG=warn "$WORDCOUNT" --input "$WORK/in.txt" --output "$WORK/emb" -p 2 >/dev/null 2>&1; e=$(now)
  EMB+=("$(since "$e" "$s")")

  s=$(now)
  "$SPATE" run -t yarn-per-job -p 2 "${SMALL[@]}" "$WORDCOUNT" --input "$WORK/in.txt" --output "$WORK/yarn" \
    > "$WORK/out" 2> >(while IFS= read -r line; do printf '%s %s\n' "$(now)" "$line"; done > "$WORK/err") &
  pid=$!
  first=""; running=""
  while kill -0 "$pid" 2>/dev/null; do
    rest=$(grep -o 'dashboard at http://[^/ ]*' "$WORK/err" 2>/dev/null | head -1 | sed 's|dashboard at http://||' || true)
    if [[ -n "$rest" && -z "$first" ]]; then
      t=$(now)
      jid=$(curl -s --max-time 1 "http://$rest/jobs/overview" | grep -o '"jid":"[0-9a-f]*"' | head -1 | cut -d'"' -f4 || true)
      body=""
      [[ -n "$jid" ]] && body=$(curl -s --max-time 1 "http://$rest/jobs/$jid" || true)
      if [[ -z "$running" ]] && grep -q '"state":"\(RUNNING\|FINISHED\)"' <<< "$body"; then running=$t; fi
      if grep -q '"write-records":[1-9]' <<< "$body"; then first=$t; fi
    fi
    sleep 0.1
  done
  wait "$pid" || { cat "$WORK/err" >&2; exit 1; }
  e=$(now)
  sleep 0.2 # the stderr reader's last lines
  up=$(grep -m1 'dashboard at http://' "$WORK/err" | cut -d' ' -f1)
  logged=$(grep -m1 'job is RUNNING' "$WORK/err" | cut -d' ' -f1 || true)
  if [[ -n "$logged" ]] && { [[ -z "$running" ]] || (( $(echo "$logged < $running" | bc -l) )); }; then running=$logged; fi
  [[ -n "$up" && -n "$running" ]] || { echo "bench-yarn: no start-up lines in:" >&2; cat "$WORK/err" >&2; exit 1; }
  UP+=("$(since "$up" "$s")"); RUN+=("$(since "$running" "$s")"); TOTAL+=("$(since "$e" "$s")")
  FIRST+=("$(since "${first:-$e}" "$s")")
  cmp <(cat "$WORK"/emb/part-* | sort) <(cat "$WORK"/yarn/part-* | sort) >/dev/null \
    || { echo "bench-yarn: outputs differ" >&2; exit 1; }
  printf 'round %d: embedded %.2f s; per-job: AM up %.2f s, RUNNING %.2f s, first record <= %.2f s, end %.2f s\n' \
    $((r + 1)) "${EMB[-1]}" "${UP[-1]}" "${RUN[-1]}" "${FIRST[-1]}" "${TOTAL[-1]}" >&2
done

# An idle TaskManager of a session.
"$SPATE" yarn-session --detached -n 1 -s 1 "${SMALL[@]}" --name spate-bench-yarn > "$WORK/session.out" 2>&1 \
  || { cat "$WORK/session.out" >&2; exit 1; }
SESSION=$(grep -m1 '^application-id=' "$SPATE_YARN_PROPERTIES_FILE" | cut -d= -f2)
sleep 5
rss_of() { # $1: command prefix; the VmRSS in kB of the process of $SESSION running it
  for p in /proc/[0-9]*; do
    cwd=$(readlink "$p/cwd" 2>/dev/null || true)
    [[ "$cwd" == *"/$SESSION/"* ]] || continue
    cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null || true)
    [[ "$cmd" == "$1"* ]] || continue
    awk '/^VmRSS:/ {print $2}' "$p/status"; return
  done
}
tm_kb=$(rss_of "./spate taskmanager ")
am_kb=$(rss_of "./spate yarn-am ")
[[ -n "$tm_kb" && -n "$am_kb" ]] || { echo "bench-yarn: no TaskManager or AM process of $SESSION" >&2; exit 1; }

memb=$(printf '%s\n' "${EMB[@]}" | median); mup=$(printf '%s\n' "${UP[@]}" | median)
mrun=$(printf '%s\n' "${RUN[@]}" | median); mfirst=$(printf '%s\n' "${FIRST[@]}" | median)
mtotal=$(printf '%s\n' "${TOTAL[@]}" | median)
ok() { if (( $(echo "$1 <= $2" | bc -l) )); then echo "met"; else echo "MISSED"; fi; }
echo "word count of $SIZE MB, parallelism 2, median of $RUNS runs"
echo "| measure | value | target |"
echo "| --- | ---: | --- |"
printf '| embedded run (baseline) | %.2f s | |\n' "$memb"
printf '| per-job: command to JobManager up (AM registered) | %.2f s | |\n' "$mup"
printf '| per-job: command to job RUNNING | %.2f s | <= 5 s (%s) |\n' "$mrun" "$(ok "$mrun" 5)"
printf '| per-job: command to first record (upper bound) | %.2f s | |\n' "$mfirst"
printf '| per-job: whole run, command to application FINISHED | %.2f s | |\n' "$mtotal"
printf '| idle TaskManager process, RSS | %.1f MB | <= 30 MB (%s) |\n' "$(echo "$tm_kb / 1024" | bc -l)" "$(ok "$tm_kb" $((30 * 1024)))"
printf '| ApplicationMaster (JobManager) process, RSS | %.1f MB | |\n' "$(echo "$am_kb / 1024" | bc -l)"
