//! Two-input operations in streaming mode: connected streams (co-map, keyed co-process with state
//! and timers), the broadcast state pattern, interval joins and window joins, each against an
//! answer computed directly, at parallelism 1 and 3.

use spate::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Ev = (String, i64, i64); // key, timestamp, value

/// Out-of-orderness of the generated inputs stays below this, so no record is late.
const BOUND_MS: u64 = 200;

fn streaming(p: u32) -> StreamEnv {
    let env = StreamEnv::local();
    env.set_parallelism(p).set_runtime_mode(RuntimeMode::Streaming);
    env
}

/// One source subtask, a watermark after every record.
fn timed(env: &StreamEnv, data: Vec<Ev>) -> DataStream<Ev> {
    env.from_iter(data)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(BOUND_MS))
                .with_timestamp_assigner(|e: &Ev, _| e.1)
                .with_watermark_on_every_event(),
        )
        .set_parallelism(1)
}

/// Pseudo-random events: `n` of them over `keys` keys, every `step` ms with up to `jitter` ms of
/// disorder (below [`BOUND_MS`]).
fn events(seed: u64, n: usize, keys: u64, step: i64, jitter: u64) -> Vec<Ev> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|i| {
            let ts = (i as i64) * step + 1000 - (next() % jitter) as i64;
            (format!("k{}", next() % keys), ts, (next() % 100) as i64)
        })
        .collect()
}

/// Records each result with the event timestamp it carries, through a timestamp assigner that
/// keeps it; the results themselves come from `collect`.
fn timestamps_of<T: spate::Data>(s: &DataStream<T>) -> Arc<Mutex<Vec<(T, i64)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    s.assign_timestamps_and_watermarks(
        WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(move |r: &T, ts| {
            if let Ok(mut v) = sink.lock() {
                v.push((r.clone(), ts));
            }
            ts
        }),
    );
    seen
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn co_map_and_co_flat_map_merge_two_streams_of_different_types() {
    let numbers: Vec<i64> = (0..500).collect();
    let words: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    let mut expected: Vec<String> = numbers.iter().map(|n| format!("n{n}")).collect();
    expected.extend(words.iter().cloned());
    let mut expected_flat: Vec<String> = numbers
        .iter()
        .filter(|n| *n % 2 == 0)
        .map(|n| n.to_string())
        .collect();
    expected_flat.extend(words.iter().flat_map(|w| [w.clone(), w.to_uppercase()]));
    for p in [1, 3] {
        let env = streaming(p);
        let (a, b) = (env.from_iter(numbers.clone()), env.from_iter(words.clone()));
        let mapped = a
            .connect(&b)
            .map(|n: i64| format!("n{n}"), |w: String| w)
            .collect();
        let flat = a
            .rebalance()
            .connect(&b)
            .flat_map(
                |n: i64, out: &mut dyn Collector<String>| {
                    if n % 2 == 0 {
                        out.collect(n.to_string())
                    }
                },
                |w: String, out: &mut dyn Collector<String>| {
                    out.collect(w.to_uppercase());
                    out.collect(w);
                },
            )
            .collect();
        env.execute("co-map").unwrap();
        assert_eq!(sorted(mapped.take()), sorted(expected.clone()), "p={p}");
        assert_eq!(sorted(flat.take()), sorted(expected_flat.clone()), "p={p}");
    }
}

/// Orders (first input) are paid if a payment (second input) of their key arrives within
/// `TIMEOUT` ms of event time; a timer at `order + TIMEOUT` decides. Counts the timers that fired
/// before the end of input (the final watermark fires all the rest).
#[derive(Clone)]
struct PaymentCheck {
    fired_before_end: Arc<AtomicUsize>,
}

const TIMEOUT: i64 = 100;

/// (key, order timestamp, amount, paid)
type Verdict = (String, i64, i64, bool);

