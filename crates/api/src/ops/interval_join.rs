//! Interval join of two keyed streams in event time (Flink's `KeyedStream.intervalJoin`): a left
//! element `a` and a right element `b` with equal keys join when
//! `a.ts + lower <= b.ts <= a.ts + upper`. The result carries timestamp `max(a.ts, b.ts)`.
//!
//! Each side is buffered per key and timestamp. A buffered element is dropped once the watermark
//! (the minimum of both inputs) has passed the last timestamp a future element of the other side
//! could match it with: a left element after `a.ts + upper`, a right element after
//! `b.ts - lower`. As in Flink, an element whose timestamp is below the watermark is late and
//! dropped.

use crate::checkpointing::{self, decode_entries, decode_items, push, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::ops::connect::tagged_union;
use crate::ops::join::Either;
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::failure;
use spate_runtime::operator::Operator;
use spate_runtime::time::{current_timestamp, set_current_timestamp, StreamEvent, MAX_WATERMARK};
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use tracing::warn;

/// Two keyed streams to be joined by an interval; set the interval with [`between`](Self::between).
pub struct IntervalJoin<A, B, K> {
    left: KeyedStream<A, K>,
    right: KeyedStream<B, K>,
}

/// An interval join with its bounds; [`process`](Self::process) sets what it emits.
pub struct IntervalJoined<A, B, K> {
    join: IntervalJoin<A, B, K>,
    lower: i64,
    upper: i64,
}

/// The timestamps of a joined pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessJoinContext {
    /// The left element's timestamp.
    pub left_timestamp: i64,
    /// The right element's timestamp.
    pub right_timestamp: i64,
}

impl ProcessJoinContext {
    /// The result's timestamp: the later of the two.
    pub fn timestamp(&self) -> i64 {
        self.left_timestamp.max(self.right_timestamp)
    }
}

impl<A: Data, K: Key> KeyedStream<A, K> {
    /// Joins this keyed stream with `other` by key and an event-time interval (Flink's
    /// `intervalJoin`). Both inputs need event timestamps (`assign_timestamps_and_watermarks`).
    ///
    /// ```
    /// use spate::prelude::*;
    ///
    /// type Ev = (char, i64); // (key, timestamp)
    /// let env = StreamEnv::local();
    /// let timed = |v: Vec<Ev>| {
    ///     env.from_collection(v).assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &Ev, _| e.1),
    ///     )
    /// };
    /// let clicks = timed(vec![('a', 100), ('b', 100)]);
    /// let views = timed(vec![('a', 95), ('a', 101), ('a', 103), ('b', 300)]);
    /// let pairs = clicks
    ///     .key_by(|e: &Ev| e.0)
    ///     .interval_join(&views.key_by(|e: &Ev| e.0))
    ///     .between(-5, 2) // a view from 5 ms before to 2 ms after the click
    ///     .process(|c: &Ev, v: &Ev, _: &ProcessJoinContext, out: &mut dyn Collector<(i64, i64)>| {
    ///         out.collect((c.1, v.1))
    ///     })
    ///     .collect();
    /// env.execute("interval join").unwrap();
    /// let mut v = pairs.take();
    /// v.sort();
    /// assert_eq!(v, [(100, 95), (100, 101)]);
    /// ```
    pub fn interval_join<B: Data>(&self, other: &KeyedStream<B, K>) -> IntervalJoin<A, B, K> {
        IntervalJoin {
            left: self.clone(),
            right: other.clone(),
        }
    }
}

impl<A: Data, B: Data, K: Key> IntervalJoin<A, B, K> {
    /// Joins `b` to `a` when `a.ts + lower <= b.ts <= a.ts + upper` (milliseconds, either may be
    /// negative). Panics if `lower > upper`.
    pub fn between(self, lower_ms: i64, upper_ms: i64) -> IntervalJoined<A, B, K> {
        assert!(
            lower_ms <= upper_ms,
            "interval join: lower bound {lower_ms} ms is above upper bound {upper_ms} ms"
        );
        IntervalJoined {
            join: self,
            lower: lower_ms,
            upper: upper_ms,
        }
    }
}

impl<A: Data, B: Data, K: Key> IntervalJoined<A, B, K> {
    /// Excludes the lower bound: `a.ts + lower < b.ts`.
    pub fn lower_bound_exclusive(mut self) -> Self {
        self.lower = self.lower.saturating_add(1);
        self
    }

