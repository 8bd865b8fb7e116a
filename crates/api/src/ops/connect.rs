//! Connected streams (Flink's `ConnectedStreams`): two streams of possibly different types feeding
//! one operator. Like the batch joins, each side is tagged as [`Either::Left`] / [`Either::Right`],
//! the sides are unioned and a one-input operator runs on the union. Each side keeps its own
//! partitioning (hash by key, broadcast, ...); the operator sees the combined watermark (the
//! minimum of both inputs), since both sides arrive through one channel.
//!
//! Keyed connected streams run a [`KeyedCoProcessFunction`] with per-key value state and
//! event-time timers, the machinery the broadcast-state pattern shares
//! ([`KeyedCoContext`]).

use crate::checkpointing::{self, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::ops::join::Either;
use crate::ops::keyed_process::{restore_keyed, snapshot_keyed, KeyedContext, SideMap, TimerService};
use crate::state::KeyedStateStore;
use crate::stream::DataStream;
use spate_graph::Partitioning;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::record_writer::Partitioner;
use spate_runtime::time::{current_timestamp_raw, set_current_timestamp, StreamEvent};
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::marker::PhantomData;
use std::sync::Arc;

/// Connects two streams into one two-input operation (Flink's `connect`); implemented for
/// `DataStream` + `DataStream` ([`ConnectedStreams`]), `KeyedStream` + `KeyedStream`
/// ([`KeyedConnectedStreams`]) and either + a [`BroadcastStream`](super::broadcast_state::BroadcastStream)
/// (the broadcast state pattern). It is a trait so that one name covers every pairing; it comes
/// with the prelude. (Inside this crate, `DataStream` has a private inherent `connect(OperatorId)`
/// that wins over this trait; call `Connect::connect(&a, &b)` there.)
pub trait Connect<Other> {
    /// The connected streams.
    type Connected;
    /// Connects `self` (the first input) with `other` (the second).
    fn connect(&self, other: Other) -> Self::Connected;
}

/// Two connected streams (Flink's `ConnectedStreams`): `map` and `flat_map` with one function per
/// input, or `key_by` for keyed processing.
pub struct ConnectedStreams<A, B> {
    first: DataStream<A>,
    second: DataStream<B>,
}

impl<A: Data, B: Data> Connect<&DataStream<B>> for DataStream<A> {
    type Connected = ConnectedStreams<A, B>;
    /// ```
    /// use spate::prelude::*;
    ///
    /// let env = StreamEnv::local();
    /// let numbers = env.from_collection(vec![1, 2]);
    /// let words = env.from_collection(vec!["three".to_string()]);
    /// let all = numbers
    ///     .connect(&words)
    ///     .map(|n: i32| n.to_string(), |w: String| w)
    ///     .collect();
    /// env.execute("co-map").unwrap();
    /// let mut v = all.take();
    /// v.sort();
    /// assert_eq!(v, ["1", "2", "three"]);
    /// ```
    fn connect(&self, other: &DataStream<B>) -> ConnectedStreams<A, B> {
        ConnectedStreams {
            first: self.clone(),
            second: other.clone(),
        }
    }
}

impl<A: Data, B: Data> ConnectedStreams<A, B> {
    /// Co-map: `f1` on records of the first input, `f2` on the second, into one output type.
    pub fn map<O: Data>(
        &self,
        f1: impl FnMut(A) -> O + Clone + Send + Sync + 'static,
        f2: impl FnMut(B) -> O + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        co_map(&tagged_union(&self.first, &self.second), f1, f2)
    }

    /// Co-flat-map: zero or more records per record of either input.
    pub fn flat_map<O: Data>(
        &self,
        f1: impl FnMut(A, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
        f2: impl FnMut(B, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        co_flat_map(&tagged_union(&self.first, &self.second), f1, f2)
    }

    /// Keys both inputs (each with its own key function, to one key type): records with equal
    /// keys from either input meet in the same subtask.
    pub fn key_by<K: Key>(
        &self,
        key1: impl Fn(&A) -> K + Send + Sync + 'static,
        key2: impl Fn(&B) -> K + Send + Sync + 'static,
    ) -> KeyedConnectedStreams<A, B, K> {
        KeyedConnectedStreams {
            first: self.first.key_by(key1),
            second: self.second.key_by(key2),
        }
    }
}

/// Two connected streams keyed by one key type (Flink's keyed `ConnectedStreams`).
pub struct KeyedConnectedStreams<A, B, K> {
    first: KeyedStream<A, K>,
    second: KeyedStream<B, K>,
}

impl<A: Data, B: Data, K: Key> Connect<&KeyedStream<B, K>> for KeyedStream<A, K> {
    type Connected = KeyedConnectedStreams<A, B, K>;
    fn connect(&self, other: &KeyedStream<B, K>) -> KeyedConnectedStreams<A, B, K> {
        KeyedConnectedStreams {
            first: self.clone(),
            second: other.clone(),
        }
    }
}

impl<A: Data, B: Data, K: Key> KeyedConnectedStreams<A, B, K> {
    fn union(&self) -> DataStream<Either<A, B>> {
        let first = self.first.hashed(&self.first.input);
        let second = self.second.hashed(&self.second.input);
        tagged_union(&first, &second)
    }

    /// Co-map on the keyed inputs.
    pub fn map<O: Data>(
        &self,
        f1: impl FnMut(A) -> O + Clone + Send + Sync + 'static,
        f2: impl FnMut(B) -> O + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        co_map(&self.union(), f1, f2)
    }

    /// Co-flat-map on the keyed inputs.
    pub fn flat_map<O: Data>(
        &self,
        f1: impl FnMut(A, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
        f2: impl FnMut(B, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        co_flat_map(&self.union(), f1, f2)
    }

    /// Runs a [`KeyedCoProcessFunction`]: one method per input, with per-key value state and
    /// event-time timers (Flink's `KeyedCoProcessFunction`). A timer registered for time `t`
    /// fires (`on_timer`) once the combined watermark reaches `t`, timers in timestamp order;
    /// its results carry timestamp `t`. Results of the `process_element` methods keep their
    /// input's timestamp.
    ///
    /// ```
    /// use spate::prelude::*;
    ///
    /// /// Sums per key, reported by a timer 10 ms after a key's first record.
    /// #[derive(Clone)]
    /// struct Totals;
    /// impl KeyedCoProcessFunction<char, (char, i64), (char, i64), (char, i64)> for Totals {
    ///     fn process_element1(&mut self, r: (char, i64), ctx: &mut KeyedCoContext<char>, out: &mut dyn Collector<(char, i64)>) {
    ///         self.process_element2(r, ctx, out)
    ///     }
    ///     fn process_element2(&mut self, r: (char, i64), ctx: &mut KeyedCoContext<char>, _: &mut dyn Collector<(char, i64)>) {
    ///         let mut sum = ctx.value_state::<i64>("sum");
    ///         let first = sum.value().is_none();
    ///         let next = sum.value().copied().unwrap_or(0) + r.1;
    ///         sum.update(next);
    ///         if first {
    ///             let at = ctx.timestamp().unwrap_or(0) + 10;
    ///             ctx.register_event_time_timer(at);
    ///         }
    ///     }
    ///     fn on_timer(&mut self, _t: i64, ctx: &mut KeyedCoContext<char>, out: &mut dyn Collector<(char, i64)>) {
    ///         let key = *ctx.key();
    ///         let mut sum = ctx.value_state::<i64>("sum");
    ///         out.collect((key, sum.value().copied().unwrap_or(0)));
    ///         sum.clear();
    ///     }
    /// }
    ///
    /// let env = StreamEnv::local();
    /// let timed = |s: DataStream<(char, i64)>| {
    ///     s.assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|_: &(char, i64), _| 0),
    ///     )
    /// };
    /// let a = timed(env.from_collection(vec![('x', 1), ('y', 2)]));
    /// let b = timed(env.from_collection(vec![('x', 10)]));
    /// let sums = a
    ///     .key_by(|r: &(char, i64)| r.0)
    ///     .connect(&b.key_by(|r: &(char, i64)| r.0))
    ///     .process(Totals)
    ///     .collect();
    /// env.execute("co-process").unwrap();
    /// let mut v = sums.take();
    /// v.sort();
    /// assert_eq!(v, [('x', 11), ('y', 2)]);
    /// ```
    pub fn process<O: Data, F: KeyedCoProcessFunction<K, A, B, O>>(&self, f: F) -> DataStream<O> {
        let (k1, k2) = (self.first.key.clone(), self.second.key.clone());
        self.union()
            .add_operator("Keyed Co-Process", move |_| CoProcessOp {
                k1: k1.clone(),
                k2: k2.clone(),
                f: f.clone(),
                keyed: KeyedRuntime::default(),
                _t: PhantomData,
            })
    }
}

/// Processes two keyed inputs with per-key state and event-time timers (Flink's
/// `KeyedCoProcessFunction`). One instance per subtask (cloned from the one given to `process`);
/// keep per-key data in the context's state, not in `self`.
pub trait KeyedCoProcessFunction<K, A, B, O>: Clone + Send + Sync + 'static {
    /// A record of the first input.
    fn process_element1(&mut self, value: A, ctx: &mut KeyedCoContext<'_, K>, out: &mut dyn Collector<O>);
    /// A record of the second input.
    fn process_element2(&mut self, value: B, ctx: &mut KeyedCoContext<'_, K>, out: &mut dyn Collector<O>);
    /// A timer of `ctx.key()` registered for `timestamp` fired (the watermark reached it).
    fn on_timer(&mut self, _timestamp: i64, _ctx: &mut KeyedCoContext<'_, K>, _out: &mut dyn Collector<O>) {}
}

/// The keyed part of a two-input operator: the same keyed state, timers and watermark a
/// [`KeyedProcessFunction`](crate::KeyedProcessFunction) has.
pub(crate) struct KeyedRuntime<K> {
    store: KeyedStateStore<K>,
    timers: TimerService<K>,
    watermark: i64,
    side: SideMap,
    groups: Groups,
}

impl<K> Default for KeyedRuntime<K> {
    fn default() -> Self {
        let groups = Groups::default();
        KeyedRuntime {
            store: KeyedStateStore::new(groups.max),
            timers: TimerService::default(),
            watermark: i64::MIN,
            side: SideMap::default(),
            groups,
        }
    }
}

impl<K: Key> KeyedRuntime<K> {
    /// Takes the subtask's key groups from `ctx` (before the first record).
    pub(crate) fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
        if self.store.max_parallelism() != self.groups.max {
            self.store = KeyedStateStore::new(self.groups.max);
        }
    }

    /// Restores keyed state, timers and watermark from a checkpoint (before [`open`](Self::open));
    /// returns the broadcast state copy, if the snapshot has one.
    pub(crate) fn initialize(
        &mut self,
        ctx: &TaskContext,
        state: &OperatorSnapshot,
    ) -> Result<Option<Vec<u8>>> {
        self.groups = Groups::of(ctx);
        self.store = KeyedStateStore::new(self.groups.max);
        self.timers = TimerService::default();
        let (watermark, broadcast) = restore_keyed(state, &mut self.store, &mut self.timers)?;
        self.watermark = watermark.unwrap_or(i64::MIN);
        Ok(broadcast)
    }

    /// Keyed state, timers and watermark per key group, each group with `broadcast` if given.
    pub(crate) fn snapshot(&self, broadcast: Option<&[u8]>) -> Result<OperatorSnapshot> {
        let keyed = snapshot_keyed(&self.groups, &self.store, &self.timers, self.watermark, broadcast)?;
        Ok(checkpointing::keyed(keyed))
    }

    /// The context for a record of `key`.
    pub(crate) fn context<'a>(&'a mut self, key: &'a K) -> KeyedCoContext<'a, K> {
        KeyedContext::new(
            key,
            &mut self.store,
            &mut self.timers,
            self.watermark,
            &mut self.side,
        )
    }

    /// Advances the watermark and calls `fire(timestamp, context)` for every due event-time
    /// timer, in timestamp order, with the timer's timestamp as the current one (restored
    /// afterwards).
    pub(crate) fn advance(&mut self, watermark: i64, mut fire: impl FnMut(i64, &mut KeyedCoContext<'_, K>)) {
        self.watermark = self.watermark.max(watermark);
        let saved = current_timestamp_raw();
        while let Some((ts, key)) = self.timers.pop_due(self.watermark, true) {
            set_current_timestamp(ts);
            let mut ctx = KeyedContext::new(
                &key,
                &mut self.store,
                &mut self.timers,
                self.watermark,
                &mut self.side,
            );
            fire(ts, &mut ctx);
        }
        set_current_timestamp(saved);
    }

    /// Calls `fire(timestamp, context)` for every processing-time timer due at `now`.
    pub(crate) fn advance_processing_time(
        &mut self,
        now: i64,
        mut fire: impl FnMut(i64, &mut KeyedCoContext<'_, K>),
    ) {
        let saved = current_timestamp_raw();
        while let Some((ts, key)) = self.timers.pop_due(now, false) {
            set_current_timestamp(ts);
            let mut ctx = KeyedContext::new(
                &key,
                &mut self.store,
                &mut self.timers,
                self.watermark,
                &mut self.side,
            );
            fire(ts, &mut ctx);
        }
        set_current_timestamp(saved);
    }
}

/// What a keyed two-input function sees besides the record: the same context as a keyed process
/// function has (key, timestamp, watermark, every kind of keyed state, timers).
pub type KeyedCoContext<'a, K> = KeyedContext<'a, K>;

struct CoProcessOp<A, B, K, O, F> {
    k1: KeyFn<A, K>,
    k2: KeyFn<B, K>,
    f: F,
    keyed: KeyedRuntime<K>,
    _t: PhantomData<fn(A, B) -> O>,
}

impl<A: Data, B: Data, K: Key, O: Data, F> Operator<Either<A, B>, O> for CoProcessOp<A, B, K, O, F>
where
    F: KeyedCoProcessFunction<K, A, B, O>,
{
    fn process<C: Output<O>>(&mut self, record: Either<A, B>, out: &mut C) {
        match record {
            Either::Left(a) => {
                let key = self.k1.key_of(&a);
                self.f.process_element1(a, &mut self.keyed.context(&key), out);
            }
            Either::Right(b) => {
                let key = self.k2.key_of(&b);
                self.f.process_element2(b, &mut self.keyed.context(&key), out);
            }
        }
    }

    fn initialize_state(&mut self, ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        self.keyed.initialize(ctx, &state).map(|_| ())
    }

    fn open(&mut self, ctx: &TaskContext) {
        self.keyed.open(ctx);
    }

    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        self.keyed.snapshot(None)
    }

    fn process_event<C: Output<O>>(&mut self, event: StreamEvent, out: &mut C) -> Option<StreamEvent> {
        if let StreamEvent::Watermark(w) = event {
            let f = &mut self.f;
            self.keyed.advance(w, |ts, ctx| f.on_timer(ts, ctx, out));
        }
        Some(event)
    }

    fn on_processing_time<C: Output<O>>(&mut self, now: i64, out: &mut C) {
        let f = &mut self.f;
        self.keyed
            .advance_processing_time(now, |ts, ctx| f.on_timer(ts, ctx, out));
    }
}

fn co_flat_map<A: Data, B: Data, O: Data>(
    union: &DataStream<Either<A, B>>,
    mut f1: impl FnMut(A, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    mut f2: impl FnMut(B, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
) -> DataStream<O> {
    union
        .flat_map(move |e: Either<A, B>, out: &mut dyn Collector<O>| match e {
            Either::Left(a) => f1(a, out),
            Either::Right(b) => f2(b, out),
        })
        .name("Co-Flat Map")
}

fn co_map<A: Data, B: Data, O: Data>(
    union: &DataStream<Either<A, B>>,
    mut f1: impl FnMut(A) -> O + Clone + Send + Sync + 'static,
    mut f2: impl FnMut(B) -> O + Clone + Send + Sync + 'static,
) -> DataStream<O> {
    union
        .map(move |e: Either<A, B>| match e {
            Either::Left(a) => f1(a),
            Either::Right(b) => f2(b),
        })
        .name("Co-Map")
}

/// Tags `first` as `Left` and `second` as `Right` (maps chained to their producers) and unions
/// them; each side keeps its pending partitioning (and side-output tag) for the edge into the
/// operator that consumes the union.
pub(crate) fn tagged_union<A: Data, B: Data>(
    first: &DataStream<A>,
    second: &DataStream<B>,
) -> DataStream<Either<A, B>> {
    let l = tag(first, "Tag Left", Either::<A, B>::Left, left_of::<A, B>);
    let r = tag(second, "Tag Right", Either::<A, B>::Right, right_of::<A, B>);
    l.union([r])
}

fn left_of<A, B>(e: &Either<A, B>) -> Option<&A> {
    match e {
        Either::Left(a) => Some(a),
        Either::Right(_) => None,
    }
}

fn right_of<A, B>(e: &Either<A, B>) -> Option<&B> {
    match e {
        Either::Left(_) => None,
        Either::Right(b) => Some(b),
    }
}

fn tag<X: Data, E: Data>(
    s: &DataStream<X>,
    name: &str,
    wrap: fn(X) -> E,
    unwrap: fn(&E) -> Option<&X>,
) -> DataStream<E> {
    let mut plain = s.clone();
    plain.partitioning = Partitioning::Default;
    plain.partitioner = Partitioner::Plain;
    let mut out = plain.map(wrap).name(name);
    out.env.state.borrow_mut().inherits.push((out.id, s.id));
    out.partitioning = s.partitioning;
    out.partitioner = match &s.partitioner {
        Partitioner::Plain => Partitioner::Plain,
        Partitioner::Hash(f) => {
            let f = f.clone();
            Partitioner::Hash(Arc::new(move |e: &E| unwrap(e).map_or(0, |x| f(x))))
        }
        Partitioner::Custom(f) => {
            let f = f.clone();
            Partitioner::Custom(Arc::new(move |e: &E, n| unwrap(e).map_or(0, |x| f(x, n))))
        }
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    const MAX: u32 = 16;
    type Rec = (String, i64);

    #[derive(Clone)]
    struct Sums;

    impl KeyedCoProcessFunction<String, Rec, Rec, (String, i64, i64, i64)> for Sums {
        fn process_element1(
            &mut self,
            r: Rec,
            ctx: &mut KeyedCoContext<'_, String>,
            out: &mut dyn Collector<(String, i64, i64, i64)>,
        ) {
            let mut l = ctx.value_state::<i64>("left");
            let v = l.value().copied().unwrap_or(0) + r.1;
            l.update(v);
            out.collect((r.0, r.1, v, ctx.current_watermark()));
            ctx.register_event_time_timer(r.1 + 30);
        }
        fn process_element2(
            &mut self,
            r: Rec,
            ctx: &mut KeyedCoContext<'_, String>,
            _: &mut dyn Collector<(String, i64, i64, i64)>,
        ) {
            ctx.list_state::<i64>("right").add(r.1);
            ctx.register_processing_time_timer(1_000 + r.1);
        }
        fn on_timer(
            &mut self,
            t: i64,
            ctx: &mut KeyedCoContext<'_, String>,
            out: &mut dyn Collector<(String, i64, i64, i64)>,
        ) {
            let key = ctx.key().clone();
            let l = ctx.value_state::<i64>("left").value().copied().unwrap_or(0);
            let r: i64 = ctx.list_state::<i64>("right").get().iter().sum();
            out.collect((key, t, l, r));
        }
    }

    #[test]
    fn co_process_state_and_timers_restore_at_any_parallelism() {
        let make = || CoProcessOp {
            k1: KeyFn::Owned(Arc::new(|r: &Rec| r.0.clone())),
            k2: KeyFn::Owned(Arc::new(|r: &Rec| r.0.clone())),
            f: Sums,
            keyed: KeyedRuntime::default(),
            _t: PhantomData,
        };
        let events: Vec<Ev<Either<Rec, Rec>>> = crate::ops::keyed_process::tests::keyed_events(150, 7)
            .into_iter()
            .enumerate()
            .map(|(i, e)| match e {
                Ev::Rec(r, ts) if i % 3 == 0 => Ev::Rec(Either::Right(r), ts),
                Ev::Rec(r, ts) => Ev::Rec(Either::Left(r), ts),
                Ev::Wm(w) => Ev::Wm(w),
                Ev::Proc(t) => Ev::Proc(t),
                Ev::Restore(p) => Ev::Restore(p),
                Ev::All(r, ts) => Ev::All(Either::Left(r), ts),
            })
            .collect();
        let g = Groups {
            max: MAX,
            ..Groups::default()
        };
        let group = move |e: &Either<Rec, Rec>| match e {
            Either::Left(r) | Either::Right(r) => Some(g.group_of(&r.0)),
        };
        check_restores(&make, &group, &events, MAX);
    }
}
