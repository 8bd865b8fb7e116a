//! Keyed state and timers of keyed process functions.

use spate::prelude::*;
use spate::{AggregatingState, ListState};
use std::time::Duration;

type Ev = (String, i64); // key, timestamp

fn timed(env: &StreamEnv, data: Vec<Ev>) -> DataStream<Ev> {
    env.from_iter(data)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_monotonous_timestamps()
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_watermark_on_every_event(),
        )
        .set_parallelism(1)
}

/// Counts records per key and reports the count 100 ms (event time) after the key's first record;
/// a record with timestamp 999 cancels its key's report.
#[derive(Clone)]
struct DelayedCount;

impl KeyedProcessFunction<String, Ev, (String, i64, u32)> for DelayedCount {
    fn process_element(
        &mut self,
        e: Ev,
        ctx: &mut KeyedContext<'_, String>,
        _out: &mut dyn Collector<(String, i64, u32)>,
    ) {
        let mut first = ctx.value_state::<i64>("first");
        let first_ts = match first.value() {
            Some(t) => *t,
            None => {
                first.update(e.1);
                e.1
            }
        };
        let mut n = ctx.reducing_state("count", |a: u32, b: u32| a + b);
        n.add(1);
        if e.1 == 999 {
            ctx.delete_event_time_timer(first_ts + 100);
        } else {
            ctx.register_event_time_timer(first_ts + 100);
        }
    }

    fn on_timer(
        &mut self,
        ts: i64,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut dyn Collector<(String, i64, u32)>,
    ) {
        assert_eq!(ctx.timestamp(), Some(ts), "timer results carry the timer's time");
        let n = ctx
            .reducing_state("count", |a: u32, b: u32| a + b)
            .get()
            .copied()
            .unwrap_or(0);
        out.collect((ctx.key().clone(), ts, n));
        ctx.value_state::<i64>("first").clear();
    }
}

#[test]
fn event_time_timers_fire_in_order_per_key_with_state_isolated_per_key() {
    for p in [1, 3] {
        let env = StreamEnv::local();
        env.set_parallelism(p).set_runtime_mode(RuntimeMode::Streaming);
        let data: Vec<Ev> = vec![
            ("a".into(), 10),
            ("b".into(), 20),
            ("a".into(), 50),
            ("c".into(), 60),
            ("b".into(), 130),
            ("c".into(), 999),
            ("a".into(), 2000),
        ];
        let out = timed(&env, data)
            .key_by(|e: &Ev| e.0.clone())
            .process_function(DelayedCount)
            .collect();
        env.execute("timers").unwrap();
        let got = out.take();
        // a: first 10 -> fires at 110 with 2 records. b: first 20 -> fires at 120, when the
        // watermark reaches 129 after b's record at 130, so it counts 2. c's timer was deleted.
        // a again at 2000 -> 2100 at the end of input (count 3: the reducing state is kept).
        let mut sorted = got.clone();
        sorted.sort_by_key(|r| r.1);
        assert_eq!(
            sorted,
            [
                ("a".to_string(), 110, 2),
                ("b".to_string(), 120, 2),
                ("a".to_string(), 2100, 3)
            ],
            "p={p}"
        );
        if p == 1 {
            assert_eq!(got, sorted, "one subtask fires its timers in timestamp order");
        }
    }
}

#[test]
fn list_map_and_aggregating_state_per_key() {
    #[derive(Clone)]
    struct Avg;
    impl AggregateFunction<i64, (i64, i64), f64> for Avg {
        fn create_accumulator(&self) -> (i64, i64) {
            (0, 0)
        }
        fn add(&self, acc: &mut (i64, i64), v: i64) {
            acc.0 += v;
            acc.1 += 1;
        }
        fn get_result(&self, acc: &(i64, i64)) -> f64 {
            acc.0 as f64 / acc.1 as f64
        }
        fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }
    let env = StreamEnv::local();
    env.set_parallelism(2);
    let out = env
        .from_collection((0..40i64).collect::<Vec<_>>())
        .key_by(|x: &i64| x % 4)
        .process(
            |x: i64, ctx: &mut KeyedContext<i64>, out: &mut dyn Collector<(i64, usize, usize, f64)>| {
                let mut l: ListState<i64, i64> = ctx.list_state("seen");
                l.add(x);
                let len = l.get().len();
                let mut m = ctx.map_state::<i64, i64>("by-tens");
                m.put(x / 10, x);
                let tens = m.entries().len();
                let avg = Avg;
                let mut a: AggregatingState<i64, (i64, i64), Avg> = ctx.aggregating_state("avg", &avg);
                a.add::<i64, f64>(x);
                let mean = a.get::<i64, f64>().unwrap_or(0.0);
                out.collect((*ctx.key(), len, tens, mean));
            },
        )
        .collect();
    env.execute("state").unwrap();
    let got = out.take();
    for k in 0..4 {
        let last = got.iter().filter(|r| r.0 == k).max_by_key(|r| r.1).unwrap();
        let values: Vec<i64> = (0..40).filter(|x| x % 4 == k).collect();
        assert_eq!(last.1, values.len(), "key {k} saw only its own records");
        assert_eq!(last.2, 4, "tens 0..3");
        let mean = values.iter().sum::<i64>() as f64 / values.len() as f64;
        assert!((last.3 - mean).abs() < 1e-9);
    }
}