    /// Excludes the upper bound: `b.ts < a.ts + upper`.
    pub fn upper_bound_exclusive(mut self) -> Self {
        self.upper = self.upper.saturating_sub(1);
        self
    }

    /// Calls `f(a, b, timestamps, out)` for every joined pair (Flink's `ProcessJoinFunction`);
    /// its results carry the later of the two timestamps.
    pub fn process<O: Data>(
        self,
        f: impl FnMut(&A, &B, &ProcessJoinContext, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        let (l, r) = (&self.join.left, &self.join.right);
        let union = tagged_union(&l.hashed(&l.input), &r.hashed(&r.input));
        let (kl, kr, lower, upper) = (l.key.clone(), r.key.clone(), self.lower, self.upper);
        union.add_operator("Interval Join", move |ctx| IntervalJoinOp {
            kl: kl.clone(),
            kr: kr.clone(),
            lower,
            upper,
            f: f.clone(),
            buffers: FxHashMap::default(),
            cleanup: BTreeMap::new(),
            watermark: i64::MIN,
            late: 0,
            name: ctx.task_name.clone(),
            groups: Groups::of(ctx),
            _o: PhantomData,
        })
    }
}

struct Buffers<A, B> {
    left: BTreeMap<i64, Vec<A>>,
    right: BTreeMap<i64, Vec<B>>,
}

struct IntervalJoinOp<A, B, K, O, F> {
    kl: KeyFn<A, K>,
    kr: KeyFn<B, K>,
    lower: i64,
    upper: i64,
    f: F,
    buffers: FxHashMap<K, Buffers<A, B>>,
    /// By the last watermark at which the element may still match: (key, is_left, timestamp).
    cleanup: BTreeMap<i64, Vec<(K, bool, i64)>>,
    watermark: i64,
    late: u64,
    name: String,
    groups: Groups,
    _o: PhantomData<fn() -> O>,
}

impl<A, B, K, O, F> IntervalJoinOp<A, B, K, O, F>
where
    A: Data,
    B: Data,
    K: Key,
    O: Data,
    F: FnMut(&A, &B, &ProcessJoinContext, &mut dyn Collector<O>) + Send + 'static,
{
    fn timestamp(&mut self) -> Option<i64> {
        let Some(ts) = current_timestamp() else {
            failure::fail(
                "an interval join received a record without a timestamp: \
                 call assign_timestamps_and_watermarks on both inputs",
            )
        };
        if ts < self.watermark {
            self.late += 1;
            return None;
        }
        Some(ts)
    }

    fn add_left<C: Output<O>>(&mut self, a: A, ts: i64, out: &mut C) {
        let key = self.kl.key_of(&a);
        let bufs = self.buffers.entry(key.clone()).or_insert_with(|| Buffers {
            left: BTreeMap::new(),
            right: BTreeMap::new(),
        });
        let (lo, hi) = (ts.saturating_add(self.lower), ts.saturating_add(self.upper));
        for (&tb, bs) in bufs.right.range(lo..=hi) {
            let c = ProcessJoinContext {
                left_timestamp: ts,
                right_timestamp: tb,
            };
            set_current_timestamp(c.timestamp());
            bs.iter().for_each(|b| (self.f)(&a, b, &c, out));
        }
        let bucket = bufs.left.entry(ts).or_default();
        if bucket.is_empty() {
            let last = ts.saturating_add(self.upper);
            self.cleanup.entry(last).or_default().push((key, true, ts));
        }
        bucket.push(a);
        set_current_timestamp(ts);
    }

    fn add_right<C: Output<O>>(&mut self, b: B, ts: i64, out: &mut C) {
        let key = self.kr.key_of(&b);
        let bufs = self.buffers.entry(key.clone()).or_insert_with(|| Buffers {
            left: BTreeMap::new(),
            right: BTreeMap::new(),
        });
        let (lo, hi) = (ts.saturating_sub(self.upper), ts.saturating_sub(self.lower));
        for (&ta, as_) in bufs.left.range(lo..=hi) {
            let c = ProcessJoinContext {
                left_timestamp: ta,
                right_timestamp: ts,
            };
            set_current_timestamp(c.timestamp());
            as_.iter().for_each(|a| (self.f)(a, &b, &c, out));
        }
        let bucket = bufs.right.entry(ts).or_default();
        if bucket.is_empty() {
            let last = ts.saturating_sub(self.lower);
            self.cleanup.entry(last).or_default().push((key, false, ts));
        }
        bucket.push(b);
        set_current_timestamp(ts);
    }

    /// Drops every buffered element no future element can match any more.
    fn clean(&mut self) {
        if self.watermark == MAX_WATERMARK {
            self.buffers.clear();
            self.cleanup.clear();
            return;
        }
        while let Some(first) = self.cleanup.first_entry() {
            if *first.key() >= self.watermark {
                break;
            }
            for (key, is_left, ts) in first.remove() {
                let Some(bufs) = self.buffers.get_mut(&key) else {
                    continue;
                };
                if is_left {
                    bufs.left.remove(&ts);
                } else {
                    bufs.right.remove(&ts);
                }
                if bufs.left.is_empty() && bufs.right.is_empty() {
                    self.buffers.remove(&key);
                }
            }
        }
    }
}

/// What the interval join writes per key group: each key's buffered elements by timestamp.
#[derive(Serialize, Deserialize)]
struct JoinEntry<K, LA, LB> {
    key: K,
    left: Vec<(i64, LA)>,
    right: Vec<(i64, LB)>,
}

impl<A, B, K, O, F> Operator<Either<A, B>, O> for IntervalJoinOp<A, B, K, O, F>
where
    A: Data,
    B: Data,
    K: Key,
    O: Data,
    F: FnMut(&A, &B, &ProcessJoinContext, &mut dyn Collector<O>) + Send + 'static,
{
    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
    }

