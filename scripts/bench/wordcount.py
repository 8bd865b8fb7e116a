#!/usr/bin/env python3
"""Timing, verification and report for scripts/bench-wordcount.sh (run that script, not this).

Runs the engine's word count and the baseline on the corpora, measures every run (wall time
with time.perf_counter, peak RSS with GNU time, CPU time from os.wait4's rusage),
checks every output against the baseline's, and prints a Markdown summary on stdout. Progress
goes to stderr. Exit status: 0 if every run succeeded and every output matched (performance
targets are reported as PASS/MISS only), 1 otherwise.
"""

import argparse
import datetime
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

TIME_TARGET = 1.5  # median wall(engine p=2) / median wall(baseline) on the first corpus
RSS_TARGET = 1.2  # engine peak RSS on the largest corpus / on the smallest


class Failure(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Run:
    def __init__(self, wall, rss_kib, cpu):
        self.wall, self.rss_kib, self.cpu = wall, rss_kib, cpu


def run_timed(cmd, log_path, timeout, time_bin):
    """Runs cmd with output to log_path; returns a Run. Raises Failure if it fails.

    The command is started by GNU time, which reports its peak RSS. The rusage that os.wait4
    gives for a child of this Python process is useless for that: a forked child's maxrss
    includes the parent's (Python's) resident size before the exec. GNU time is a small C
    program, so the RSS it reports for its own child is only the command's (plus about 1 MiB).
    Wall time is measured here (perf_counter), CPU time from the rusage of the time process
    (which includes the command's, as time waits for it).
    """
    rss_path = f"{log_path}.rusage"
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([time_bin, "-f", "%M", "-o", rss_path, *cmd], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, process_group=0)

        def kill_group():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        def on_alarm(_signum, _frame):
            log(f"  timeout after {timeout} s, killing {cmd[0]}")
            kill_group()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(timeout)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            kill_group()  # e.g. Ctrl-C: the command is in its own process group
            proc.wait()
            raise
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    report = Path(rss_path).read_text(errors="replace").strip().splitlines() if os.path.exists(rss_path) else []
    if proc.returncode != 0:
        tail = Path(log_path).read_bytes()[-3000:].decode("utf-8", "replace")
        how = " / ".join(report[:-1]) or (f"killed by signal {-proc.returncode}" if proc.returncode < 0
                                          else f"exit status {proc.returncode}")
        raise Failure(f"FAILED ({how}): {' '.join(map(str, cmd))}\n--- output (tail) ---\n{tail}")
    try:
        rss_kib = int(report[-1])
    except (IndexError, ValueError):
        raise Failure(f"cannot read the peak RSS that {time_bin} wrote to {rss_path}: {report}") from None
    os.unlink(rss_path)
    return Run(wall, rss_kib, usage.ru_utime + usage.ru_stime)


def read_output(out_dir):
    """All lines of out_dir/part-*, sorted (bytes)."""
    parts = sorted(p for p in Path(out_dir).glob("part-*") if p.is_file())
    if not parts:
        listing = sorted(p.name for p in Path(out_dir).iterdir()) if Path(out_dir).is_dir() else "(no such directory)"
        raise Failure(f"no part-* files in {out_dir}; it holds: {listing}")
    lines = []
    for part in parts:
        data = part.read_bytes()
        if data:
            lines.extend(data[:-1].split(b"\n") if data.endswith(b"\n") else data.split(b"\n"))
    lines.sort()
    return lines, len(parts)


def describe_difference(got, expected):
    def as_map(lines, what):
        counts, bad, dups = {}, [], []
        for line in lines:
            word, tab, count = line.partition(b"\t")
            if not tab or not count.isdigit():
                bad.append(line)
            elif word in counts:
                dups.append(word)
            else:
                counts[word] = int(count)
        notes = []
        if bad:
            notes.append(f"{len(bad)} malformed line(s) in {what}, e.g. {bad[:3]}")
        if dups:
            notes.append(f"{len(dups)} word(s) appear more than once in {what}, e.g. {dups[:5]}")
        return counts, notes

    g, notes = as_map(got, "the engine output")
    e, more = as_map(expected, "the baseline output")
    notes += more
    missing = sorted(set(e) - set(g))
    extra = sorted(set(g) - set(e))
    differ = sorted(w for w in set(e) & set(g) if e[w] != g[w])
    notes.append(f"{len(got)} lines vs {len(expected)} expected")
    if missing:
        notes.append(f"{len(missing)} word(s) missing, e.g. {[w.decode('utf-8', 'replace') for w in missing[:5]]}")
    if extra:
        notes.append(f"{len(extra)} unexpected word(s), e.g. {[w.decode('utf-8', 'replace') for w in extra[:5]]}")
    if differ:
        ex = [f"{w.decode('utf-8', 'replace')}: {g[w]} (expected {e[w]})" for w in differ[:5]]
        notes.append(f"{len(differ)} count(s) differ, e.g. {ex}")
    return "\n  ".join(notes)


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work)
        self.n = 0

    def run(self, who, corpus):
        """One run of `who` ('engine' or 'baseline') on corpus; returns (Run, sorted lines)."""
        self.n += 1
        out_dir = self.work / f"out-{self.n}-{who}"
        log_path = self.work / f"log-{self.n}-{who}.txt"
        if who == "engine":
            cmd = [self.args.engine, "--input", str(corpus), "--output", str(out_dir),
                   "--parallelism", str(self.args.parallelism)]
        else:
            cmd = [self.args.baseline, "--input", str(corpus), "--output", str(out_dir)]
        result = run_timed(cmd, log_path, self.args.timeout, self.args.time_bin)
        lines, parts = read_output(out_dir)
        shutil.rmtree(out_dir, ignore_errors=True)
        log_path.unlink(missing_ok=True)
        log(f"  {who:8} {result.wall:7.3f} s  {result.cpu:7.3f} s CPU  {result.rss_kib / 1024:8.1f} MiB  ({parts} part file(s))")
        return result, lines

    def check(self, who, lines, reference, size):
        if lines != reference:
            raise Failure(f"OUTPUT MISMATCH on the {size} MiB corpus: {who} differs from the first baseline run "
                          f"(sorted part files)\n  {describe_difference(lines, reference)}")


