//! Event time and windows: known answers for out-of-order input, lateness, sessions, idleness.

use spate::prelude::*;
use spate::{WatermarkGenerator, WatermarkOutput};
use spate_e2e::{binary, committed_lines};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

type Ev = (String, i64, i64); // key, timestamp, value

fn ev(k: &str, ts: i64, v: i64) -> Ev {
    (k.to_string(), ts, v)
}

/// One source subtask, a watermark after every record: deterministic results.
fn timed(env: &StreamEnv, data: Vec<Ev>, ooo_ms: u64) -> DataStream<Ev> {
    env.from_iter(data)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(ooo_ms))
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_watermark_on_every_event(),
        )
        .set_parallelism(1)
}

fn streaming(p: u32) -> StreamEnv {
    let env = StreamEnv::local();
    env.set_parallelism(p).set_runtime_mode(RuntimeMode::Streaming);
    env
}

#[allow(clippy::ptr_arg)] // the signature window functions of String keys have
fn window_sums(k: &String, w: &TimeWindow, items: Vec<Ev>, out: &mut dyn Collector<(String, i64, i64, i64)>) {
    out.collect((k.clone(), w.start, w.end, items.iter().map(|e| e.2).sum()));
}

/// Pseudo-random out-of-order events and the tumbling-window answer computed directly.
fn shuffled_events(n: usize) -> Vec<Ev> {
    let mut state = 12345u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|i| {
            let jitter = (next() % 700) as i64;
            let key = format!("k{}", next() % 7);
            (key, (i as i64) * 10 + 1000 - jitter, (next() % 100) as i64)
        })
        .collect()
}

/// Per (key, window start): (sum, count).
type WindowTotals = BTreeMap<(String, i64), (i64, u64)>;

fn reference_tumbling(data: &[Ev], size: i64, ooo: i64) -> (WindowTotals, Vec<Ev>) {
    let mut windows = BTreeMap::new();
    let mut late = Vec::new();
    let mut max_ts = i64::MIN;
    let mut wm = i64::MIN;
    for e in data {
        let start = e.1 - e.1.rem_euclid(size);
        if start + size - 1 <= wm {
            late.push(e.clone());
        } else {
            let w = windows.entry((e.0.clone(), start)).or_insert((0, 0));
            w.0 += e.2;
            w.1 += 1;
        }
        max_ts = max_ts.max(e.1);
        wm = wm.max(max_ts - ooo - 1);
    }
    (windows, late)
}

#[test]
fn tumbling_windows_and_late_data_match_a_direct_simulation_at_parallelism_1_and_4() {
    let data = shuffled_events(3000);
    let (expected, expected_late) = reference_tumbling(&data, 500, 200);
    assert!(!expected_late.is_empty(), "the data has late records");
    for p in [1, 4] {
        let env = streaming(p);
        let late = OutputTag::<Ev>::new("late");
        let sums = timed(&env, data.clone(), 200)
            .key_by(|e: &Ev| e.0.clone())
            .window(TumblingEventTimeWindows::of(Duration::from_millis(500)))
            .side_output_late_data(&late);
        let sums = sums.aggregate_with(SumCountAgg, |k: &String, w: &TimeWindow, r: (i64, u64)| {
            (k.clone(), w.start, r)
        });
        let late_out = sums.get_side_output(&late).collect();
        let got = sums.collect();
        env.execute("tumbling").unwrap();
        let got: BTreeMap<(String, i64), (i64, u64)> =
            got.take().into_iter().map(|(k, s, r)| ((k, s), r)).collect();
        assert_eq!(got, expected, "p={p}");
        let mut l = late_out.take();
        l.sort();
        let mut el = expected_late.clone();
        el.sort();
        assert_eq!(l, el, "late records, p={p}");
    }
}

#[derive(Clone)]
struct SumCountAgg;