impl KeyedCoProcessFunction<String, Ev, Ev, Verdict> for PaymentCheck {
    fn process_element1(
        &mut self,
        order: Ev,
        ctx: &mut KeyedCoContext<String>,
        _: &mut dyn Collector<Verdict>,
    ) {
        ctx.register_event_time_timer(order.1 + TIMEOUT);
        let mut orders = ctx.value_state::<Vec<(i64, i64)>>("orders");
        let mut list = orders.value().cloned().unwrap_or_default();
        list.push((order.1, order.2));
        orders.update(list);
    }

    fn process_element2(
        &mut self,
        payment: Ev,
        ctx: &mut KeyedCoContext<String>,
        _: &mut dyn Collector<Verdict>,
    ) {
        let mut payments = ctx.value_state::<Vec<i64>>("payments");
        let mut list = payments.value().cloned().unwrap_or_default();
        list.push(payment.1);
        payments.update(list);
    }

    fn on_timer(&mut self, t: i64, ctx: &mut KeyedCoContext<String>, out: &mut dyn Collector<Verdict>) {
        assert_eq!(ctx.timestamp(), Some(t));
        assert!(ctx.current_watermark() >= t);
        if ctx.current_watermark() < i64::MAX {
            self.fired_before_end.fetch_add(1, Ordering::Relaxed);
        }
        let key = ctx.key().clone();
        let payments = ctx
            .value_state::<Vec<i64>>("payments")
            .value()
            .cloned()
            .unwrap_or_default();
        let mut orders = ctx.value_state::<Vec<(i64, i64)>>("orders");
        let (due, rest): (Vec<_>, Vec<_>) = orders
            .value()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .partition(|o| o.0 + TIMEOUT == t);
        for (ts, amount) in due {
            let paid = payments.iter().any(|p| (ts..=t).contains(p));
            out.collect((key.clone(), ts, amount, paid));
        }
        if rest.is_empty() {
            orders.clear();
        } else {
            orders.update(rest);
        }
    }
}

#[test]
fn keyed_co_process_keeps_per_key_state_and_fires_timers_in_timestamp_order() {
    let orders = events(7, 400, 5, 10, 150);
    let payments = events(99, 300, 5, 13, 150);
    let expected: Vec<Verdict> = sorted(
        orders
            .iter()
            .map(|o| {
                let paid = payments
                    .iter()
                    .any(|p| p.0 == o.0 && p.1 >= o.1 && p.1 <= o.1 + TIMEOUT);
                (o.0.clone(), o.1, o.2, paid)
            })
            .collect(),
    );
    assert!(expected.iter().any(|v| v.3) && expected.iter().any(|v| !v.3));
    for p in [1, 3] {
        let env = streaming(p);
        let fired_before_end = Arc::new(AtomicUsize::new(0));
        let verdicts = timed(&env, orders.clone())
            .key_by(|e: &Ev| e.0.clone())
            .connect(&timed(&env, payments.clone()).key_by(|e: &Ev| e.0.clone()))
            .process(PaymentCheck {
                fired_before_end: fired_before_end.clone(),
            });
        let stamps = timestamps_of(&verdicts);
        let got = verdicts.collect();
        env.execute("co-process").unwrap();
        let got = got.take();
        // Per key, timers fire in timestamp order.
        let mut last: BTreeMap<String, i64> = BTreeMap::new();
        for v in &got {
            let prev = last.insert(v.0.clone(), v.1).unwrap_or(i64::MIN);
            assert!(prev <= v.1, "p={p}: {v:?} after an order at {prev}");
        }
        assert_eq!(sorted(got), expected, "p={p}");
        let stamps = stamps.lock().unwrap().clone();
        assert_eq!(stamps.len(), expected.len());
        assert!(
            stamps.iter().all(|(v, ts)| *ts == v.1 + TIMEOUT),
            "p={p}: results carry the timer's time"
        );
        let early = fired_before_end.load(Ordering::Relaxed);
        assert!(
            early > orders.len() * 9 / 10,
            "p={p}: only {early} timers fired on the watermark"
        );
    }
}

