use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_common::config::keys;
use spate_graph::ExecutionMode;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Error, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use std::ops::Add;

/// Per-key values; `None` only while a value is being reduced.
pub(crate) type KeyedValues<K, T> = FxHashMap<K, Option<T>>;

/// Reduces `record` into its key's entry, cloning the key only for a new entry.
#[inline]
fn reduce_into<T, K: Key>(map: &mut KeyedValues<K, T>, key: &KeyFn<T, K>, record: T, f: &impl Fn(T, T) -> T) {
    let m = &mut *map;
    if let Some(slot) = key.with_key(&record, move |k| m.get_mut(k)) {
        if let Some(acc) = slot.take() {
            *slot = Some(f(acc, record));
        }
        return;
    }
    let k = key.key_of(&record);
    map.insert(k, Some(record));
}

/// The step before the exchange: pairs each record with its key, so the key travels with the
/// value and a reduction that changes the fields the key is computed from cannot move a value to
/// another key (state is scoped by the input record's key, as in Flink). In batch mode it is also
/// a combiner: it reduces what it can locally and emits partial results when it holds too many
/// keys and at the end. In streaming mode it passes every record on at once.
struct CombineOp<T, K, F> {
    key: KeyFn<T, K>,
    f: F,
    map: KeyedValues<K, T>,
    max_keys: usize,
    batch: bool,
}

impl<T: Data, K: Key, F: Fn(T, T) -> T + Send + 'static> Operator<T, (K, T)> for CombineOp<T, K, F> {
    fn open(&mut self, ctx: &TaskContext) {
        self.max_keys = ctx.config.get(&keys::COMBINER_MAX_KEYS) as usize;
        self.batch = ctx.mode == ExecutionMode::Batch;
    }
    #[inline]
    fn process<C: Output<(K, T)>>(&mut self, record: T, out: &mut C) {
        if !self.batch {
            out.collect((self.key.key_of(&record), record));
            return;
        }
        reduce_into(&mut self.map, &self.key, record, &self.f);
        if self.map.len() >= self.max_keys {
            self.map
                .drain()
                .for_each(|(k, v)| v.into_iter().for_each(|v| out.collect((k.clone(), v))));
        }
    }
    /// Streaming: no state (records pass at once). Batch pre-aggregates are never checkpointed.
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        if self.map.is_empty() {
            return Ok(OperatorSnapshot::default());
        }
        Err(Error::Other(format!(
            "Combine holds {} pre-aggregated keys of a batch job, which cannot be checkpointed",
            self.map.len()
        )))
    }
    fn end_input<C: Output<(K, T)>>(&mut self, out: &mut C) {
        self.map
            .drain()
            .for_each(|(k, v)| v.into_iter().for_each(|v| out.collect((k.clone(), v))));
    }
}

/// The keyed reduction over `(key, value)` pairs: in streaming mode it emits the updated value
/// after every record (Flink's rolling reduce); in batch mode each key's final value at the end.
struct ReduceOp<T, K, F> {
    f: F,
    map: KeyedValues<K, T>,
    streaming: bool,
    groups: Groups,
}

impl<T: Data, K: Key, F: Fn(T, T) -> T + Send + 'static> Operator<(K, T), T> for ReduceOp<T, K, F> {
    fn open(&mut self, ctx: &TaskContext) {
        self.streaming = ctx.mode == ExecutionMode::Streaming;
        self.groups = Groups::of(ctx);
    }
    /// State: per key group, `(key, reduced value)` pairs.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, entries) = decode_entries::<(K, T)>(&state)?;
        self.map.extend(entries.into_iter().map(|(k, v)| (k, Some(v))));
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (k, v) in &self.map {
            if let Some(v) = v {
                push(&mut by_group, self.groups.group_of(k), (k, v));
            }
        }
        Ok(checkpointing::keyed(self.groups.encode(by_group, None)?))
    }
    #[inline]
    fn process<C: Output<T>>(&mut self, (k, v): (K, T), out: &mut C) {
        let slot = self.map.entry(k).or_insert(None);
        let v = match slot.take() {
            Some(acc) => (self.f)(acc, v),
            None => v,
        };
        if self.streaming {
            out.collect(v.clone());
        }
        *slot = Some(v);
    }
    fn end_input<C: Output<T>>(&mut self, out: &mut C) {
        if !self.streaming {
            self.map
                .drain()
                .filter_map(|(_, v)| v)
                .for_each(|v| out.collect(v));
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
            batch: true,
        });
        let pair_key: KeyFn<(K, T), K> = KeyFn::Borrowed(std::sync::Arc::new(|p: &(K, T)| &p.0));
        KeyedStream {
            input: combined.clone(),
            key: pair_key,
        }
        .hashed(&combined)
        .add_operator("Keyed Reduce", move |_| ReduceOp {
            f: f.clone(),
            map: KeyedValues::default(),
            streaming: true,
            groups: Groups::default(),
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
    pub fn min_by<N: PartialOrd>(
        &self,
        f: impl Fn(&T) -> N + Clone + Send + Sync + 'static,
    ) -> DataStream<T> {
        self.reduce(move |a, b| if f(&b) < f(&a) { b } else { a })
            .name("Keyed Min By")
    }

    /// The whole record with the largest `f(record)` per key (the first on ties).
    pub fn max_by<N: PartialOrd>(
        &self,
        f: impl Fn(&T) -> N + Clone + Send + Sync + 'static,
    ) -> DataStream<T> {
        self.reduce(move |a, b| if f(&b) > f(&a) { b } else { a })
            .name("Keyed Max By")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    #[test]
    fn rolling_reduce_restores_at_any_parallelism() {
        let g = Groups {
            max: 8,
            ..Groups::default()
        };
        let make = || ReduceOp {
            f: |a: (u8, i64), b: (u8, i64)| (a.0, a.1 + b.1),
            map: KeyedValues::default(),
            streaming: true,
            groups: Groups::default(),
        };
        let mut events = Vec::new();
        for i in 0..100i64 {
            let k = (i % 7) as u8;
            events.push(Ev::Rec((k, (k, i)), None));
            if i % 12 == 5 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|r: &(u8, (u8, i64))| Some(g.group_of(&r.0)), &events, 8);
        assert!(got.contains(&(0, (0..100).step_by(7).sum())));
    }
}
