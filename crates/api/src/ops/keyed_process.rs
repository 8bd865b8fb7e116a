//! Per-key processing with keyed state and timers (Flink's `KeyedProcessFunction`).

use crate::checkpointing::{self, decode_groups, push, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::ops::aggregate::AggregateFunction;
use crate::side_output::{DeclaredOutput, OutputTag};
use crate::state::{AggregatingState, KeyedStateStore, ListState, MapState, ReducingState, Slot, ValueState};
use crate::stream::DataStream;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::failure;
use spate_runtime::operator::Operator;
use spate_runtime::operator::{SideOutput, SideOutputs};
use spate_runtime::time::{current_timestamp, now_ms, set_current_timestamp, StreamEvent};
use spate_runtime::{Collector, Data, Key, Output, TaskContext};
use std::any::Any;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

/// Timers of one operator instance: per time, the keys that registered one.
pub struct TimerService<K> {
    event: BTreeMap<i64, Vec<K>>,
    processing: BTreeMap<i64, Vec<K>>,
    live: FxHashSet<(K, i64, bool)>,
}

impl<K> Default for TimerService<K> {
    fn default() -> Self {
        TimerService {
            event: BTreeMap::new(),
            processing: BTreeMap::new(),
            live: FxHashSet::default(),
        }
    }
}

impl<K: Key> TimerService<K> {
    pub(crate) fn register(&mut self, key: &K, time: i64, event_time: bool) {
        if self.live.insert((key.clone(), time, event_time)) {
            let queue = if event_time {
                &mut self.event
            } else {
                &mut self.processing
            };
            queue.entry(time).or_default().push(key.clone());
        }
    }

    pub(crate) fn delete(&mut self, key: &K, time: i64, event_time: bool) {
        self.live.remove(&(key.clone(), time, event_time));
    }

    /// Every live timer as `(key, time, event time?)`, by key group.
    pub(crate) fn by_group(&self, groups: &Groups) -> BTreeMap<u32, Vec<(&K, i64, bool)>> {
        let mut out = BTreeMap::new();
        for (k, t, e) in &self.live {
            push(&mut out, groups.group_of(k), (k, *t, *e));
        }
        out
    }

    /// The earliest live timer at or before `until`, removed.
    pub(crate) fn pop_due(&mut self, until: i64, event_time: bool) -> Option<(i64, K)> {
        loop {
            let queue = if event_time {
                &mut self.event
            } else {
                &mut self.processing
            };
            let mut entry = queue.first_entry()?;
            let time = *entry.key();
            if time > until {
                return None;
            }
            let key = entry.get_mut().pop();
            if entry.get().is_empty() {
                entry.remove();
            }
            if let Some(key) = key {
                if self.live.remove(&(key.clone(), time, event_time)) {
                    return Some((time, key));
                }
            }
        }
    }
}

/// What a keyed process function sees besides the record: the current key, its state, time and
/// timers.
pub struct KeyedContext<'a, K> {
    key: &'a K,
    store: &'a mut KeyedStateStore<K>,
    timers: &'a mut TimerService<K>,
    watermark: i64,
    side: &'a mut SideMap,
}

/// Declared side outputs by tag: each a `SideOutput<X>` of the tag's type.
pub(crate) type SideMap = FxHashMap<String, Box<dyn Any + Send>>;

impl<'a, K: Key> KeyedContext<'a, K> {
    /// A context over an operator's keyed parts, for the record (or timer) of `key`.
    pub(crate) fn new(
        key: &'a K,
        store: &'a mut KeyedStateStore<K>,
        timers: &'a mut TimerService<K>,
        watermark: i64,
        side: &'a mut SideMap,
    ) -> Self {
        KeyedContext {
            key,
            store,
            timers,
            watermark,
            side,
        }
    }

    /// The key of the current record (or of the firing timer).
    pub fn key(&self) -> &K {
        self.key
    }

    /// The event timestamp of the current record (or the firing timer's time).
    pub fn timestamp(&self) -> Option<i64> {
        current_timestamp()
    }

    /// The operator's current event-time watermark.
    pub fn current_watermark(&self) -> i64 {
        self.watermark
    }