/// Keyed connected streams via `ConnectedStreams::key_by`, and a keyed co-map.
#[test]
fn connected_streams_key_by_routes_equal_keys_together() {
    for p in [1, 3] {
        let env = streaming(p);
        let a = env.from_iter((0..200i64).collect::<Vec<_>>());
        let b = env.from_iter((0..200i64).map(|i| (i % 10, i)).collect::<Vec<_>>());
        let sums = a
            .connect(&b)
            .key_by(|n: &i64| n % 10, |r: &(i64, i64)| r.0)
            .flat_map(
                |n: i64, out: &mut dyn Collector<(i64, i64)>| out.collect((n % 10, n)),
                |r: (i64, i64), out: &mut dyn Collector<(i64, i64)>| out.collect(r),
            )
            .key_by(|r: &(i64, i64)| r.0)
            .sum(|r: &mut (i64, i64)| &mut r.1)
            .collect();
        env.execute("keyed co-map").unwrap();
        let mut finals: BTreeMap<i64, i64> = BTreeMap::new();
        for (k, s) in sums.take() {
            let e = finals.entry(k).or_insert(0);
            *e = (*e).max(s);
        }
        let expected: BTreeMap<i64, i64> = (0..10)
            .map(|k| (k, 2 * (0..200).filter(|i| i % 10 == k).sum::<i64>()))
            .collect();
        assert_eq!(finals, expected, "p={p}");
    }
}

/// Rules: (name, effective from, threshold). A reading above the threshold in effect at its
/// timestamp is an alert; readings wait in keyed state for a timer at their timestamp, when the
/// watermark guarantees every rule in effect by then has arrived.
#[test]
fn broadcast_state_applies_the_rules_in_effect_at_each_readings_time() {
    let readings = events(3, 600, 4, 5, 120);
    let rules: Vec<Ev> = vec![
        ("threshold".into(), 900, 90),
        ("threshold".into(), 1700, 50),
        ("threshold".into(), 2300, 70),
        ("threshold".into(), 3000, 20),
    ];
    let in_effect = |ts: i64| {
        rules
            .iter()
            .filter(|r| r.1 <= ts)
            .max_by_key(|r| r.1)
            .map(|r| r.2)
    };
    let expected: Vec<Ev> = sorted(
        readings
            .iter()
            .filter(|r| in_effect(r.1).is_some_and(|t| r.2 > t))
            .cloned()
            .collect(),
    );
    assert!(expected.len() > 20 && expected.len() < readings.len() / 2);
    for p in [1, 3] {
        let env = streaming(p);
        let alerts = timed(&env, readings.clone())
            .key_by(|e: &Ev| e.0.clone())
            .connect(&timed(&env, rules.clone()).broadcast_stream())
            .process_with_timers(
                |r: Ev,
                 _: &BroadcastState<i64, i64>,
                 ctx: &mut KeyedCoContext<String>,
                 _: &mut dyn Collector<Ev>| {
                    ctx.register_event_time_timer(r.1);
                    let mut pending = ctx.value_state::<Vec<Ev>>("pending");
                    let mut list = pending.value().cloned().unwrap_or_default();
                    list.push(r);
                    pending.update(list);
                },
                |rule: Ev, state: &mut BroadcastState<i64, i64>, _: &mut dyn Collector<Ev>| {
                    state.put(rule.1, rule.2)
                },
                |t: i64,
                 state: &BroadcastState<i64, i64>,
                 ctx: &mut KeyedCoContext<String>,
                 out: &mut dyn Collector<Ev>| {
                    let threshold = state
                        .iter()
                        .filter(|(from, _)| **from <= t)
                        .max_by_key(|(from, _)| **from);
                    let mut pending = ctx.value_state::<Vec<Ev>>("pending");
                    let (due, rest): (Vec<Ev>, Vec<Ev>) = pending
                        .value()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .partition(|r| r.1 == t);
                    if let Some((_, limit)) = threshold {
                        due.into_iter()
                            .filter(|r| r.2 > *limit)
                            .for_each(|r| out.collect(r));
                    }
                    pending.update(rest);
                },
            )
            .collect();
        env.execute("broadcast state").unwrap();
        assert_eq!(sorted(alerts.take()), expected, "p={p}");
    }
}

