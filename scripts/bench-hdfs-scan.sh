#!/usr/bin/env bash
# HDFS scan benchmark (issue 5): the throughput of counting the lines of a >= 512 MiB HDFS file
# through Spate's text source, against a raw hdfs-native read of the same file, in the same run.
#
#   scripts/bench-hdfs-scan.sh          (SIZE_MB=64 RUNS=1 scripts/bench-hdfs-scan.sh: a quick check)
#
# 1. builds the `hdfs_scan` example and the `hdfs-raw-scan` and `gen-corpus` binaries (release);
# 2. uses the Hadoop of HADOOP_CONF_DIR, or, when it is not set, starts a minicluster
#    (SPATE_MINICLUSTER_DIR, default /tmp/spate-bench-mc, `--ephemeral-ports`) and stops it on exit
#    (only if this script started it);
# 3. generates a SIZE_MB corpus (`gen-corpus`, seed 42, vocabulary 50,000; reused if present) and
#    puts it into HDFS with Hadoop's own client (`scripts/hadoop-cli.sh fs -put`), replication 1,
#    block size BLOCK_MB, at HDFS_PATH;
# 4. after WARMUP untimed rounds, RUNS rounds of, alternately:
#      engine    `hdfs_scan --input hdfs://NN/PATH --parallelism P`: `read_text_file` (the HDFS text
#                source: block-aligned splits, a SplitLineReader per split) → `count()`;
#      raw-1     `hdfs-raw-scan --readers 1`: hdfs-native alone, one sequential stream, counting '\n';
#      raw-2     `hdfs-raw-scan --readers 2`: the same with two concurrent readers over the halves;
#    each process measures its own MB/s (MiB of the file / seconds from opening the file, block
#    locations included, to the last byte); GNU time gives peak RSS and CPU time; the minicluster's
#    CPU time over each run is read from /proc when this script knows its pid;
# 5. checks that every run counted the same lines (and the engine read every byte of the file);
# 6. prints a Markdown summary on stdout: median MB/s per side, the baseline = the better of raw-1
#    and raw-2, the ratio engine / baseline against the issue's target (>= 0.90), peak RSS.
#
# Exits non-zero if a build, the cluster, the upload or a run fails, or if the line counts differ.
# The performance target is only reported (PASS/MISS): the machine may be noisy.
#
# Environment:
#   SIZE_MB=512        corpus size (MiB)
#   BLOCK_MB=64        HDFS block size of the uploaded file (64: 8 splits at 512 MiB)
#   RUNS=3             timed rounds (engine, raw-1, raw-2 each round)
#   WARMUP=1           untimed rounds before them (page cache, the DataNodes' JIT)
#   PARALLELISM=2      engine parallelism
#   HDFS_PATH=/bench/scan.txt
#   SEED=42 VOCABULARY=50000   corpus parameters
#   SPATE_BENCH_DIR    where corpora are kept and reused (default ${TMPDIR:-/tmp}/spate-bench)
#   SPATE_MINICLUSTER_DIR=/tmp/spate-bench-mc   the minicluster this script starts if needed
#   SKIP_BUILD=1       do not run cargo
#   SKIP_PUT=1         do not upload (the file is already at HDFS_PATH)
#   RUN_TIMEOUT=900    seconds before a run is killed (and counted as failed)
#   TIME_BIN=/usr/bin/time   GNU time (peak RSS, CPU time)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB="${SIZE_MB:-512}"
BLOCK_MB="${BLOCK_MB:-64}"
RUNS="${RUNS:-3}"
WARMUP="${WARMUP:-1}"
PARALLELISM="${PARALLELISM:-2}"
HDFS_PATH="${HDFS_PATH:-/bench/scan.txt}"
SEED="${SEED:-42}"
VOCABULARY="${VOCABULARY:-50000}"
CORPUS_DIR="${SPATE_BENCH_DIR:-${TMPDIR:-/tmp}/spate-bench}"
RUN_TIMEOUT="${RUN_TIMEOUT:-900}"
TIME_BIN="${TIME_BIN:-/usr/bin/time}"
export SPATE_MINICLUSTER_DIR="${SPATE_MINICLUSTER_DIR:-/tmp/spate-bench-mc}"
TARGET=0.90