    /// Emits `value` to the side output `tag` (declared with
    /// [`KeyedStream::process_function_with_outputs`]).
    pub fn output<X: Data>(&mut self, tag: &OutputTag<X>, value: X) {
        match self
            .side
            .get_mut(tag.id())
            .map(|o| o.downcast_mut::<SideOutput<X>>())
        {
            Some(Some(o)) => o.collect(value),
            Some(None) => failure::fail(format!(
                "side output '{}' was declared with another type",
                tag.id()
            )),
            None => failure::fail(format!(
                "side output '{}' is not declared: pass tag.declare() to process_function_with_outputs",
                tag.id()
            )),
        }
    }

    /// The current processing time (ms since the epoch).
    pub fn current_processing_time(&self) -> i64 {
        now_ms()
    }

    /// Calls `on_timer` for this key once the watermark reaches `time` (once per key and time).
    pub fn register_event_time_timer(&mut self, time: i64) {
        self.timers.register(self.key, time, true);
    }

    /// Cancels an event-time timer of this key.
    pub fn delete_event_time_timer(&mut self, time: i64) {
        self.timers.delete(self.key, time, true);
    }

    /// Calls `on_timer` for this key once the clock reaches `time`.
    pub fn register_processing_time_timer(&mut self, time: i64) {
        self.timers.register(self.key, time, false);
    }

    /// Cancels a processing-time timer of this key.
    pub fn delete_processing_time_timer(&mut self, time: i64) {
        self.timers.delete(self.key, time, false);
    }

    /// The value state named `name`. A name is bound to one type; another type fails the operator.
    pub fn value_state<V: Data>(&mut self, name: &str) -> ValueState<'_, K, V> {
        ValueState(Slot::open(self.store, self.key, name, None))
    }

    /// A value state whose entries expire `ttl` after they were last written (processing time);
    /// an expired value is never returned.
    pub fn value_state_with_ttl<V: Data>(&mut self, name: &str, ttl: Duration) -> ValueState<'_, K, V> {
        ValueState(Slot::open(self.store, self.key, name, Some(ttl)))
    }

    /// The list state named `name`.
    pub fn list_state<V: Data>(&mut self, name: &str) -> ListState<'_, K, V> {
        ListState(Slot::open(self.store, self.key, name, None))
    }

    /// A list state with time-to-live.
    pub fn list_state_with_ttl<V: Data>(&mut self, name: &str, ttl: Duration) -> ListState<'_, K, V> {
        ListState(Slot::open(self.store, self.key, name, Some(ttl)))
    }

    /// The map state named `name`.
    pub fn map_state<UK: Key, UV: Data>(&mut self, name: &str) -> MapState<'_, K, UK, UV> {
        MapState(Slot::open(self.store, self.key, name, None))
    }

    /// A map state with time-to-live.
    pub fn map_state_with_ttl<UK: Key, UV: Data>(
        &mut self,
        name: &str,
        ttl: Duration,
    ) -> MapState<'_, K, UK, UV> {
        MapState(Slot::open(self.store, self.key, name, Some(ttl)))
    }

    /// The reducing state named `name`, reducing with `f`.
    pub fn reducing_state<V: Data, F: Fn(V, V) -> V>(
        &mut self,
        name: &str,
        f: F,
    ) -> ReducingState<'_, K, V, F> {
        ReducingState(Slot::open(self.store, self.key, name, None), f)
    }

    /// The aggregating state named `name`, aggregating with `agg`.
    pub fn aggregating_state<'s, T, Acc, O, A>(
        &'s mut self,
        name: &str,
        agg: &'s A,
    ) -> AggregatingState<'s, K, Acc, A>
    where
        Acc: Serialize + DeserializeOwned + Send + 'static,
        A: AggregateFunction<T, Acc, O>,
    {
        AggregatingState(Slot::open(self.store, self.key, name, None), agg)
    }
}