#[test]
fn the_broadcast_side_reaches_every_subtask() {
    for p in [1, 3] {
        let env = streaming(p);
        let main = env.from_iter((0..100i64).collect::<Vec<_>>()).rebalance();
        let rules = env.from_iter(vec![("x".to_string(), 1i64), ("y".into(), 2)]);
        let out = main
            .connect(&rules.broadcast_stream())
            .process(
                |_: i64, _: &BroadcastState<String, i64>, _: &mut dyn Collector<String>| {},
                |(k, v): (String, i64),
                 state: &mut BroadcastState<String, i64>,
                 out: &mut dyn Collector<String>| {
                    out.collect(k.clone());
                    state.put(k, v);
                },
            )
            .collect();
        env.execute("broadcast").unwrap();
        let got = out.take();
        assert_eq!(got.len(), 2 * p as usize, "every rule once per subtask, p={p}");
        assert_eq!(got.iter().filter(|k| *k == "x").count(), p as usize);
    }
}

fn interval_pairs(left: &[Ev], right: &[Ev], lower: i64, upper: i64) -> Vec<(Ev, Ev)> {
    let mut out = Vec::new();
    for a in left {
        for b in right {
            if a.0 == b.0 && a.1 + lower <= b.1 && b.1 <= a.1 + upper {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    sorted(out)
}

fn interval_join(
    env: &StreamEnv,
    left: &[Ev],
    right: &[Ev],
    bounds: (i64, i64),
    exclusive: bool,
) -> DataStream<(Ev, Ev)> {
    let joined = timed(env, left.to_vec())
        .key_by(|e: &Ev| e.0.clone())
        .interval_join(&timed(env, right.to_vec()).key_by(|e: &Ev| e.0.clone()))
        .between(bounds.0, bounds.1);
    let joined = if exclusive {
        joined.lower_bound_exclusive().upper_bound_exclusive()
    } else {
        joined
    };
    joined.process(
        |a: &Ev, b: &Ev, ctx: &ProcessJoinContext, out: &mut dyn Collector<(Ev, Ev)>| {
            assert_eq!((ctx.left_timestamp, ctx.right_timestamp), (a.1, b.1));
            out.collect((a.clone(), b.clone()))
        },
    )
}

#[test]
fn interval_join_matches_pairs_within_the_bounds_including_the_boundaries() {
    let (lower, upper) = (-30, 50);
    let mut left = events(11, 500, 6, 7, 150);
    let mut right = events(23, 500, 6, 7, 150);
    // Boundary cases around a left element at 5000 of key "edge": exactly at both bounds (in)
    // and one ms beyond each (out).
    left.push(("edge".into(), 5000, 0));
    for (ts, v) in [(4970, 1), (5050, 2), (4969, 3), (5051, 4)] {
        right.push(("edge".into(), ts, v));
    }
    let expected = interval_pairs(&left, &right, lower, upper);
    let expected_exclusive = interval_pairs(&left, &right, lower + 1, upper - 1);
    let edge: Vec<i64> = expected
        .iter()
        .filter(|(a, _)| a.0 == "edge")
        .map(|(_, b)| b.2)
        .collect();
    assert_eq!(sorted(edge), [1, 2]);
    assert!(expected.len() > expected_exclusive.len() && expected_exclusive.len() > 100);
    for p in [1, 3] {
        let env = streaming(p);
        let joined = interval_join(&env, &left, &right, (lower, upper), false);
        let stamps = timestamps_of(&joined);
        let got = joined.collect();
        let got_exclusive = interval_join(&env, &left, &right, (lower, upper), true).collect();
        env.execute("interval join").unwrap();
        assert_eq!(sorted(got.take()), expected, "p={p}");
        assert_eq!(
            sorted(got_exclusive.take()),
            expected_exclusive,
            "exclusive bounds, p={p}"
        );
        let stamps = stamps.lock().unwrap().clone();
        assert_eq!(stamps.len(), expected.len());
        assert!(
            stamps.iter().all(|((a, b), ts)| *ts == a.1.max(b.1)),
            "p={p}: results carry the later timestamp"
        );
    }
}

#[test]
fn interval_join_with_a_window_entirely_before_or_after() {
    let left: Vec<Ev> = (0..50).map(|i| ("k".to_string(), 1000 + i * 10, i)).collect();
    let right: Vec<Ev> = (0..50).map(|i| ("k".to_string(), 1000 + i * 10 + 3, i)).collect();
    for (lower, upper) in [(-25, -5), (5, 25), (3, 3)] {
        let expected = interval_pairs(&left, &right, lower, upper);
        assert!(!expected.is_empty());
        let env = streaming(3);
        let got = interval_join(&env, &left, &right, (lower, upper), false).collect();
        env.execute("interval join bounds").unwrap();
        assert_eq!(sorted(got.take()), expected, "between({lower}, {upper})");
    }
}

/// Pairs per (key, window) for windows `[start, start + size)` starting every `slide`.
fn window_pairs(left: &[Ev], right: &[Ev], size: i64, slide: i64) -> Vec<(i64, Ev, Ev)> {
    let starts = |ts: i64| {
        let last = ts - ts.rem_euclid(slide);
        (0..)
            .map(move |i| last - i * slide)
            .take_while(move |s| *s > ts - size)
    };
    let mut out = Vec::new();
    for a in left {
        for b in right {
            if a.0 != b.0 {
                continue;
            }
            for s in starts(a.1) {
                if s <= b.1 && b.1 < s + size {
                    out.push((s + size - 1, a.clone(), b.clone()));
                }
            }
        }
    }
    sorted(out)
}

#[test]
fn window_join_pairs_equal_keys_in_tumbling_and_sliding_windows() {
    let left = events(5, 400, 5, 9, 150);
    let right = events(77, 300, 5, 11, 150);
    let cases = [
        (TumblingEventTimeWindows::of(Duration::from_millis(100)), 100, 100),
        (
            SlidingEventTimeWindows::of(Duration::from_millis(100), Duration::from_millis(50)),
            100,
            50,
        ),
    ];
    for (assigner, size, slide) in cases {
        let expected = window_pairs(&left, &right, size, slide);
        assert!(expected.len() > 100);
        for p in [1, 3] {
            let env = streaming(p);
            let joined = timed(&env, left.clone())
                .window_join(&timed(&env, right.clone()))
                .where_key(|e: &Ev| e.0.clone())
                .equal_to(|e: &Ev| e.0.clone())
                .window(assigner)
                .apply(|a: &Ev, b: &Ev| (a.clone(), b.clone()));
            let stamps = timestamps_of(&joined);
            let pairs = joined.collect();
            env.execute("window join").unwrap();
            let expected_pairs: Vec<(Ev, Ev)> =
                expected.iter().map(|(_, a, b)| (a.clone(), b.clone())).collect();
            assert_eq!(
                sorted(pairs.take()),
                sorted(expected_pairs),
                "size {size}, slide {slide}, p={p}"
            );
            // The window's last timestamp identifies the window of each pair.
            let got: Vec<(i64, Ev, Ev)> = stamps
                .lock()
                .unwrap()
                .iter()
                .map(|((a, b), ts)| (*ts, a.clone(), b.clone()))
                .collect();
            assert_eq!(
                sorted(got),
                expected,
                "windows of the pairs: size {size}, slide {slide}, p={p}"
            );
        }
    }
}