def median(values):
    return statistics.median(values)


def fmt_range(values):
    return f"{min(values):.3f}–{max(values):.3f}"


def mib(kib):
    return kib / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--engine", required=True)
    ap.add_argument("--engine-label", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mem-runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--time-bin", default="/usr/bin/time", help="GNU time, for the peak RSS")
    ap.add_argument("--work", required=True)
    ap.add_argument("--commit", default="?")
    ap.add_argument("--corpus-note", default="")
    ap.add_argument("corpora", nargs="+", help="SIZE_MB=PATH")
    args = ap.parse_args()
    if args.runs < 1 or args.mem_runs < 1 or args.warmup < 0:
        ap.error("--runs and --mem-runs must be >= 1, --warmup >= 0")

    corpora = []
    for spec in args.corpora:
        size, _, path = spec.partition("=")
        corpora.append((int(size), Path(path), os.path.getsize(path)))

    bench = Bench(args)
    load_before = os.getloadavg()
    started = datetime.datetime.now()
    p = args.parallelism

    # Throughput: alternate engine and baseline on the first corpus; round 0.. are warm-ups.
    size0, corpus0, bytes0 = corpora[0]
    log(f"== {size0} MiB corpus: {args.warmup} warm-up + {args.runs} timed round(s), engine (p={p}) and baseline alternating")
    engine_runs, baseline_runs = [], []
    reference = {}
    for round_no in range(args.warmup + args.runs):
        timed = round_no >= args.warmup
        log(f" round {round_no + 1}{'' if timed else ' (warm-up)'}")
        # The baseline goes first in the first round (its output is the reference), then the
        # order alternates so neither side always runs right after the other.
        order = ["baseline", "engine"] if round_no % 2 == 0 else ["engine", "baseline"]
        outputs = {}
        for who in order:
            result, lines = bench.run(who, corpus0)
            outputs[who] = lines
            if timed:
                (engine_runs if who == "engine" else baseline_runs).append(result)
        reference.setdefault(size0, outputs["baseline"])
        for who in order:
            bench.check(who, outputs[who], reference[size0], size0)
    words0 = len(reference[size0])

    # Memory: engine peak RSS on every corpus (the first one reuses the timed runs).
    memory = {size0: engine_runs}
    for size, corpus, _ in corpora[1:]:
        log(f"== {size} MiB corpus: baseline once (reference), engine {args.mem_runs} time(s)")
        base, reference[size] = bench.run("baseline", corpus)
        memory[size] = []
        for _ in range(args.mem_runs):
            result, lines = bench.run("engine", corpus)
            bench.check("engine", lines, reference[size], size)
            memory[size].append(result)
    load_after = os.getloadavg()

    # Report.
    e_wall = median([r.wall for r in engine_runs])
    b_wall = median([r.wall for r in baseline_runs])
    ratio = e_wall / b_wall
    out = []
    out.append(f"### Spate word count benchmark ({started:%Y-%m-%d %H:%M})")
    out.append("")
    out.append(f"- commit {args.commit}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    out.append(f"- engine: `{args.engine_label} --parallelism {p}`; baseline: `wc-baseline` (single thread, FxHashMap, same tokeniser)")
    out.append(f"- corpora: {args.corpus_note}")
    out.append(f"- {args.runs} timed run(s) each after {args.warmup} warm-up round(s), engine and baseline alternating; "
               "medians; 1 MB = 10^6 bytes; RSS = peak resident set (GNU time %M)")
    out.append("")
    out.append(f"| {size0} MiB corpus ({bytes0 / 1e6:.1f} MB, {words0} distinct words) | wall s (median) | min–max s | MB/s | CPU s | peak RSS MiB |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for label, runs in ((f"(a) engine p={p}", engine_runs), ("(b) baseline", baseline_runs)):
        wall = median([r.wall for r in runs])
        out.append(f"| {label} | {wall:.3f} | {fmt_range([r.wall for r in runs])} | {bytes0 / 1e6 / wall:.0f} | "
                   f"{median([r.cpu for r in runs]):.2f} | {mib(median([r.rss_kib for r in runs])):.1f} |")
    out.append("")
    out.append(f"- **time ratio (a)/(b) = {ratio:.2f}** (target <= {TIME_TARGET}): **{'PASS' if ratio <= TIME_TARGET else 'MISS'}**")
    out.append("")
    out.append(f"| engine p={p} | peak RSS MiB (median) | runs | wall s (median) | MB/s | RSS vs {min(memory)} MiB |")
    out.append("|---|---:|---:|---:|---:|---:|")
    smallest = min(memory)
    rss = {size: median([r.rss_kib for r in runs]) for size, runs in memory.items()}
    for size, _, nbytes in sorted(corpora):
        runs = memory[size]
        wall = median([r.wall for r in runs])
        out.append(f"| {size} MiB corpus | {mib(rss[size]):.1f} | {len(runs)} | {wall:.3f} | {nbytes / 1e6 / wall:.0f} | "
                   f"{rss[size] / rss[smallest]:.2f} |")
    out.append("")
    if len(memory) > 1:
        largest = max(memory)
        mratio = rss[largest] / rss[smallest]
        out.append(f"- **RSS({largest})/RSS({smallest}) = {mratio:.2f}** (target <= {RSS_TARGET}): "
                   f"**{'PASS' if mratio <= RSS_TARGET else 'MISS'}**")
    else:
        out.append("- RSS ratio: not measured (give two sizes, e.g. `64 256`)")
    sizes = ", ".join(f"{s} MiB" for s, _, _ in corpora)
    out.append(f"- outputs: every engine run == baseline (sorted part files) on {sizes}: OK")
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    try:
        main()
    except (Failure, OSError) as e:
        log(f"\nbench-wordcount: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
