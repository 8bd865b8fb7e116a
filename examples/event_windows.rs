//! Event-time windows over a CSV of `key,timestamp_ms,value` lines, possibly out of order:
//!
//! `event_windows --input CSV --output DIR [--out-of-orderness-ms N] [--window-ms W]
//! [--session-gap-ms G] [--skip-bad] [--parallelism P] [--rate R]`
//!
//! Writes `DIR/tumbling/*` (`key,window_start,window_end,sum,count` per tumbling window of W ms),
//! `DIR/sessions/*` (`key,session_start,session_end,sum,count` per session with gap G ms;
//! session_end = last timestamp + gap) and `DIR/late/*` (the input lines that arrived after the
//! watermark passed their tumbling window; allowed lateness 0). One source subtask reads the file
//! and emits a watermark (highest timestamp − N − 1) after every record, so the results are
//! deterministic. A malformed line fails the job naming its line number; with `--skip-bad` it goes
//! to `DIR/bad/*` and is counted instead. Runs in streaming mode unless
//! `execution.runtime-mode` is configured. `--rate R` throttles the source to R lines per second.
//!
//! `-D key=value` sets configuration (also through `spate run -D`). With checkpoints
//! (`-D execution.runtime-mode=STREAMING -D execution.checkpointing.interval=500ms`, optionally
//! `-D state.checkpoints.dir=...`; the default is `spate-checkpoints` in the temporary directory) the job is exactly-once: the source's position is the number of lines emitted
//! (the file is read again from its start on restore and those lines skipped, so it must not
//! change while the job runs) and the output directories get their part files through the
//! exactly-once file sink, visible when the checkpoint after them completes. Once the input ended
//! they hold the same lines as an undisturbed run, however often the job was restored, in other
//! part files (named `part-<subtask>-<counter>-<writer id>` rather than `part-<subtask>`). (A
//! batch run sees no late data — watermarks do not cross its blocking exchanges — so it gives the
//! same lines only for input no line of which is later than the out-of-orderness bound.)

use clap::Parser;
use spate::prelude::*;
use spate_connectors::iterator::IteratorSource;
use spate_examples::events::{parse_line, Event, SumCount};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

/// Tumbling and session windows in event time, with late data kept apart.
#[derive(Parser)]
struct Args {
    /// Input CSV file with `key,timestamp_ms,value` lines.
    #[arg(long)]
    input: PathBuf,
    /// Output directory (gets tumbling/, sessions/, late/ and with --skip-bad bad/).
    #[arg(long)]
    output: PathBuf,
    /// Bound of out-of-orderness in ms: watermark = highest timestamp − N − 1.
    #[arg(long, default_value_t = 200)]
    out_of_orderness_ms: u64,
    /// Size of the tumbling windows in ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    window_ms: u64,
    /// Gap that closes a session, in ms.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    session_gap_ms: u64,
    /// Send malformed lines to DIR/bad instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// A configuration value, `-D key=value` (repeatable), e.g.
    /// `-D execution.checkpointing.interval=500ms`; applied over the environment's configuration.
    #[arg(short = 'D', value_name = "KEY=VALUE")]
    define: Vec<String>,
    /// Parallelism of the windows and sinks.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
    /// Emit at most this many input lines per second (the source sleeps between them).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        // Fail early, with the path, if the input cannot be read.
        std::fs::File::open(&args.input)
            .map_err(|e| anyhow::anyhow!("cannot open input {}: {e}", args.input.display()))?;
        let env = StreamEnv::from_env()?;
        for d in &args.define {
            let (key, value) = d
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("-D {d}: expected key=value"))?;
            env.set_config(key.trim(), value.trim())?;
        }
        if !env.config().contains("execution.runtime-mode") {
            env.set_runtime_mode(RuntimeMode::Streaming);
        }
        if let Some(p) = args.parallelism {
            env.set_parallelism(p);
        }
        let input = args.input.display().to_string();
        let path = args.input.clone();
        let lines = move || {
            let file = std::fs::File::open(&path)
                .map_err(|e| spate::Error::Other(format!("cannot open input {}: {e}", path.display())))?;
            Ok(std::io::BufReader::new(file)
                .lines()
                .enumerate()
                .map(|(i, l)| (i as u64 + 1, l.map_err(|e| e.to_string()))))
        };
        let skip_bad = args.skip_bad;
        // The lines of the file, read again from the start whenever the source starts (after a
        // restore the reader skips those emitted before the checkpoint).
        let mut source = IteratorSource::from_fn(lines, true);
        if let Some(rate) = args.rate {
            source = source.with_rate(rate as f64);
        }
        let parsed = env
            .from_source(source)
            .set_parallelism(1)
            .map(move |(n, line): (u64, Result<String, String>)| {
                let line = line.unwrap_or_else(|e| panic!("{input}: cannot read line {n}: {e}"));
                match parse_line(&line) {
                    Ok(e) => Either::Left(e),
                    Err(reason) if skip_bad => Either::Right(format!("{n}: {line} ({reason})")),
                    Err(reason) => panic!("{input}: line {n}: malformed record {line:?}: {reason}"),
                }
            })
            .name("Parse")
            .set_parallelism(1);
        let events = parsed
            .flat_map_iter(|e: Either<Event, String>| match e {
                Either::Left(e) => Some(e),
                Either::Right(_) => None,
            })
            .set_parallelism(1)
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(
                    args.out_of_orderness_ms,
                ))
                .with_timestamp_assigner(|e: &Event, _| e.timestamp)
                .with_watermark_on_every_event(),
            )
            .set_parallelism(1);
        let keyed = events.key_by(|e: &Event| e.key.clone());
        let late = OutputTag::<Event>::new("late");
        let line = |k: &String, w: &TimeWindow, (sum, count): (i64, u64)| {
            format!("{k},{},{},{sum},{count}", w.start, w.end)
        };
        let tumbling = keyed
            .window(TumblingEventTimeWindows::of(Duration::from_millis(
                args.window_ms,
            )))
            .side_output_late_data(&late)
            .aggregate_with(SumCount, line);
        tumbling.write_as_text(args.output.join("tumbling"));
        tumbling
            .get_side_output(&late)
            .map(|e: Event| e.line)
            .write_as_text(args.output.join("late"));
        keyed
            .window(EventTimeSessionWindows::with_gap(Duration::from_millis(
                args.session_gap_ms,
            )))
            .aggregate_with(SumCount, line)
            .write_as_text(args.output.join("sessions"));
        if skip_bad {
            parsed
                .flat_map_iter(|e: Either<Event, String>| match e {
                    Either::Right(bad) => Some(bad),
                    Either::Left(_) => None,
                })
                .set_parallelism(1)
                .write_as_text(args.output.join("bad"))
                .name("Sink: bad lines");
        }
        let result = env.execute("event_windows")?;
        eprint!("{result}");
        if skip_bad {
            let bad = result.operator("Sink: bad lines").map_or(0, |o| o.records_in);
            eprintln!("skipped {bad} malformed line(s)");
        }
        Ok(())
    });
}
