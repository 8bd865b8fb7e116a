//! `window-baseline [--events N] [--keys K] [--events-per-ms R] [--out-of-orderness-ms B]
//! [--window-ms W] [--seed S]`: the hand-written single-threaded tumbling event-time window count
//! that the engine's `window_bench` example is measured against (`scripts/bench-windows.sh`).
//!
//! Prints one line on stdout:
//! `events=N results=R total=T checksum=0x... late=L seconds=S events_per_sec=E`.

use clap::Parser;
use spate_bench::window_baseline::{run, Params};
use std::time::Instant;

/// Counts generated events per key and tumbling event-time window on one thread.
#[derive(Parser)]
struct Args {
    /// Number of events.
    #[arg(long, default_value_t = 50_000_000)]
    events: u64,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    keys: u64,
    /// Events per millisecond of event time.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    events_per_ms: u64,
    /// Bound of out-of-orderness in ms (the generated disorder stays below it).
    #[arg(long, default_value_t = 100)]
    out_of_orderness_ms: u64,
    /// Size of the tumbling windows in ms.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..))]
    window_ms: i64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Accepted and ignored, so the baseline can stand in for the engine's example.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    let a = Args::parse();
    let p = Params {
        keys: a.keys,
        events_per_ms: a.events_per_ms,
        bound_ms: a.out_of_orderness_ms,
        window_ms: a.window_ms,
        seed: a.seed,
    };
    let t = Instant::now();
    let s = run(a.events, &p);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "events={} results={} total={} checksum={:#018x} late={} seconds={:.3} events_per_sec={:.0}",
        s.events,
        s.results,
        s.total,
        s.checksum,
        s.late,
        secs,
        s.events as f64 / secs.max(1e-9)
    );
}
