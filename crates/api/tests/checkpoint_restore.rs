//! Stateful operators in a real (embedded) streaming job with checkpoints: a job restored from
//! one of its checkpoints at another parallelism continues with exactly the state it had.

use spate::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone)]
struct SumCount;

impl AggregateFunction<(u32, i64), (i64, u64), (i64, u64)> for SumCount {
    fn create_accumulator(&self) -> (i64, u64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (i64, u64), r: (u32, i64)) {
        acc.0 += r.1;
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(i64, u64)) -> (i64, u64) {
        *acc
    }
    fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

const RECORDS: u64 = 6_000;

type Outputs = (Vec<(u32, i64, i64, u64)>, Vec<(u32, u64)>);

/// Tumbling-window sums and a running count per key (keyed state), over a throttled generator
/// with deterministic timestamps and watermarks.
fn run(parallelism: u32, config: &[(&str, String)]) -> Outputs {
    let env = StreamEnv::local();
    env.set_runtime_mode(RuntimeMode::Streaming);
    env.set_parallelism(parallelism);
    for (k, v) in config {
        env.set_config(k, v).expect("config");
    }
    let events = env
        .from_generator(Some(RECORDS), Some(4_000.0), |i| {
            ((i % 13) as u32, (i * 3 + i * 7 % 11) as i64)
        })
        .set_parallelism(1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(20))
                .with_timestamp_assigner(|r: &(u32, i64), _| r.1)
                .with_watermark_on_every_event(),
        );
    let keyed = events.key_by(|r: &(u32, i64)| r.0);
    let windows = keyed
        .window(TumblingEventTimeWindows::of(Duration::from_millis(100)))
        .aggregate_with(SumCount, |k: &u32, w: &TimeWindow, (s, c): (i64, u64)| {
            (*k, w.start, s, c)
        })
        .collect();
    let counts = keyed
        .process(
            |r: (u32, i64), ctx: &mut KeyedContext<u32>, out: &mut dyn Collector<(u32, u64)>| {
                let mut n = ctx.value_state::<u64>("n");
                let next = n.value().copied().unwrap_or(0) + 1;
                n.update(next);
                out.collect((r.0, next));
            },
        )
        .collect();
    env.execute("checkpointed").expect("job");
    let (mut w, mut c) = (windows.take(), counts.take());
    w.sort();
    c.sort();
    (w, c)
}

/// Complete checkpoints under `dir` (those with their metadata), oldest first.
fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for job in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for chk in std::fs::read_dir(job.path()).into_iter().flatten().flatten() {
            let p = chk.path();
            let n = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("chk-"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(n) = n {
                if p.join("_metadata").exists() {
                    found.push((n, p));
                }
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

fn is_sub_multiset<T: Ord + Clone + std::hash::Hash>(small: &[T], big: &[T]) -> bool {
    let mut have: HashMap<&T, i64> = HashMap::new();
    for x in big {
        *have.entry(x).or_default() += 1;
    }
    small.iter().all(|x| {
        let n = have.entry(x).or_default();
        *n -= 1;
        *n >= 0
    })
}

#[test]
fn a_restored_job_continues_with_its_window_and_keyed_state_at_another_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = vec![
        ("execution.checkpointing.interval", "100ms".to_string()),
        ("state.checkpoints.num-retained", "100".to_string()),
        ("state.checkpoints.dir", dir.path().display().to_string()),
    ];
    let (windows, counts) = run(2, &cfg);
    assert_eq!(counts.len() as u64, RECORDS);
    let found = checkpoints(dir.path());
    // Checkpoints depend on timing; every one that completed must restore correctly.
    for chk in found.iter().rev().take(3) {
        let restore = vec![("execution.savepoint.path", chk.display().to_string())];
        for p in [3, 1] {
            let (w, c) = run(p, &restore);
            // Windows open at the checkpoint fire with their whole contents: each result is one
            // of the full run's.
            assert!(
                is_sub_multiset(&w, &windows),
                "{}: windows not of the full run",
                chk.display()
            );
            // Per key, the restored run continues the count where the checkpoint left it.
            let mut per_key: HashMap<u32, Vec<u64>> = HashMap::new();
            for (k, n) in &c {
                per_key.entry(*k).or_default().push(*n);
            }
            for (k, ns) in per_key {
                let total = counts.iter().filter(|(x, _)| *x == k).count() as u64;
                let first = total - ns.len() as u64 + 1;
                assert_eq!(
                    ns,
                    (first..=total).collect::<Vec<_>>(),
                    "key {k} after {}",
                    chk.display()
                );
            }
        }
    }
    eprintln!("{} checkpoints completed and were restored", found.len().min(3));
}