#[test]
fn state_with_ttl_expires() {
    let env = StreamEnv::local();
    env.set_parallelism(1).set_runtime_mode(RuntimeMode::Streaming);
    // One record every ~20 ms for the same key; a 5 ms TTL means every record finds no value,
    // a 10 s TTL means each finds the previous one.
    let out = env
        .from_generator(Some(8), Some(50.0), |i| i)
        .key_by(|_: &u64| 0u8)
        .process(
            |i: u64, ctx: &mut KeyedContext<u8>, out: &mut dyn Collector<(u64, bool, bool)>| {
                let mut short = ctx.value_state_with_ttl::<u64>("short", Duration::from_millis(5));
                let short_seen = short.value().is_some();
                short.update(i);
                let mut long = ctx.value_state_with_ttl::<u64>("long", Duration::from_secs(10));
                let long_seen = long.value().is_some();
                long.update(i);
                out.collect((i, short_seen, long_seen));
            },
        )
        .collect();
    env.execute("ttl").unwrap();
    let mut got = out.take();
    got.sort();
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|r| !r.1), "short-lived values expired: {got:?}");
    assert!(
        got.iter().skip(1).all(|r| r.2),
        "long-lived values stayed: {got:?}"
    );
}

#[test]
fn a_process_function_writes_declared_side_outputs() {
    #[derive(Clone)]
    struct Split {
        big: OutputTag<i64>,
    }
    impl KeyedProcessFunction<i64, i64, i64> for Split {
        fn process_element(&mut self, x: i64, ctx: &mut KeyedContext<'_, i64>, out: &mut dyn Collector<i64>) {
            if x >= 50 {
                ctx.output(&self.big, x);
            } else {
                out.collect(x);
            }
        }
    }
    let env = StreamEnv::local();
    env.set_parallelism(3);
    let big = OutputTag::<i64>::new("big");
    let small = env
        .from_sequence(0, 99)
        .key_by(|x: &i64| x % 5)
        .process_function_with_outputs(Split { big: big.clone() }, [big.declare()]);
    let big_out = small.get_side_output(&big).collect();
    let small_out = small.collect();
    env.execute("side outputs").unwrap();
    let mut b = big_out.take();
    b.sort();
    let mut s = small_out.take();
    s.sort();
    assert_eq!(b, (50..100).collect::<Vec<_>>());
    assert_eq!(s, (0..50).collect::<Vec<_>>());

    // Writing to an undeclared tag fails the job with the tag's name.
    let env = StreamEnv::local();
    let undeclared = OutputTag::<i64>::new("nowhere");
    env.from_sequence(0, 99)
        .key_by(|x: &i64| x % 5)
        .process_function(Split { big: undeclared })
        .collect();
    let e = env.execute("undeclared").unwrap_err().to_string();
    assert!(e.contains("side output 'nowhere' is not declared"), "{e}");
}

#[test]
fn processing_time_timers_fire_in_keyed_process_and_co_process_functions() {
    #[derive(Clone)]
    struct Ping;
    impl KeyedProcessFunction<u8, u64, String> for Ping {
        fn process_element(&mut self, i: u64, ctx: &mut KeyedContext<'_, u8>, _: &mut dyn Collector<String>) {
            if i == 0 {
                let at = ctx.current_processing_time() + 20;
                ctx.register_processing_time_timer(at);
            }
        }
        fn on_timer(&mut self, _: i64, _: &mut KeyedContext<'_, u8>, out: &mut dyn Collector<String>) {
            out.collect("single".into());
        }
    }
    #[derive(Clone)]
    struct CoPing;
    impl KeyedCoProcessFunction<u8, u64, u64, String> for CoPing {
        fn process_element1(
            &mut self,
            i: u64,
            ctx: &mut KeyedCoContext<'_, u8>,
            _: &mut dyn Collector<String>,
        ) {
            if i == 0 {
                let at = ctx.current_processing_time() + 20;
                ctx.register_processing_time_timer(at);
            }
        }
        fn process_element2(
            &mut self,
            _: u64,
            _: &mut KeyedCoContext<'_, u8>,
            _: &mut dyn Collector<String>,
        ) {
        }
        fn on_timer(&mut self, _: i64, _: &mut KeyedCoContext<'_, u8>, out: &mut dyn Collector<String>) {
            out.collect("co".into());
        }
    }
    let env = StreamEnv::local();
    env.set_parallelism(1).set_runtime_mode(RuntimeMode::Streaming);
    // About 400 ms of input, so the 20 ms timers fire while the job runs.
    let a = env.from_generator(Some(40), Some(100.0), |i| i);
    let b = env.from_generator(Some(40), Some(100.0), |i| i);
    let single = a.key_by(|_: &u64| 0u8).process_function(Ping).collect();
    let co = a
        .key_by(|_: &u64| 0u8)
        .connect(&b.key_by(|_: &u64| 0u8))
        .process(CoPing)
        .collect();
    env.execute("processing-time timers").unwrap();
    assert_eq!(single.take(), ["single"]);
    assert_eq!(co.take(), ["co"]);
}