impl AggregateFunction<Ev, (i64, u64), (i64, u64)> for SumCountAgg {
    fn create_accumulator(&self) -> (i64, u64) {
        (0, 0)
    }
    fn add(&self, acc: &mut (i64, u64), e: Ev) {
        acc.0 += e.2;
        acc.1 += 1;
    }
    fn get_result(&self, acc: &(i64, u64)) -> (i64, u64) {
        *acc
    }
    fn merge(&self, a: (i64, u64), b: (i64, u64)) -> (i64, u64) {
        (a.0 + b.0, a.1 + b.1)
    }
}

#[test]
fn sliding_windows_count_each_element_in_every_window_that_holds_it() {
    let env = streaming(2);
    let data = vec![ev("a", 100, 1), ev("a", 600, 2), ev("a", 1100, 4)];
    let out = timed(&env, data, 0)
        .key_by(|e: &Ev| e.0.clone())
        .window(SlidingEventTimeWindows::of(
            Duration::from_millis(1000),
            Duration::from_millis(500),
        ))
        .process(window_sums)
        .collect();
    env.execute("sliding").unwrap();
    let mut got = out.take();
    got.sort();
    let a = |s, e, v| ("a".to_string(), s, e, v);
    assert_eq!(
        got,
        [a(-500, 500, 1), a(0, 1000, 3), a(500, 1500, 6), a(1000, 2000, 4)]
    );
}

#[test]
fn sessions_merge_across_out_of_order_arrivals() {
    let env = streaming(2);
    // 1000 and 2000 are two sessions until 1500 arrives late (within the bound) and joins them.
    let data = vec![
        ev("a", 1000, 1),
        ev("a", 2000, 2),
        ev("a", 1500, 4),
        ev("b", 1000, 8),
        ev("a", 5000, 16),
    ];
    let out = timed(&env, data, 1000)
        .key_by(|e: &Ev| e.0.clone())
        .window(EventTimeSessionWindows::with_gap(Duration::from_millis(600)))
        .reduce(|a: Ev, b: Ev| (a.0, a.1.min(b.1), a.2 + b.2))
        .collect();
    env.execute("sessions").unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got, [ev("a", 1000, 7), ev("a", 5000, 16), ev("b", 1000, 8)]);
}

#[test]
fn allowed_lateness_refires_a_window_and_later_elements_go_to_the_side_output() {
    let env = streaming(1);
    let late = OutputTag::<Ev>::new("late");
    // Window [0, 1000) fires at watermark 999 (after ts 1000 with no out-of-orderness), then
    // ts 500 arrives within 500 ms of lateness (re-fire); ts 1700 moves the watermark past
    // 999 + 500, so ts 600 is too late.
    let data = vec![
        ev("a", 100, 1),
        ev("a", 1000, 2),
        ev("a", 500, 4),
        ev("a", 1700, 8),
        ev("a", 600, 16),
    ];
    let sums = timed(&env, data, 0)
        .key_by(|e: &Ev| e.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .allowed_lateness(Duration::from_millis(500))
        .side_output_late_data(&late)
        .process(window_sums);
    let late_out = sums.get_side_output(&late).collect();
    let got = sums.collect();
    env.execute("lateness").unwrap();
    let got = got.take();
    let first: Vec<i64> = got.iter().filter(|r| r.1 == 0).map(|r| r.3).collect();
    assert_eq!(first, [1, 5], "fired, then re-fired with the late element");
    assert_eq!(late_out.take(), [ev("a", 600, 16)]);
}

#[test]
fn count_windows_and_window_all() {
    let env = streaming(2);
    let data: Vec<Ev> = (0..10)
        .map(|i| ev(if i % 2 == 0 { "x" } else { "y" }, i, i))
        .collect();
    let tumbling = env
        .from_collection(data.clone())
        .key_by(|e: &Ev| e.0.clone())
        .count_window(2)
        .process(
            |k: &String, _: &TimeWindow, items: Vec<Ev>, out: &mut dyn Collector<(String, i64)>| {
                out.collect((k.clone(), items.iter().map(|e| e.2).sum()))
            },
        )
        .collect();
    let all = timed(&env, data, 0)
        .window_all(TumblingEventTimeWindows::of(Duration::from_millis(5)))
        .process(
            |_: &(), w: &TimeWindow, items: Vec<Ev>, out: &mut dyn Collector<(i64, usize)>| {
                out.collect((w.start, items.len()))
            },
        )
        .collect();
    env.execute("count").unwrap();
    let mut t = tumbling.take();
    t.sort();
    // x: 0,2,4,6,8 -> windows (0+2), (4+6); 8 alone never fires (Flink semantics). y likewise.
    assert_eq!(
        t,
        [
            ("x".to_string(), 2),
            ("x".to_string(), 10),
            ("y".to_string(), 4),
            ("y".to_string(), 12)
        ]
    );
    let mut a = all.take();
    a.sort();
    assert_eq!(a, [(0, 5), (5, 5)]);
}

#[test]
fn an_idle_input_does_not_hold_back_windows() {
    // Two source subtasks; the second never emits. Without idleness the watermark would stay at
    // its minimum and the window would only fire at the end of the (endless) input.
    let env = streaming(2);
    env.set_config("pipeline.auto-watermark-interval", "20ms")
        .unwrap();
    let out = env
        .from_generator(None, Some(200.0), |i| {
            if i % 2 == 0 {
                ev("a", (i as i64) * 10, 1)
            } else {
                ev("", -1, 0)
            }
        })
        .filter(|e: &Ev| e.1 >= 0)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_idleness(Duration::from_millis(100)),
        )
        .key_by(|e: &Ev| e.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_millis(100)))
        .process(window_sums)
        .collect();
    let job = env.execute_async("idle").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.peek_len() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    job.cancel();
    let _ = job.wait();
    assert!(
        out.take().iter().any(|r| r.1 == 0),
        "the first window fired while the job ran"
    );
}

