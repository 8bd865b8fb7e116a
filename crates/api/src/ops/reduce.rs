use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_common::config::keys;
use spate_graph::ExecutionMode;
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, TaskContext};
use std::ops::Add;

/// Per-key values; `None` only while a value is being reduced.
pub(crate) type KeyedValues<K, T> = FxHashMap<K, Option<T>>;

/// Reduces `record` into its key's entry (cloning the key only for a new entry) and shows the
/// new value to `emit`.
#[inline]
pub(crate) fn reduce_into<T, K: Key>(
    map: &mut KeyedValues<K, T>,
    key: &KeyFn<T, K>,
    record: T,
    f: &impl Fn(T, T) -> T,
    emit: impl FnOnce(&T),
) {
    let m = &mut *map;
    if let Some(slot) = key.with_key(&record, move |k| m.get_mut(k)) {
        if let Some(acc) = slot.take() {
            let v = f(acc, record);
            emit(&v);
            *slot = Some(v);
        }
        return;
    }
    let k = key.key_of(&record);
    emit(&record);
    map.insert(k, Some(record));
}

/// Batch pre-aggregation before the exchange (a combiner): reduces what it can locally, emits
/// partial results when it holds too many keys and at the end.
struct CombineOp<T, K, F> {
    key: KeyFn<T, K>,
    f: F,
    map: KeyedValues<K, T>,
    max_keys: usize,
}

impl<T: Data, K: Key, F: Fn(T, T) -> T + Send + 'static> Operator<T, T> for CombineOp<T, K, F> {
    fn open(&mut self, ctx: &TaskContext) {
        self.max_keys = ctx.config.get(&keys::COMBINER_MAX_KEYS) as usize;
    }
    #[inline]
    fn process<C: Collector<T>>(&mut self, record: T, out: &mut C) {
        reduce_into(&mut self.map, &self.key, record, &self.f, |_| {});
        if self.map.len() >= self.max_keys {
            self.map.drain().filter_map(|(_, v)| v).for_each(|v| out.collect(v));
        }
    }
    fn end_input<C: Collector<T>>(&mut self, out: &mut C) {
        self.map.drain().filter_map(|(_, v)| v).for_each(|v| out.collect(v));
    }
}

/// The keyed reduction: in streaming mode it emits the updated value after every record (Flink's
/// rolling reduce); in batch mode it emits each key's final value at the end.
struct ReduceOp<T, K, F> {
    key: KeyFn<T, K>,
    f: F,
    map: KeyedValues<K, T>,
    streaming: bool,
}

impl<T: Data, K: Key, F: Fn(T, T) -> T + Send + 'static> Operator<T, T> for ReduceOp<T, K, F> {
    fn open(&mut self, ctx: &TaskContext) {
        self.streaming = ctx.mode == ExecutionMode::Streaming;
    }
    #[inline]
    fn process<C: Collector<T>>(&mut self, record: T, out: &mut C) {
        if self.streaming {
            reduce_into(&mut self.map, &self.key, record, &self.f, |v| out.collect(v.clone()));
        } else {
            reduce_into(&mut self.map, &self.key, record, &self.f, |_| {});
        }
    }
    fn end_input<C: Collector<T>>(&mut self, out: &mut C) {
        if !self.streaming {
            self.map.drain().filter_map(|(_, v)| v).for_each(|v| out.collect(v));
        }
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Combines the records of each key with `f`. Streaming: emits the running value after every
    /// record. Batch: emits one final value per key, and pre-aggregates before the exchange.
    pub fn reduce(&self, f: impl Fn(T, T) -> T + Clone + Send + Sync + 'static) -> DataStream<T> {
        let (key, f2) = (self.key.clone(), f.clone());
        let combined = self.input.add_local_operator("Combine", move |_| CombineOp {
            key: key.clone(),
            f: f2.clone(),
            map: KeyedValues::default(),
            max_keys: usize::MAX,
        });
        combined.env.state.borrow_mut().graph.node_mut(combined.id).batch_only = true;
        let key = self.key.clone();
        self.hashed(&combined).add_operator("Keyed Reduce", move |_| ReduceOp {
            key: key.clone(),
            f: f.clone(),
            map: KeyedValues::default(),
            streaming: true,
        })
    }

    /// Sums the field that `field` points to, per key (other fields: from the first record).
    pub fn sum<N>(&self, field: impl Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static) -> DataStream<T>
    where
        N: Copy + Add<Output = N>,
    {
        self.reduce(move |mut acc, mut r| {
            let v = *field(&mut r);
            let a = field(&mut acc);
            *a = *a + v;
            acc
        })
        .name("Keyed Sum")
    }

    /// The smallest value of the field per key (other fields: from the first record), as Flink's
    /// `min(field)`.
    pub fn min<N: Copy + PartialOrd>(
        &self,
        field: impl Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    ) -> DataStream<T> {
        self.reduce(move |mut acc, mut r| {
            let v = *field(&mut r);
            let a = field(&mut acc);
            if v < *a {
                *a = v;
            }
            acc
        })
        .name("Keyed Min")
    }

    /// The largest value of the field per key (other fields: from the first record).
    pub fn max<N: Copy + PartialOrd>(
        &self,
        field: impl Fn(&mut T) -> &mut N + Clone + Send + Sync + 'static,
    ) -> DataStream<T> {
        self.reduce(move |mut acc, mut r| {
            let v = *field(&mut r);
            let a = field(&mut acc);
            if v > *a {
                *a = v;
            }
            acc
        })
        .name("Keyed Max")
    }

    /// The whole record with the smallest `f(record)` per key (the first on ties).
    pub fn min_by<N: PartialOrd>(&self, f: impl Fn(&T) -> N + Clone + Send + Sync + 'static) -> DataStream<T> {
        self.reduce(move |a, b| if f(&b) < f(&a) { b } else { a }).name("Keyed Min By")
    }

    /// The whole record with the largest `f(record)` per key (the first on ties).
    pub fn max_by<N: PartialOrd>(&self, f: impl Fn(&T) -> N + Clone + Send + Sync + 'static) -> DataStream<T> {
        self.reduce(move |a, b| if f(&b) > f(&a) { b } else { a }).name("Keyed Max By")
    }
}
