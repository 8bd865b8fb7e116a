//! Windowed word count on an endless generated stream with event time: every second of event
//! time, the count of each word in that second, printed as `window_start<TAB>word<TAB>count`.
//! `windowed_wordcount [--records N] [--rate R] [--window-ms W] [--parallelism P]`; without
//! `--records` it runs until interrupted.

use clap::Parser;
use spate::prelude::*;
use std::time::Duration;

const SENTENCES: &[&str] = &[
    "the quick brown fox",
    "jumps over the lazy dog",
    "the dog barks",
    "the fox runs away",
];

/// Counts words per event-time window of a generated stream.
#[derive(Parser)]
struct Args {
    /// Stop after this many sentences (default: never).
    #[arg(long)]
    records: Option<u64>,
    /// Sentences per second.
    #[arg(long, default_value_t = 50.0)]
    rate: f64,
    /// Window size in ms of event time.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    window_ms: u64,
    /// Parallelism.
    #[arg(long, short = 'p')]
    parallelism: Option<u32>,
}

fn main() {
    let args = Args::parse();
    spate_examples::run_main(|| {
        let env = StreamEnv::from_env()?;
        env.set_runtime_mode(RuntimeMode::Streaming);
        if let Some(p) = args.parallelism {
            env.set_parallelism(p);
        }
        // Sentence i happens at event time 1000 + i * 20 ms, arriving up to 100 ms out of order.
        let sentences = env.from_generator(args.records, Some(args.rate), |i| {
            let jitter = ((i * 7919) % 6) as i64 * 20;
            (
                SENTENCES[(i % 4) as usize].to_string(),
                1000 + (i as i64) * 20 - jitter,
            )
        });
        sentences
            .assign_timestamps_and_watermarks(
                WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(100))
                    .with_timestamp_assigner(|s: &(String, i64), _| s.1),
            )
            .flat_map(|(s, _): (String, i64), out: &mut dyn Collector<(String, u64)>| {
                s.split(' ').for_each(|w| out.collect((w.to_string(), 1)))
            })
            .key_by(|(w, _): &(String, u64)| w.clone())
            .window(TumblingEventTimeWindows::of(Duration::from_millis(
                args.window_ms,
            )))
            .aggregate_with(Count, |w: &String, win: &TimeWindow, n: u64| {
                (win.start, w.clone(), n)
            })
            .print_with(|(start, w, n)| format!("{start}\t{w}\t{n}"));
        env.execute("windowed wordcount")?;
        Ok(())
    });
}

/// Counts elements.
#[derive(Clone)]
struct Count;

impl AggregateFunction<(String, u64), u64, u64> for Count {
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, acc: &mut u64, _: (String, u64)) {
        *acc += 1;
    }
    fn get_result(&self, acc: &u64) -> u64 {
        *acc
    }
    fn merge(&self, a: u64, b: u64) -> u64 {
        a + b
    }
}
