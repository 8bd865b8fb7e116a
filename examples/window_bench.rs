//! The engine side of the window benchmark (`scripts/bench-windows.sh`): a keyed tumbling
//! event-time window count over a generated stream, in streaming mode.
//!
//! `window_bench [--events N] [--keys K] [--events-per-ms R] [--out-of-orderness-ms B]
//! [--window-ms W] [--seed S] [--parallelism P]`
//!
//! Event `i` is `(key, timestamp_ms)`, made from `i` alone by the same function as the
//! hand-written baseline's (`crates/bench/src/window_baseline.rs`, `event`; copied here because
//! `spate-examples` cannot depend on `spate-bench`): the timestamp advances 1 ms every R events and
//! is pulled back by a pseudo-random jitter below B ms. The pipeline is
//! generator → timestamps and periodic bounded-out-of-orderness watermarks → `key_by` →
//! `TumblingEventTimeWindows` → `aggregate` (count) → a sink that only sums: results, their
//! counts and a checksum of `(key, window_start, count)`. Prints one line on stdout:
//! `events=N results=R total=T checksum=0x... late=L seconds=S events_per_sec=E` (L counts events
//! that went to the late side output; the disorder stays below the bound, so it must be 0).

use clap::Parser;
use spate::prelude::*;
use spate::{Sink, SinkWriter, TaskContext};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keyed tumbling event-time window count over generated events.
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
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    window_ms: u64,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Parallelism of every operator.
    #[arg(long, short = 'p', default_value_t = 2)]
    parallelism: u32,
}

// --- The generator: keep identical to crates/bench/src/window_baseline.rs. ---

const BASE_TS: i64 = 1_700_000_000_000;

#[inline]
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[inline]
fn event(i: u64, keys: u64, events_per_ms: u64, bound_ms: u64, seed: u64) -> (u64, i64) {
    let h = mix(i ^ seed);
    let key = h % keys;
    let jitter = if bound_ms == 0 { 0 } else { (h >> 40) % bound_ms };
    (key, BASE_TS + (i / events_per_ms) as i64 - jitter as i64)
}

#[inline]
fn result_hash(key: u64, window_start: i64, count: u64) -> u64 {
    mix(mix(key ^ mix(window_start as u64)) ^ count)
}

// --- The job. ---

/// Counts the events of a window.
#[derive(Clone)]
struct Count;

impl AggregateFunction<(u64, i64), u64, u64> for Count {
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _value: (u64, i64)) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}

/// Results, total count, checksum.
type Totals = Arc<Mutex<(u64, u64, u64)>>;

/// Sums `(key, window_start, count)` results per subtask, adding them up at the end.
struct ChecksumSink(Totals);

struct ChecksumWriter {
    totals: Totals,
    results: u64,
    total: u64,
    checksum: u64,
}

impl Sink<(u64, i64, u64)> for ChecksumSink {
    fn name(&self) -> String {
        "Checksum".into()
    }
    fn create_writer(&self, _ctx: &TaskContext) -> spate::Result<Box<dyn SinkWriter<(u64, i64, u64)>>> {
        Ok(Box::new(ChecksumWriter {
            totals: self.0.clone(),
            results: 0,
            total: 0,
            checksum: 0,
        }))
    }
}

impl SinkWriter<(u64, i64, u64)> for ChecksumWriter {
    fn write(&mut self, (key, start, count): (u64, i64, u64)) -> spate::Result<()> {
        self.results += 1;
        self.total += count;
        self.checksum = self.checksum.wrapping_add(result_hash(key, start, count));
        Ok(())
    }
    fn finish(&mut self) -> spate::Result<()> {
        let mut t = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        t.0 += self.results;
        t.1 += self.total;
        t.2 = t.2.wrapping_add(self.checksum);
        Ok(())
    }
}

/// Counts late events.
struct LateSink(Arc<Mutex<u64>>);

struct LateWriter(Arc<Mutex<u64>>, u64);

impl Sink<(u64, i64)> for LateSink {
    fn name(&self) -> String {
        "Late events".into()
    }
    fn create_writer(&self, _ctx: &TaskContext) -> spate::Result<Box<dyn SinkWriter<(u64, i64)>>> {
        Ok(Box::new(LateWriter(self.0.clone(), 0)))
    }
}

impl SinkWriter<(u64, i64)> for LateWriter {
    fn write(&mut self, _record: (u64, i64)) -> spate::Result<()> {
        self.1 += 1;
        Ok(())
    }
    fn finish(&mut self) -> spate::Result<()> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += self.1;
        Ok(())
    }
}

fn main() {
    let a = Args::parse();
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        if !env.config().contains("execution.runtime-mode") {
            env.set_runtime_mode(RuntimeMode::Streaming);
        }
        env.set_parallelism(a.parallelism);
        let (keys, per_ms, bound, seed) = (a.keys, a.events_per_ms, a.out_of_orderness_ms, a.seed);
        let totals: Totals = Arc::default();
        let late_count = Arc::new(Mutex::new(0u64));
        let late = OutputTag::<(u64, i64)>::new("late");
        let counts = env
            .from_generator(Some(a.events), None, move |i| event(i, keys, per_ms, bound, seed))
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(bound))
                    .with_timestamp_assigner(|e: &(u64, i64), _| e.1),
            )
            .key_by(|e: &(u64, i64)| e.0)
            .window(TumblingEventTimeWindows::of(Duration::from_millis(a.window_ms)))
            .side_output_late_data(&late)
            .aggregate_with(Count, |k: &u64, w: &TimeWindow, n: u64| (*k, w.start, n));
        counts.sink_to(ChecksumSink(totals.clone()));
        counts
            .get_side_output(&late)
            .sink_to(LateSink(late_count.clone()));
        let t = Instant::now();
        let result = env.execute("window_bench")?;
        let secs = t.elapsed().as_secs_f64();
        eprint!("{result}");
        let (results, total, checksum) = *totals.lock().unwrap_or_else(|e| e.into_inner());
        let late = *late_count.lock().unwrap_or_else(|e| e.into_inner());
        println!(
            "events={} results={results} total={total} checksum={checksum:#018x} late={late} \
             seconds={secs:.3} events_per_sec={:.0}",
            a.events,
            a.events as f64 / secs.max(1e-9)
        );
        Ok(())
    });
}