    /// Restores the buffers and the watermark; the cleanup times follow from the buffered
    /// timestamps.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (watermark, entries) = decode_entries::<JoinEntry<K, Vec<A>, Vec<B>>>(&state)?;
        if let Some(w) = watermark {
            self.watermark = self.watermark.max(w);
        }
        for e in entries {
            let bufs = self.buffers.entry(e.key.clone()).or_insert_with(|| Buffers {
                left: BTreeMap::new(),
                right: BTreeMap::new(),
            });
            for (ts, items) in e.left {
                let bucket = bufs.left.entry(ts).or_default();
                if bucket.is_empty() {
                    let last = ts.saturating_add(self.upper);
                    self.cleanup
                        .entry(last)
                        .or_default()
                        .push((e.key.clone(), true, ts));
                }
                bucket.extend(items);
            }
            for (ts, items) in e.right {
                let bucket = bufs.right.entry(ts).or_default();
                if bucket.is_empty() {
                    let last = ts.saturating_sub(self.lower);
                    self.cleanup
                        .entry(last)
                        .or_default()
                        .push((e.key.clone(), false, ts));
                }
                bucket.extend(items);
            }
        }
        self.late += decode_items::<u64>(&state)?.into_iter().sum::<u64>();
        Ok(())
    }

    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (key, bufs) in &self.buffers {
            let e = JoinEntry {
                key,
                left: bufs.left.iter().map(|(t, v)| (*t, v)).collect(),
                right: bufs.right.iter().map(|(t, v)| (*t, v)).collect(),
            };
            push(&mut by_group, self.groups.group_of(key), e);
        }
        let mut snapshot = checkpointing::keyed(self.groups.encode(by_group, Some(self.watermark))?);
        if self.late > 0 {
            snapshot.operator.push(encode(&self.late)?);
        }
        Ok(snapshot)
    }

    fn process<C: Output<O>>(&mut self, record: Either<A, B>, out: &mut C) {
        let Some(ts) = self.timestamp() else {
            return;
        };
        match record {
            Either::Left(a) => self.add_left(a, ts, out),
            Either::Right(b) => self.add_right(b, ts, out),
        }
    }

    fn process_event<C: Output<O>>(&mut self, event: StreamEvent, _out: &mut C) -> Option<StreamEvent> {
        if let StreamEvent::Watermark(w) = event {
            if w > self.watermark {
                self.watermark = w;
                self.clean();
            }
        }
        Some(event)
    }

    fn end_input<C: Output<O>>(&mut self, _out: &mut C) {
        if self.late > 0 {
            warn!(operator = %self.name, "{} late records were dropped by the interval join", self.late);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Vec2<T>(Vec<T>);
    impl<T: Send> Collector<T> for Vec2<T> {
        fn collect(&mut self, r: T) {
            self.0.push(r);
        }
    }
    impl<T: Send> Output<T> for Vec2<T> {
        fn flush(&mut self) {}
        fn end_input(&mut self) {}
        fn emit_event(&mut self, _: StreamEvent) {}
        fn on_processing_time(&mut self, _: i64) {}
    }

    type Op = IntervalJoinOp<
        i64,
        i64,
        u8,
        (i64, i64),
        fn(&i64, &i64, &ProcessJoinContext, &mut dyn Collector<(i64, i64)>),
    >;

    fn op(lower: i64, upper: i64) -> Op {
        fn pair(a: &i64, b: &i64, _: &ProcessJoinContext, out: &mut dyn Collector<(i64, i64)>) {
            out.collect((*a, *b));
        }
        IntervalJoinOp {
            kl: KeyFn::Owned(Arc::new(|_: &i64| 0u8)),
            kr: KeyFn::Owned(Arc::new(|_: &i64| 0u8)),
            lower,
            upper,
            f: pair,
            buffers: FxHashMap::default(),
            cleanup: BTreeMap::new(),
            watermark: i64::MIN,
            late: 0,
            name: String::new(),
            groups: Groups::default(),
            _o: PhantomData,
        }
    }

    fn send(op: &mut Op, out: &mut Vec2<(i64, i64)>, e: Either<i64, i64>) {
        let ts = match e {
            Either::Left(t) | Either::Right(t) => t,
        };
        set_current_timestamp(ts);
        op.process(e, out);
    }

    #[test]
    fn buffers_are_cleaned_exactly_when_no_future_element_can_match() {
        let mut op = op(-2, 3);
        let mut out = Vec2(Vec::new());
        send(&mut op, &mut out, Either::Left(10)); // matches right 8..=13
        send(&mut op, &mut out, Either::Right(20)); // matches left 17..=22
        op.process_event(StreamEvent::Watermark(13), &mut out);
        assert!(
            op.buffers[&0].left.contains_key(&10),
            "a right element at 13 may still come"
        );
        op.process_event(StreamEvent::Watermark(14), &mut out);
        assert!(!op.buffers[&0].left.contains_key(&10));
        send(&mut op, &mut out, Either::Left(22));
        op.process_event(StreamEvent::Watermark(22), &mut out);
        assert!(
            op.buffers[&0].right.contains_key(&20),
            "a left element at 22 may still come"
        );
        send(&mut op, &mut out, Either::Left(21)); // late: below the watermark
        op.process_event(StreamEvent::Watermark(23), &mut out);
        assert!(!op.buffers[&0].right.contains_key(&20));
        assert_eq!(out.0, [(22, 20)]);
        assert_eq!(op.late, 1);
    }

    #[test]
    fn buffers_and_watermark_restore_at_any_parallelism() {
        use crate::checkpointing::testing::{check_restores, Ev};
        const MAX: u32 = 16;
        type Rec = (u8, i64);
        let make = || {
            fn pair(a: &Rec, b: &Rec, c: &ProcessJoinContext, out: &mut dyn Collector<(Rec, Rec, i64)>) {
                out.collect((*a, *b, c.timestamp()));
            }
            IntervalJoinOp {
                kl: KeyFn::Owned(Arc::new(|r: &Rec| r.0)),
                kr: KeyFn::Owned(Arc::new(|r: &Rec| r.0)),
                lower: -15,
                upper: 25,
                f: pair as fn(&Rec, &Rec, &ProcessJoinContext, &mut dyn Collector<(Rec, Rec, i64)>),
                buffers: FxHashMap::default(),
                cleanup: BTreeMap::new(),
                watermark: i64::MIN,
                late: 0,
                name: String::new(),
                groups: Groups::default(),
                _o: PhantomData,
            }
        };
        let mut events = Vec::new();
        let mut max_ts = 0;
        for i in 0..200i64 {
            // Some records come late (below the watermark): dropped in every run alike.
            let ts = i * 5 + (i * 11) % 17 - if i % 23 == 0 { 60 } else { 0 };
            max_ts = i64::max(max_ts, ts);
            let r = ((i / 3 % 6) as u8, ts);
            let e = if i % 3 == 0 {
                Either::Right(r)
            } else {
                Either::Left(r)
            };
            events.push(Ev::Rec(e, Some(ts)));
            if i % 5 == 4 {
                events.push(Ev::Wm(max_ts - 20));
            }
            if i % 17 == 16 {
                events.push(Ev::Restore(0));
            }
        }
        events.push(Ev::Wm(i64::MAX));
        let g = Groups {
            max: MAX,
            ..Groups::default()
        };
        let group = move |e: &Either<Rec, Rec>| match e {
            Either::Left(r) | Either::Right(r) => Some(g.group_of(&r.0)),
        };
        let got = check_restores(&make, &group, &events, MAX);
        assert!(got.len() > 100, "{} pairs", got.len());
    }
}