/// A function over a keyed stream with state and timers (Flink's `KeyedProcessFunction`).
pub trait KeyedProcessFunction<K, I, O>: Clone + Send + Sync + 'static {
    /// Handles one record.
    fn process_element(&mut self, value: I, ctx: &mut KeyedContext<'_, K>, out: &mut dyn Collector<O>);
    /// A timer of `ctx.key()` fired at `timestamp` (event-time timers fire in timestamp order as
    /// the watermark passes them).
    fn on_timer(&mut self, _timestamp: i64, _ctx: &mut KeyedContext<'_, K>, _out: &mut dyn Collector<O>) {}
}

/// A closure as a process function without timers.
#[derive(Clone)]
struct ClosureFunction<F>(F);

impl<K, I, O, F> KeyedProcessFunction<K, I, O> for ClosureFunction<F>
where
    F: FnMut(I, &mut KeyedContext<'_, K>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
{
    fn process_element(&mut self, value: I, ctx: &mut KeyedContext<'_, K>, out: &mut dyn Collector<O>) {
        (self.0)(value, ctx, out)
    }
}

struct KeyedProcessOp<T, K, O, F> {
    key: KeyFn<T, K>,
    f: F,
    declared: Vec<DeclaredOutput>,
    side: SideMap,
    store: KeyedStateStore<K>,
    timers: TimerService<K>,
    watermark: i64,
    groups: Groups,
    _o: PhantomData<fn(T) -> O>,
}

/// What a keyed operator with a [`KeyedStateStore`] and timers writes per key group: every
/// named state's entries, the group's timers and, for the broadcast state pattern, a copy of the
/// broadcast state (the same in every group of a subtask, so every future subtask gets one).
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyedGroup<K> {
    pub states: Vec<(String, Vec<u8>)>,
    pub timers: Vec<(K, i64, bool)>,
    pub broadcast: Option<Vec<u8>>,
}

/// Snapshots a keyed state store and its timers per key group (every owned group, with the
/// watermark), each group with `broadcast` if given.
pub(crate) fn snapshot_keyed<K: Key>(
    groups: &Groups,
    store: &KeyedStateStore<K>,
    timers: &TimerService<K>,
    watermark: i64,
    broadcast: Option<&[u8]>,
) -> spate_runtime::Result<Vec<(u32, Vec<u8>)>> {
    let mut timers = timers.by_group(groups);
    let mut all: BTreeMap<u32, Vec<KeyedGroup<&K>>> = BTreeMap::new();
    // Every group the subtask owns (for the watermark and the broadcast copy), and any other
    // that holds something.
    for g in 0..groups.max {
        let states = store.snapshot_group(g)?;
        let timers = timers.remove(&g).unwrap_or_default();
        if groups.owns(g) || !states.is_empty() || !timers.is_empty() {
            let entry = KeyedGroup {
                states,
                timers,
                broadcast: broadcast.map(<[u8]>::to_vec),
            };
            all.insert(g, vec![entry]);
        }
    }
    groups.encode(all, Some(watermark))
}

/// Restores what [`snapshot_keyed`] wrote; returns the restored watermark and the broadcast
/// state of the lowest key group that has one.
pub(crate) fn restore_keyed<K: Key>(
    state: &OperatorSnapshot,
    store: &mut KeyedStateStore<K>,
    timers: &mut TimerService<K>,
) -> spate_runtime::Result<(Option<i64>, Option<Vec<u8>>)> {
    let (watermark, mut groups) = decode_groups::<KeyedGroup<K>>(state)?;
    groups.sort_by_key(|(g, _)| *g);
    let mut broadcast = None;
    for (g, entries) in groups {
        for e in entries {
            store.restore_group(g, e.states)?;
            for (k, t, event_time) in e.timers {
                timers.register(&k, t, event_time);
            }
            if broadcast.is_none() {
                broadcast = e.broadcast;
            }
        }
    }
    Ok((watermark, broadcast))
}

impl<T: Data, K: Key, O: Data, F: KeyedProcessFunction<K, T, O>> KeyedProcessOp<T, K, O, F> {
    fn fire<C: Output<O>>(&mut self, until: i64, event_time: bool, out: &mut C) {
        while let Some((time, key)) = self.timers.pop_due(until, event_time) {
            set_current_timestamp(time);
            let mut ctx = KeyedContext {
                key: &key,
                store: &mut self.store,
                timers: &mut self.timers,
                watermark: self.watermark,
                side: &mut self.side,
            };
            self.f.on_timer(time, &mut ctx, out);
        }
    }
}

impl<T: Data, K: Key, O: Data, F: KeyedProcessFunction<K, T, O>> Operator<T, O>
    for KeyedProcessOp<T, K, O, F>
{
    fn set_side_outputs(&mut self, side: &mut SideOutputs) {
        for d in &self.declared {
            match (d.0)(side) {
                Ok((tag, out)) => {
                    self.side.insert(tag, out);
                }
                Err(e) => failure::fail(e.to_string()),
            }
        }
    }

    fn initialize_state(&mut self, ctx: &TaskContext, state: OperatorSnapshot) -> spate_runtime::Result<()> {
        self.groups = Groups::of(ctx);
        self.store = KeyedStateStore::new(self.groups.max);
        let (watermark, _) = restore_keyed(&state, &mut self.store, &mut self.timers)?;
        self.watermark = watermark.unwrap_or(i64::MIN);
        Ok(())
    }

    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
        if self.store.max_parallelism() != self.groups.max {
            self.store = KeyedStateStore::new(self.groups.max);
        }
    }

    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> spate_runtime::Result<OperatorSnapshot> {
        let keyed = snapshot_keyed(&self.groups, &self.store, &self.timers, self.watermark, None)?;
        Ok(checkpointing::keyed(keyed))
    }

    fn process<C: Output<O>>(&mut self, record: T, out: &mut C) {
        let key = self.key.key_of(&record);
        let mut ctx = KeyedContext {
            key: &key,
            store: &mut self.store,
            timers: &mut self.timers,
            watermark: self.watermark,
            side: &mut self.side,
        };
        self.f.process_element(record, &mut ctx, out);
    }

    fn process_event<C: Output<O>>(&mut self, event: StreamEvent, out: &mut C) -> Option<StreamEvent> {
        if let StreamEvent::Watermark(w) = event {
            self.watermark = self.watermark.max(w);
            self.fire(w, true, out);
        }
        Some(event)
    }

    fn on_processing_time<C: Output<O>>(&mut self, now: i64, out: &mut C) {
        self.fire(now, false, out);
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Runs `f` on every record with access to the record's key and per-key state (a
    /// [`KeyedProcessFunction`] without timers; see [`process_function`](Self::process_function)).
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// // Number each record within its key.
    /// let numbered = env
    ///     .from_collection(vec!['a', 'b', 'a'])
    ///     .key_by(|c: &char| *c)
    ///     .process(|r: char, ctx: &mut KeyedContext<char>, out: &mut dyn Collector<(char, u32)>| {
    ///         let mut n = ctx.value_state::<u32>("n");
    ///         let next = n.value().copied().unwrap_or(0) + 1;
    ///         n.update(next);
    ///         out.collect((r, next));
    ///     })
    ///     .collect();
    /// env.execute("number").unwrap();
    /// let mut v = numbered.take();
    /// v.sort();
    /// assert_eq!(v, [('a', 1), ('a', 2), ('b', 1)]);
    /// ```
    pub fn process<O: Data>(
        &self,
        f: impl FnMut(T, &mut KeyedContext<'_, K>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        self.process_function(ClosureFunction(f))
    }

    /// Runs a [`KeyedProcessFunction`]: per-key state plus event-time and processing-time timers.
    pub fn process_function<O: Data>(&self, f: impl KeyedProcessFunction<K, T, O>) -> DataStream<O> {
        self.process_function_with_outputs(f, [])
    }

    /// Like [`process_function`](Self::process_function), with side outputs the function writes
    /// with [`KeyedContext::output`]: pass `tag.declare()` for each, then read them with
    /// `get_side_output(&tag)` on the result.
    pub fn process_function_with_outputs<O: Data>(
        &self,
        f: impl KeyedProcessFunction<K, T, O>,
        outputs: impl IntoIterator<Item = DeclaredOutput>,
    ) -> DataStream<O> {
        let declared: Vec<DeclaredOutput> = outputs.into_iter().collect();
        let key = self.key.clone();
        self.hashed(&self.input)
            .add_operator("Keyed Process", move |_| KeyedProcessOp {
                key: key.clone(),
                f: f.clone(),
                declared: declared.clone(),
                side: SideMap::default(),
                store: KeyedStateStore::new(1),
                timers: TimerService::default(),
                watermark: i64::MIN,
                groups: Groups::default(),
                _o: PhantomData,
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use std::sync::Arc;

    const MAX: u32 = 16;
    type Rec = (String, i64);

    /// Keeps a count, a sum, a list and a map per key; an event-time timer 40 ms after each
    /// record and a processing-time timer per key report them. The map is declared only by the
    /// timers, so after a restore its bytes wait until a timer fires.
    #[derive(Clone)]
    struct Tracker;

    impl KeyedProcessFunction<String, Rec, (String, i64, String)> for Tracker {
        fn process_element(
            &mut self,
            r: Rec,
            ctx: &mut KeyedContext<'_, String>,
            out: &mut dyn Collector<(String, i64, String)>,
        ) {
            let mut n = ctx.value_state::<u64>("n");
            let count = n.value().copied().unwrap_or(0) + 1;
            n.update(count);
            let mut sum = ctx.reducing_state("sum", |a: i64, b: i64| a + b);
            sum.add(r.1);
            ctx.list_state::<i64>("items").add(r.1);
            let wm = ctx.current_watermark();
            out.collect((r.0.clone(), r.1, format!("count {count} watermark {wm}")));
            ctx.register_event_time_timer(r.1 + 40);
            if count % 3 == 0 {
                ctx.register_processing_time_timer(1_000 + r.1);
            }
            if count % 5 == 0 {
                ctx.delete_event_time_timer(r.1 + 40);
            }
        }

        fn on_timer(
            &mut self,
            t: i64,
            ctx: &mut KeyedContext<'_, String>,
            out: &mut dyn Collector<(String, i64, String)>,
        ) {
            let key = ctx.key().clone();
            let sum = ctx.reducing_state("sum", |a: i64, b: i64| a + b).get().copied();
            let items = ctx.list_state::<i64>("items").get().len();
            let mut fired = ctx.map_state::<i64, u32>("fired");
            let times = fired.get(&t).copied().unwrap_or(0) + 1;
            fired.put(t, times);
            let wm = ctx.current_watermark();
            out.collect((
                key,
                t,
                format!("sum {sum:?} items {items} times {times} wm>=t {}", wm >= t),
            ));
        }
    }

    fn make() -> KeyedProcessOp<Rec, String, (String, i64, String), Tracker> {
        KeyedProcessOp {
            key: KeyFn::Owned(Arc::new(|r: &Rec| r.0.clone())),
            f: Tracker,
            declared: Vec::new(),
            side: SideMap::default(),
            store: KeyedStateStore::new(1),
            timers: TimerService::default(),
            watermark: i64::MIN,
            groups: Groups::default(),
            _o: PhantomData,
        }
    }

    pub(crate) fn keyed_events(n: i64, restore_every: i64) -> Vec<Ev<Rec>> {
        let mut events = Vec::new();
        for i in 0..n {
            let ts = i * 10 + (i * 7) % 13;
            events.push(Ev::Rec((format!("k{}", (i * 5 + i / 3) % 7), ts), Some(ts)));
            if i % 4 == 3 {
                events.push(Ev::Wm(ts - 20));
            }
            if i % 9 == 8 {
                events.push(Ev::Proc(1_000 + ts - 30));
            }
            if i % restore_every == restore_every - 1 {
                events.push(Ev::Restore(0));
            }
        }
        events.push(Ev::Wm(i64::MAX));
        events.push(Ev::Proc(i64::MAX));
        events
    }

    #[test]
    fn keyed_state_and_timers_restore_at_any_parallelism() {
        let g = Groups {
            max: MAX,
            ..Groups::default()
        };
        for every in [4, 11, 30] {
            let got = check_restores(
                &make,
                &|r: &Rec| Some(g.group_of(&r.0)),
                &keyed_events(120, every),
                MAX,
            );
            assert!(got.iter().any(|o| o.2.contains("times 1")));
        }
    }
}