#[test]
fn processing_time_windows_fire_on_the_clock() {
    let env = streaming(1);
    let out = env
        .from_generator(Some(50), Some(500.0), |i| ev("a", 0, i as i64))
        .key_by(|e: &Ev| e.0.clone())
        .window(TumblingProcessingTimeWindows::of(Duration::from_millis(20)))
        .process(window_sums)
        .collect();
    env.execute("processing time").unwrap();
    let got = out.take();
    assert!(got.len() > 1, "several windows over ~100 ms: {got:?}");
    assert_eq!(
        got.iter().map(|r| r.3).sum::<i64>(),
        (0..50).sum::<i64>(),
        "every element in exactly one window"
    );
}

#[test]
fn windows_without_timestamps_fail_with_a_clear_message() {
    let env = streaming(1);
    env.from_collection(vec![ev("a", 1, 1)])
        .key_by(|e: &Ev| e.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .process(window_sums)
        .collect();
    let e = env.execute("no timestamps").unwrap_err().to_string();
    assert!(
        e.contains("without a timestamp") && e.contains("assign_timestamps_and_watermarks"),
        "{e}"
    );
}

#[test]
fn event_windows_example_contract() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    let data = shuffled_events(2000);
    let text: String = data
        .iter()
        .map(|e| format!("{},{},{}\n", e.0, e.1, e.2))
        .collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out");
    let run = Command::new(binary("examples/event_windows"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--window-ms",
            "500",
        ])
        .args(["-p", "3"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let read = |d: &str| -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_dir(out.join(d))
            .unwrap()
            .flat_map(|f| {
                std::fs::read_to_string(f.unwrap().path())
                    .unwrap()
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        lines
    };
    let (expected, late) = reference_tumbling(&data, 500, 200);
    let mut want: Vec<String> = expected
        .iter()
        .map(|((k, s), (sum, n))| format!("{k},{s},{},{sum},{n}", s + 500))
        .collect();
    want.sort();
    assert_eq!(read("tumbling"), want);
    let mut want_late: Vec<String> = late.iter().map(|e| format!("{},{},{}", e.0, e.1, e.2)).collect();
    want_late.sort();
    assert_eq!(read("late"), want_late);
    assert!(!read("sessions").is_empty());

    // A malformed line fails the job naming the line; --skip-bad counts it instead.
    std::fs::write(&input, "a,1,1\nb,oops,2\nc,3,3\n").unwrap();
    let bad = Command::new(binary("examples/event_windows"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("bad timestamp"),
        "{stderr}"
    );
    let skip = Command::new(binary("examples/event_windows"))
        .args([
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--skip-bad",
        ])
        .output()
        .unwrap();
    assert!(skip.status.success(), "{}", String::from_utf8_lossy(&skip.stderr));
    assert!(String::from_utf8_lossy(&skip.stderr).contains("skipped 1 malformed line"));
    assert_eq!(read("bad").len(), 1);
    assert_eq!(read("tumbling"), ["a,0,1000,1,1", "c,0,1000,3,1"]);
}

#[test]
fn count_and_purging_triggers_on_time_windows() {
    let data: Vec<Ev> = (1..=5)
        .map(|i| ev("a", i * 100, i))
        .chain([ev("b", 50, 100)])
        .collect();
    let run = |trigger: Trigger| {
        let env = streaming(2);
        let out = timed(&env, data.clone(), 0)
            .key_by(|e: &Ev| e.0.clone())
            .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
            .trigger(trigger)
            .process(window_sums)
            .collect();
        env.execute("triggers").unwrap();
        let mut got: Vec<i64> = out
            .take()
            .into_iter()
            .filter(|r| r.0 == "a")
            .map(|r| r.3)
            .collect();
        got.sort();
        got
    };
    // Every 2 elements, contents kept: 1+2, then 1+2+3+4; the fifth never completes a count and
    // a count trigger does not fire at the window's end.
    assert_eq!(run(Trigger::count(2)), [3, 10]);
    // Purging: each firing sees only the elements since the last one.
    assert_eq!(run(Trigger::purging(Trigger::count(2))), [3, 7]);
    // The default fires once at the end with everything.
    assert_eq!(run(Trigger::Time), [15]);
}

#[test]
fn watermarks_generated_inside_the_source_per_split() {
    use spate_connectors::collection::CollectionSource;
    use spate_connectors::sequence::SequenceSource;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    // Per-event watermarks from the source give exactly the simulated answer.
    let data = shuffled_events(2000);
    let (expected, expected_late) = reference_tumbling(&data, 500, 200);
    let env = streaming(3);
    let late = OutputTag::<Ev>::new("late");
    let strategy = WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(200))
        .with_timestamp_assigner(|e: &Ev, _| e.1)
        .with_watermark_on_every_event();
    let sums = env
        .from_source_with_watermarks(CollectionSource::new(data), strategy)
        .set_parallelism(1)
        .key_by(|e: &Ev| e.0.clone())
        .window(TumblingEventTimeWindows::of(Duration::from_millis(500)))
        .side_output_late_data(&late)
        .aggregate_with(SumCountAgg, |k: &String, w: &TimeWindow, r: (i64, u64)| {
            (k.clone(), w.start, r)
        });
    let late_out = sums.get_side_output(&late).collect();
    let got = sums.collect();
    env.execute("source watermarks").unwrap();
    let got: BTreeMap<(String, i64), (i64, u64)> =
        got.take().into_iter().map(|(k, s, r)| ((k, s), r)).collect();
    assert_eq!(got, expected);
    assert_eq!(late_out.take().len(), expected_late.len());

    // One generator per split: a sequence read by one subtask comes in 4 splits.
    #[derive(Clone)]
    struct Counting(i64);
    impl WatermarkGenerator for Counting {
        fn on_event(&mut self, ts: i64, _: &mut WatermarkOutput) {
            self.0 = self.0.max(ts);
        }
        fn on_periodic_emit(&mut self, out: &mut WatermarkOutput) {
            out.emit_watermark(self.0);
        }
    }
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let env = streaming(1);
    let strategy = WatermarkStrategy::for_generator(move || {
        m.fetch_add(1, Ordering::SeqCst);
        Counting(i64::MIN)
    })
    .with_timestamp_assigner(|x: &i64, _| *x);
    let counts = env
        .from_source_with_watermarks(SequenceSource::new(0, 3999), strategy)
        .key_by(|_: &i64| 0u8)
        .window(TumblingEventTimeWindows::of(Duration::from_millis(1000)))
        .process(
            |_: &u8, w: &TimeWindow, xs: Vec<i64>, out: &mut dyn Collector<(i64, usize)>| {
                out.collect((w.start, xs.len()))
            },
        )
        .collect();
    env.execute("per split").unwrap();
    assert_eq!(made.load(Ordering::SeqCst), 4, "one generator per split");
    let mut c = counts.take();
    c.sort();
    assert_eq!(c, [(0, 1000), (1000, 1000), (2000, 1000), (3000, 1000)]);
}

#[test]
fn global_windows_fire_only_through_their_trigger() {
    let data: Vec<Ev> = (0..10)
        .map(|i| ev(if i % 2 == 0 { "x" } else { "y" }, i, i))
        .collect();
    let run = |trigger: Option<Trigger>| {
        let env = streaming(2);
        let w = env
            .from_collection(data.clone())
            .key_by(|e: &Ev| e.0.clone())
            .window(GlobalWindows::create());
        let w = match trigger {
            Some(t) => w.trigger(t),
            None => w,
        };
        let out = w
            .process(
                |k: &String, _: &TimeWindow, items: Vec<Ev>, out: &mut dyn Collector<(String, i64)>| {
                    out.collect((k.clone(), items.iter().map(|e| e.2).sum()))
                },
            )
            .collect();
        env.execute("global").unwrap();
        let mut got = out.take();
        got.sort();
        got
    };
    // Purging count trigger = tumbling count windows.
    let x = |v| ("x".to_string(), v);
    let y = |v| ("y".to_string(), v);
    assert_eq!(
        run(Some(Trigger::purging(Trigger::count(2)))),
        [x(2), x(10), y(4), y(12)]
    );
    // Without a trigger a global window never fires, not even at the end of the input.
    assert_eq!(run(None), []);
}

#[test]
fn event_windows_with_checkpoints_writes_the_lines_of_a_batch_run_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    // In order up to 300 ms, below the bound: no late line, so the batch run is the reference.
    let text: String = (0..6000u64)
        .map(|i| format!("k{},{},{}\n", i % 17, i * 3 + (i % 5) * 60, i % 11))
        .collect();
    std::fs::write(&input, text).unwrap();
    let run = |out: &std::path::Path, extra: &[&str]| {
        let o = Command::new(binary("examples/event_windows"))
            .args([
                "--input",
                input.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
                "--out-of-orderness-ms",
                "400",
                "-p",
                "2",
            ])
            .args(extra)
            .env_remove("SPATE_DYNAMIC_PROPERTIES")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let batch = dir.path().join("batch");
    run(&batch, &["-D", "execution.runtime-mode=BATCH"]);
    let streaming = dir.path().join("streaming");
    let checkpoints = dir.path().join("checkpoints");
    let log = run(
        &streaming,
        &[
            "--rate",
            "4000",
            "-D",
            "execution.runtime-mode=STREAMING",
            "-D",
            "execution.checkpointing.interval=500ms",
            "-D",
            &format!("state.checkpoints.dir={}", checkpoints.display()),
        ],
    );
    assert!(
        log.contains("checkpoint completed"),
        "no checkpoint was taken:\n{log}"
    );
    for sub in ["tumbling", "sessions", "late"] {
        assert_eq!(
            committed_lines(&batch.join(sub)),
            committed_lines(&streaming.join(sub)),
            "{sub} differs"
        );
        let hidden: Vec<_> = std::fs::read_dir(streaming.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "staged files left in {sub}: {hidden:?}");
    }
    assert!(!committed_lines(&streaming.join("tumbling")).is_empty());
    // A finished job's checkpoints are removed.
    let left: Vec<_> = std::fs::read_dir(&checkpoints)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "checkpoints left after the job finished: {left:?}"
    );
}
