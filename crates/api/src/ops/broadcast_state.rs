//! The broadcast state pattern (Flink's `BroadcastStream` / `BroadcastProcessFunction` /
//! `KeyedBroadcastProcessFunction`): a low-volume stream — rules, configuration — goes to every
//! subtask of an operator, which keeps it in a *broadcast state* (a map, one copy per subtask)
//! and reads it while processing the main stream.
//!
//! **Ordering.** As in Flink, nothing orders the broadcast input against the main input: a
//! main-input record may be processed before or after a broadcast record that was produced
//! "earlier", and the order differs between subtasks. Broadcast records from one producer subtask
//! arrive in the same order at every subtask; from several producers they may interleave
//! differently, so the broadcast states of the subtasks only agree if updating them does not
//! depend on that order. For results independent of arrival order, use event time: keep the
//! record in keyed state, register a timer at its timestamp, and apply the rules in effect at that
//! time when it fires (the watermark then guarantees every earlier rule arrived).

use crate::keyed::{KeyFn, KeyedStream};
use crate::ops::connect::{tagged_union, Connect, KeyedCoContext, KeyedRuntime};
use crate::ops::join::Either;
use crate::stream::DataStream;
use serde::{de::DeserializeOwned, Serialize};
use spate_runtime::checkpoint::{decode, encode, CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::time::StreamEvent;
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

/// A stream whose records go to every subtask of the operator it is connected to (Flink's
/// `BroadcastStream`), made by [`DataStream::broadcast_stream`].
pub struct BroadcastStream<R> {
    stream: DataStream<R>,
}

impl<R: Data> DataStream<R> {
    /// This stream as the broadcast side of a broadcast-state connection (Flink's
    /// `broadcast(MapStateDescriptor)`; the state's types come from the process functions).
    /// Connect it with [`connect`](Connect::connect) on a `DataStream` or a `KeyedStream`.
    pub fn broadcast_stream(&self) -> BroadcastStream<R> {
        BroadcastStream {
            stream: self.clone().broadcast(),
        }
    }
}

/// The broadcast state of one subtask: a map the broadcast side writes and the main side reads.
pub struct BroadcastState<SK, SV> {
    map: HashMap<SK, SV>,
}

impl<SK: Hash + Eq, SV> BroadcastState<SK, SV> {
    /// The value of `key`.
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&SV>
    where
        SK: Borrow<Q>,
    {
        self.map.get(key)
    }
    /// Whether `key` has a value.
    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        SK: Borrow<Q>,
    {
        self.map.contains_key(key)
    }
    /// Sets the value of `key`.
    pub fn put(&mut self, key: SK, value: SV) {
        self.map.insert(key, value);
    }
    /// Removes `key`, returning its value.
    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<SV>
    where
        SK: Borrow<Q>,
    {
        self.map.remove(key)
    }
    /// Removes every entry.
    pub fn clear(&mut self) {
        self.map.clear();
    }
    /// The entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&SK, &SV)> {
        self.map.iter()
    }
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A stream connected with a broadcast stream (Flink's `BroadcastConnectedStream`).
pub struct BroadcastConnectedStream<A, R> {
    stream: DataStream<A>,
    rules: DataStream<R>,
}

/// A keyed stream connected with a broadcast stream.
pub struct KeyedBroadcastConnectedStream<A, K, R> {
    keyed: KeyedStream<A, K>,
    rules: DataStream<R>,
}

impl<A: Data, R: Data> Connect<&BroadcastStream<R>> for DataStream<A> {
    type Connected = BroadcastConnectedStream<A, R>;
    fn connect(&self, other: &BroadcastStream<R>) -> BroadcastConnectedStream<A, R> {
        BroadcastConnectedStream {
            stream: self.clone(),
            rules: other.stream.clone(),
        }
    }
}

impl<A: Data, K: Key, R: Data> Connect<&BroadcastStream<R>> for KeyedStream<A, K> {
    type Connected = KeyedBroadcastConnectedStream<A, K, R>;
    fn connect(&self, other: &BroadcastStream<R>) -> KeyedBroadcastConnectedStream<A, K, R> {
        KeyedBroadcastConnectedStream {
            keyed: self.clone(),
            rules: other.stream.clone(),
        }
    }
}

impl<A: Data, R: Data> BroadcastConnectedStream<A, R> {
    /// Flink's `BroadcastProcessFunction`: `process_element(value, &state, out)` for the main
    /// input (the state is read-only there) and `process_broadcast_element(value, &mut state,
    /// out)` for the broadcast input. The main input keeps its partitioning. See the module
    /// documentation on ordering.
    ///
    /// ```
    /// use spate::prelude::*;
    ///
    /// let env = StreamEnv::local();
    /// let words = env.from_collection(vec!["a".to_string(), "b".to_string()]);
    /// let rules = env.from_collection(vec![("suffix".to_string(), "!".to_string())]);
    /// let out = words
    ///     .connect(&rules.broadcast_stream())
    ///     .process(
    ///         |w: String, state: &BroadcastState<String, String>, out: &mut dyn Collector<String>| {
    ///             // Without the rule yet, the word passes unchanged (arrival order is not defined).
    ///             out.collect(format!("{w}{}", state.get("suffix").map_or("", |s| s.as_str())))
    ///         },
    ///         |(k, v): (String, String), state: &mut BroadcastState<String, String>, _: &mut dyn Collector<String>| {
    ///             state.put(k, v)
    ///         },
    ///     )
    ///     .collect();
    /// env.execute("broadcast").unwrap();
    /// assert_eq!(out.take().len(), 2);
    /// ```
    pub fn process<SK, SV, O>(
        &self,
        mut process_element: impl FnMut(A, &BroadcastState<SK, SV>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
        process_broadcast_element: impl FnMut(R, &mut BroadcastState<SK, SV>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
    ) -> DataStream<O>
    where
        SK: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
        SV: Serialize + DeserializeOwned + Send + 'static,
        O: Data,
    {
        let union = tagged_union(&self.stream, &self.rules);
        build(
            &union,
            "Broadcast Process",
            KeyFn::Owned(Arc::new(|_: &A| ())),
            move |a: A,
                  s: &BroadcastState<SK, SV>,
                  _: &mut KeyedCoContext<'_, ()>,
                  out: &mut dyn Collector<O>| { process_element(a, s, out) },
            process_broadcast_element,
            no_timer,
        )
    }
}

impl<A: Data, K: Key, R: Data> KeyedBroadcastConnectedStream<A, K, R> {
    /// Flink's `KeyedBroadcastProcessFunction` without timers: `process_element(value, &state,
    /// ctx, out)` for the keyed input, with read-only broadcast state and the key's context
    /// (value state), and `process_broadcast_element(value, &mut state, out)` for the broadcast
    /// input, which reaches every subtask. See the module documentation on ordering.
    pub fn process<SK, SV, O>(
        &self,
        process_element: impl FnMut(A, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
        process_broadcast_element: impl FnMut(R, &mut BroadcastState<SK, SV>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
    ) -> DataStream<O>
    where
        SK: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
        SV: Serialize + DeserializeOwned + Send + 'static,
        O: Data,
    {
        self.process_with_timers(process_element, process_broadcast_element, no_timer)
    }

    /// Like [`process`](Self::process), with event-time timers: a timer registered through the
    /// context fires `on_timer(time, &state, ctx, out)` when the watermark (the minimum of both
    /// inputs) reaches it; its results carry the timer's time.
    ///
    /// ```
    /// use spate::prelude::*;
    ///
    /// type Reading = (char, i64); // (sensor, value); the timestamp is the value here
    /// let env = StreamEnv::local();
    /// let at = |s: DataStream<Reading>| {
    ///     s.assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|r: &Reading, _| r.1),
    ///     )
    /// };
    /// let readings = at(env.from_collection(vec![('a', 5), ('b', 50)]));
    /// let limits = at(env.from_collection(vec![('*', 10)])); // a limit of 10, effective from time 10
    /// let alerts = readings
    ///     .key_by(|r: &Reading| r.0)
    ///     .connect(&limits.broadcast_stream())
    ///     .process_with_timers(
    ///         |r: Reading, _: &BroadcastState<i64, i64>, ctx: &mut KeyedCoContext<char>, _: &mut dyn Collector<Reading>| {
    ///             ctx.value_state::<i64>("reading").update(r.1);
    ///             ctx.register_event_time_timer(r.1);
    ///         },
    ///         |l: Reading, limits: &mut BroadcastState<i64, i64>, _: &mut dyn Collector<Reading>| limits.put(l.1, l.1),
    ///         |t: i64, limits: &BroadcastState<i64, i64>, ctx: &mut KeyedCoContext<char>, out: &mut dyn Collector<Reading>| {
    ///             // The limit in effect at time t: the latest one from at or before t.
    ///             let limit = limits.iter().filter(|(from, _)| **from <= t).max_by_key(|(from, _)| **from);
    ///             let key = *ctx.key();
    ///             let value = ctx.value_state::<i64>("reading").value().copied();
    ///             if let (Some((_, limit)), Some(v)) = (limit, value) {
    ///                 if v > *limit {
    ///                     out.collect((key, v));
    ///                 }
    ///             }
    ///         },
    ///     )
    ///     .collect();
    /// env.execute("limits").unwrap();
    /// assert_eq!(alerts.take(), [('b', 50)]);
    /// ```
    pub fn process_with_timers<SK, SV, O>(
        &self,
        process_element: impl FnMut(A, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
        process_broadcast_element: impl FnMut(R, &mut BroadcastState<SK, SV>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
        on_timer: impl FnMut(i64, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
            + Clone
            + Send
            + Sync
            + 'static,
    ) -> DataStream<O>
    where
        SK: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
        SV: Serialize + DeserializeOwned + Send + 'static,
        O: Data,
    {
        let main = self.keyed.hashed(&self.keyed.input);
        let union = tagged_union(&main, &self.rules);
        build(
            &union,
            "Keyed Broadcast Process",
            self.keyed.key.clone(),
            process_element,
            process_broadcast_element,
            on_timer,
        )
    }
}

fn no_timer<SK, SV, K, O>(
    _: i64,
    _: &BroadcastState<SK, SV>,
    _: &mut KeyedCoContext<'_, K>,
    _: &mut dyn Collector<O>,
) {
}

fn build<A, K, R, SK, SV, O, PE, PB, PT>(
    union: &DataStream<Either<A, R>>,
    name: &str,
    key: KeyFn<A, K>,
    pe: PE,
    pb: PB,
    pt: PT,
) -> DataStream<O>
where
    A: Data,
    K: Key,
    R: Data,
    SK: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
    SV: Serialize + DeserializeOwned + Send + 'static,
    O: Data,
    PE: FnMut(A, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
        + Clone
        + Send
        + Sync
        + 'static,
    PB: FnMut(R, &mut BroadcastState<SK, SV>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    PT: FnMut(i64, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
        + Clone
        + Send
        + Sync
        + 'static,
{
    union.add_operator(name, move |_| BroadcastOp {
        key: key.clone(),
        pe: pe.clone(),
        pb: pb.clone(),
        pt: pt.clone(),
        state: BroadcastState { map: HashMap::new() },
        keyed: KeyedRuntime::default(),
        _t: PhantomData,
    })
}

struct BroadcastOp<A, K, R, SK, SV, O, PE, PB, PT> {
    key: KeyFn<A, K>,
    pe: PE,
    pb: PB,
    pt: PT,
    state: BroadcastState<SK, SV>,
    keyed: KeyedRuntime<K>,
    _t: PhantomData<fn(A, R) -> O>,
}

impl<A, K, R, SK, SV, O, PE, PB, PT> Operator<Either<A, R>, O> for BroadcastOp<A, K, R, SK, SV, O, PE, PB, PT>
where
    A: Data,
    K: Key,
    R: Data,
    SK: Hash + Eq + Serialize + DeserializeOwned + Send + 'static,
    SV: Serialize + DeserializeOwned + Send + 'static,
    O: Data,
    PE: FnMut(A, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>) + Send + 'static,
    PB: FnMut(R, &mut BroadcastState<SK, SV>, &mut dyn Collector<O>) + Send + 'static,
    PT: FnMut(i64, &BroadcastState<SK, SV>, &mut KeyedCoContext<'_, K>, &mut dyn Collector<O>)
        + Send
        + 'static,
{
    fn process<C: Output<O>>(&mut self, record: Either<A, R>, out: &mut C) {
        match record {
            Either::Left(a) => {
                let key = self.key.key_of(&a);
                (self.pe)(a, &self.state, &mut self.keyed.context(&key), out);
            }
            Either::Right(r) => (self.pb)(r, &mut self.state, out),
        }
    }

    fn initialize_state(&mut self, ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        if let Some(bytes) = self.keyed.initialize(ctx, &state)? {
            let entries: Vec<(SK, SV)> = decode(&bytes)?;
            self.state.map = entries.into_iter().collect();
        }
        Ok(())
    }

    fn open(&mut self, ctx: &TaskContext) {
        self.keyed.open(ctx);
    }

    /// Keyed state and timers per key group; the broadcast state is copied into every key group
    /// this subtask owns, so that whatever the parallelism on restore, every subtask gets it.
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let entries: Vec<(&SK, &SV)> = self.state.map.iter().collect();
        let broadcast = encode(&entries)?;
        self.keyed.snapshot(Some(&broadcast))
    }

    fn process_event<C: Output<O>>(&mut self, event: StreamEvent, out: &mut C) -> Option<StreamEvent> {
        if let StreamEvent::Watermark(w) = event {
            let (pt, state) = (&mut self.pt, &self.state);
            self.keyed.advance(w, |ts, ctx| pt(ts, state, ctx, out));
        }
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use crate::checkpointing::Groups;

    const MAX: u32 = 16;
    type Rec = (String, i64);

    #[test]
    fn broadcast_state_reaches_every_subtask_after_a_restore() {
        let make = || {
            let pe = |r: Rec,
                      rules: &BroadcastState<String, i64>,
                      ctx: &mut KeyedCoContext<'_, String>,
                      out: &mut dyn Collector<(String, i64, i64, usize)>| {
                let factor = rules.get("factor").copied().unwrap_or(1);
                let mut n = ctx.value_state::<i64>("n");
                let total = n.value().copied().unwrap_or(0) + r.1 * factor;
                n.update(total);
                out.collect((r.0, r.1, total, rules.len()));
            };
            let pb =
                |rule: (String, i64), rules: &mut BroadcastState<String, i64>, _: &mut dyn Collector<_>| {
                    rules.put(rule.0, rule.1);
                };
            BroadcastOp {
                key: KeyFn::Owned(Arc::new(|r: &Rec| r.0.clone())),
                pe,
                pb,
                pt: no_timer,
                state: BroadcastState { map: HashMap::new() },
                keyed: KeyedRuntime::default(),
                _t: PhantomData,
            }
        };
        let mut events: Vec<Ev<Either<Rec, Rec>>> = Vec::new();
        for i in 0..120i64 {
            if i % 10 == 0 {
                events.push(Ev::All(Either::Right(("factor".into(), i / 10 + 1)), None));
                events.push(Ev::All(Either::Right((format!("rule{i}"), i)), None));
            }
            events.push(Ev::Rec(Either::Left((format!("k{}", i % 9), i)), None));
            if i % 13 == 12 {
                events.push(Ev::Restore(0));
            }
        }
        let g = Groups {
            max: MAX,
            ..Groups::default()
        };
        let group = move |e: &Either<Rec, Rec>| match e {
            Either::Left(r) => Some(g.group_of(&r.0)),
            Either::Right(_) => None,
        };
        let got = check_restores(&make, &group, &events, MAX);
        assert!(got.iter().any(|o| o.3 == 13), "every rule kept");
    }
}