die() { echo "bench-hdfs-scan: $*" >&2; exit 1; }
for v in SIZE_MB BLOCK_MB RUNS WARMUP PARALLELISM SEED VOCABULARY RUN_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
[[ "$SIZE_MB" -gt 0 && "$BLOCK_MB" -gt 0 && "$RUNS" -gt 0 && "$PARALLELISM" -gt 0 ]] \
  || die "SIZE_MB, BLOCK_MB, RUNS and PARALLELISM must be at least 1"
[[ "$HDFS_PATH" == /* ]] || die "HDFS_PATH must be absolute, not '$HDFS_PATH'"

cd "$ROOT"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  echo "== cargo build --release -p spate-examples --example hdfs_scan -p spate-bench --bin hdfs-raw-scan --bin gen-corpus" >&2
  cargo build --release -p spate-examples --example hdfs_scan \
    -p spate-bench --bin hdfs-raw-scan --bin gen-corpus >&2 || die "build failed"
fi
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
ENGINE="$TARGET_DIR/release/examples/hdfs_scan"
RAW="$TARGET_DIR/release/hdfs-raw-scan"
GEN="$TARGET_DIR/release/gen-corpus"
for b in "$ENGINE" "$RAW" "$GEN" "$TIME_BIN"; do
  [[ -x "$b" ]] || die "missing executable $b (build failed?)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spate-bench-scan.XXXXXX")"
STARTED_CLUSTER=0
cleanup() {
  local rc=$?
  if [[ $STARTED_CLUSTER == 1 ]]; then
    echo "== stopping the minicluster" >&2
    "$ROOT/scripts/minicluster.sh" stop >&2 || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Hadoop -------------------------------------------------------------------------------------
MC_PID=""
if [[ -z "${HADOOP_CONF_DIR:-}" ]]; then
  if "$ROOT/scripts/minicluster.sh" status >/dev/null 2>&1; then
    echo "== using the running minicluster in $SPATE_MINICLUSTER_DIR" >&2
  else
    echo "== starting a minicluster in $SPATE_MINICLUSTER_DIR" >&2
    STARTED_CLUSTER=1
    # minicluster.sh truncates its log in the background child: a READY line left by an earlier
    # run could be seen first and end the wait before the new cluster is up.
    rm -f "$SPATE_MINICLUSTER_DIR/logs/minicluster.log"
    "$ROOT/scripts/minicluster.sh" start --ephemeral-ports >&2 || die "the minicluster did not start"
  fi
  eval "$("$ROOT/scripts/minicluster.sh" env)"
fi
# The minicluster's JVM (for its CPU time per run), when HADOOP_CONF_DIR is its configuration.
if [[ "$(realpath -m "$HADOOP_CONF_DIR")" == "$(realpath -m "$SPATE_MINICLUSTER_DIR/conf")" ]]; then
  MC_PID="$(cat "$SPATE_MINICLUSTER_DIR/minicluster.pid" 2>/dev/null || true)"
fi
export HADOOP_CONF_DIR
FS_DEFAULT="$(python3 - "$HADOOP_CONF_DIR/core-site.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
for p in ET.parse(sys.argv[1]).getroot().iter("property"):
    if p.findtext("name") == "fs.defaultFS":
        print(p.findtext("value").strip().rstrip("/"))
EOF
)" || die "cannot read fs.defaultFS from $HADOOP_CONF_DIR/core-site.xml"
[[ "$FS_DEFAULT" == hdfs://* ]] || die "fs.defaultFS is '$FS_DEFAULT', not an hdfs:// URI"
URI="$FS_DEFAULT$HDFS_PATH"
echo "== HADOOP_CONF_DIR=$HADOOP_CONF_DIR; input $URI" >&2

# --- the corpus, into HDFS ----------------------------------------------------------------------
mkdir -p "$CORPUS_DIR"
CORPUS="$CORPUS_DIR/corpus-${SIZE_MB}mb-seed${SEED}-v${VOCABULARY}.txt"
if [[ ! -s "$CORPUS" ]]; then
  echo "== generating $CORPUS" >&2
  "$GEN" --output "$CORPUS.partial" --size-mb "$SIZE_MB" --seed "$SEED" --vocabulary "$VOCABULARY"
  mv "$CORPUS.partial" "$CORPUS"
else
  echo "== reusing $CORPUS" >&2
fi
FILE_BYTES="$(stat -c %s "$CORPUS")"
if [[ "${SKIP_PUT:-0}" != 1 ]]; then
  echo "== putting it into HDFS: $HDFS_PATH (replication 1, block size $BLOCK_MB MiB)" >&2
  "$ROOT/scripts/hadoop-cli.sh" fs -mkdir -p "$(dirname "$HDFS_PATH")" >&2 || die "hdfs dfs -mkdir failed"
  "$ROOT/scripts/hadoop-cli.sh" fs -D dfs.replication=1 -D "dfs.blocksize=$((BLOCK_MB << 20))" \
    -put -f "$CORPUS" "$HDFS_PATH" >&2 || die "hdfs dfs -put failed"
fi
read -r HDFS_BYTES HDFS_BLOCK HDFS_REPL < <("$ROOT/scripts/hadoop-cli.sh" fs -stat '%b %o %r' "$HDFS_PATH" 2>/dev/null | tail -n 1) \
  || die "hdfs dfs -stat $HDFS_PATH failed"
[[ "$HDFS_BYTES" == "$FILE_BYTES" ]] || die "$HDFS_PATH has $HDFS_BYTES bytes, the corpus $FILE_BYTES"
echo "   $HDFS_PATH: $HDFS_BYTES bytes, block size $HDFS_BLOCK, replication $HDFS_REPL" >&2

# --- runs -----------------------------------------------------------------------------------------
# CPU ticks (user + system) of the minicluster JVM so far; empty when unknown.
mc_ticks() {
  [[ -n "$MC_PID" && -r "/proc/$MC_PID/stat" ]] || return 0
  sed 's/^.*) //' "/proc/$MC_PID/stat" | awk '{print $12 + $13}'
}
TICKS="$(getconf CLK_TCK)"

# run NAME CMD...: runs CMD, leaves "<its result line> wall=S rss_kb=K cpu=C mc_cpu=M" in $WORK/NAME.res.
n_run=0
run() {
  local name="$1" rc=0
  shift
  n_run=$((n_run + 1))
  echo "== [$n_run] $name: $(basename "$1") ${*:2}" >&2
  local t0 t1
  t0="$(mc_ticks)"
  "$TIME_BIN" -f '%e %M %U %S' -o "$WORK/$name.time" timeout "$RUN_TIMEOUT" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
  t1="$(mc_ticks)"
  if [[ $rc -ne 0 ]]; then
    tail -n 20 "$WORK/$name.err" >&2
    die "$name failed (exit $rc)"
  fi
  local line
  line="$(grep '^lines=' "$WORK/$name.out" | tail -n 1)" || die "$name printed no result line"
  read -r wall rss user sys < <(tail -n 1 "$WORK/$name.time")
  local cpu mc=""
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')"
  [[ -n "$t0" && -n "$t1" ]] && mc="$(awk -v a="$t0" -v b="$t1" -v t="$TICKS" 'BEGIN {printf "%.2f", (b - a) / t}')"
  echo "$line wall=$wall rss_kb=$rss cpu=$cpu mc_cpu=${mc:-?}" >"$WORK/$name.res"
  echo "   $line wall=${wall}s cpu=${cpu}s peak_rss=$((rss / 1024))MiB${mc:+ cluster_cpu=${mc}s}" >&2
}
field() { tr ' ' '\n' <"$WORK/$1.res" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

engine() { run "$1" "$ENGINE" --input "$URI" --parallelism "$PARALLELISM"; }
raw() { run "$1" "$RAW" --input "$URI" --readers "$2"; }

for r in $(seq 1 "$WARMUP"); do
  raw "warmup-raw-$r" 1
  engine "warmup-engine-$r"
done
for r in $(seq 1 "$RUNS"); do
  engine "engine-$r"
  raw "raw1-$r" 1
  raw "raw2-$r" 2
done

# --- checks ---------------------------------------------------------------------------------------
bad=0
LINES="$(field raw1-1 lines)"
for r in $(seq 1 "$RUNS"); do
  for side in engine raw1 raw2; do
    got="$(field "$side-$r" lines)"
    if [[ "$got" != "$LINES" ]]; then
      echo "MISMATCH: $side-$r counted $got lines, raw1-1 $LINES" >&2
      bad=1
    fi
    if [[ "$(field "$side-$r" bytes)" != "$FILE_BYTES" ]]; then
      echo "MISMATCH: $side-$r read $(field "$side-$r" bytes) bytes of $FILE_BYTES" >&2
      bad=1
    fi
  done
done
# The local corpus, counted the same way (a last line without '\n' counts).
LOCAL_LINES="$(python3 - "$CORPUS" <<'EOF'
import sys
n, last = 0, b""
with open(sys.argv[1], "rb") as f:
    while chunk := f.read(1 << 24):
        n += chunk.count(b"\n")
        last = chunk[-1:]
print(n + (1 if last and last != b"\n" else 0))
EOF
)"
if [[ "$LOCAL_LINES" != "$LINES" ]]; then
  echo "MISMATCH: the local corpus has $LOCAL_LINES lines, HDFS reads counted $LINES" >&2
  bad=1
fi

# --- report ---------------------------------------------------------------------------------------
med() { for r in $(seq 1 "$RUNS"); do field "$1-$r" "$2"; done | median; }
E_MBS="$(med engine mb_per_sec)"; R1_MBS="$(med raw1 mb_per_sec)"; R2_MBS="$(med raw2 mb_per_sec)"
if awk -v a="$R1_MBS" -v b="$R2_MBS" 'BEGIN {exit !(a >= b)}'; then
  B_MBS="$R1_MBS"; B_LABEL="1 reader"
else
  B_MBS="$R2_MBS"; B_LABEL="2 readers"
fi
RATIO="$(awk -v e="$E_MBS" -v b="$B_MBS" 'BEGIN {printf "%.2f", e / b}')"
pf() { awk -v ok="$1" 'BEGIN {print (ok ? "PASS" : "MISS")}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.0f", k / 1024}'; }
all() { for r in $(seq 1 "$RUNS"); do field "$1-$r" "$2"; done | paste -sd/ -; }
row() { # row SIDE LABEL
  echo "| $2 | $(med "$1" mb_per_sec) | $(all "$1" mb_per_sec) | $(med "$1" seconds) | $(med "$1" cpu) |" \
    "$(med "$1" mc_cpu 2>/dev/null || echo '?') | $(mib "$(med "$1" rss_kb)") |"
}

COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (with uncommitted changes)"
fi

echo
echo "## HDFS scan benchmark: line count of $(mib $((FILE_BYTES / 1024))) MiB on HDFS"
echo
echo "commit $COMMIT; $(nproc) cores, shared with the Hadoop JVM; $URI: $FILE_BYTES bytes," \
  "$LINES lines, block size $((HDFS_BLOCK >> 20)) MiB ($(( (HDFS_BYTES + HDFS_BLOCK - 1) / HDFS_BLOCK )) blocks)," \
  "replication $HDFS_REPL; gen-corpus seed $SEED, vocabulary $VOCABULARY; median of $RUNS round(s) after $WARMUP warm-up"
echo
echo "| side | MB/s (MiB/s, median) | each round | seconds | client CPU (s) | Hadoop JVM CPU (s) | peak RSS (MiB) |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
row engine "engine (hdfs_scan: read_text_file → count, p=$PARALLELISM)"
row raw1 "raw hdfs-native, 1 reader"
row raw2 "raw hdfs-native, 2 readers (halves)"
echo
echo "- baseline = the better raw figure ($B_LABEL): $B_MBS MB/s"
echo "- engine / baseline = $RATIO (target >= $TARGET) — $(pf "$(awk -v r="$RATIO" -v t="$TARGET" 'BEGIN {print (r >= t)}')")"
echo "- engine / raw 1 reader = $(awk -v e="$E_MBS" -v b="$R1_MBS" 'BEGIN {printf "%.2f", e / b}');" \
  "engine / raw 2 readers = $(awk -v e="$E_MBS" -v b="$R2_MBS" 'BEGIN {printf "%.2f", e / b}')"
echo "- splits: $(field engine-1 splits) ($(field engine-1 local_splits) read on a host storing them); load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $bad -ne 0 ]]; then
  echo "- line counts: **MISMATCH** (see stderr)"
  exit 1
fi
echo "- line counts: every run counted $LINES lines, as the local corpus has; every run read all $FILE_BYTES bytes"
