use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};
use spate_graph::ExecutionMode;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;

/// An incremental aggregation (Flink's `AggregateFunction`): records are added one at a time to
/// an accumulator, which yields the result. Operators keep accumulators in their state, which
/// checkpoints write, so they take an `Acc` that is `Serialize + DeserializeOwned` (as records
/// are).
pub trait AggregateFunction<T, Acc, O>: Clone + Send + Sync + 'static {
    /// A fresh accumulator.
    fn create_accumulator(&self) -> Acc;
    /// Adds one record.
    fn add(&self, acc: &mut Acc, value: T);
    /// The result of an accumulator.
    fn get_result(&self, acc: &Acc) -> O;
    /// Merges two accumulators (used by windows that merge and by pre-aggregation).
    fn merge(&self, a: Acc, b: Acc) -> Acc;
}

struct AggregateOp<T, K, A, Acc> {
    key: KeyFn<T, K>,
    agg: A,
    accs: FxHashMap<K, Acc>,
    streaming: bool,
    groups: Groups,
}

impl<T, K, A, Acc, O> Operator<T, (K, O)> for AggregateOp<T, K, A, Acc>
where
    T: Data,
    K: Key,
    O: Data,
    Acc: Serialize + DeserializeOwned + Send + 'static,
    A: AggregateFunction<T, Acc, O>,
{
    fn open(&mut self, ctx: &TaskContext) {
        self.streaming = ctx.mode == ExecutionMode::Streaming;
        self.groups = Groups::of(ctx);
    }
    /// State: per key group, `(key, accumulator)` pairs.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, entries) = decode_entries::<(K, Acc)>(&state)?;
        self.accs.extend(entries);
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (k, acc) in &self.accs {
            push(&mut by_group, self.groups.group_of(k), (k, acc));
        }
        Ok(checkpointing::keyed(self.groups.encode(by_group, None)?))
    }
    fn process<C: Output<(K, O)>>(&mut self, record: T, out: &mut C) {
        let accs = &mut self.accs;
        let agg = &self.agg;
        let hit = self.key.with_key(&record, move |k| accs.get_mut(k).is_some());
        let key = self.key.key_of(&record);
        let acc = if hit {
            self.accs.get_mut(&key)
        } else {
            Some(
                self.accs
                    .entry(key.clone())
                    .or_insert_with(|| agg.create_accumulator()),
            )
        };
        if let Some(acc) = acc {
            agg.add(acc, record);
            if self.streaming {
                out.collect((key, agg.get_result(acc)));
            }
        }
    }
    fn end_input<C: Output<(K, O)>>(&mut self, out: &mut C) {
        if !self.streaming {
            for (k, acc) in self.accs.drain() {
                out.collect((k, self.agg.get_result(&acc)));
            }
        }
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Aggregates each key's records with `agg`, emitting `(key, result)`: after every record in
    /// streaming mode, once per key at the end in batch mode.
    pub fn aggregate<Acc: Serialize + DeserializeOwned + Send + 'static, O: Data>(
        &self,
        agg: impl AggregateFunction<T, Acc, O>,
    ) -> DataStream<(K, O)> {
        let key = self.key.clone();
        self.hashed(&self.input)
            .add_operator("Keyed Aggregate", move |_| AggregateOp {
                key: key.clone(),
                agg: agg.clone(),
                accs: FxHashMap::default(),
                streaming: true,
                groups: Groups::default(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use std::sync::Arc;

    #[derive(Clone)]
    struct Avg;
    impl AggregateFunction<(u8, i64), (i64, i64), (i64, i64)> for Avg {
        fn create_accumulator(&self) -> (i64, i64) {
            (0, 0)
        }
        fn add(&self, acc: &mut (i64, i64), v: (u8, i64)) {
            acc.0 += v.1;
            acc.1 += 1;
        }
        fn get_result(&self, acc: &(i64, i64)) -> (i64, i64) {
            *acc
        }
        fn merge(&self, a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
            (a.0 + b.0, a.1 + b.1)
        }
    }

    #[test]
    fn streaming_aggregate_restores_at_any_parallelism() {
        let g = Groups {
            max: 8,
            ..Groups::default()
        };
        let make = || AggregateOp {
            key: KeyFn::Owned(Arc::new(|r: &(u8, i64)| r.0)),
            agg: Avg,
            accs: FxHashMap::default(),
            streaming: true,
            groups: Groups::default(),
        };
        let mut events = Vec::new();
        for i in 0..100i64 {
            events.push(Ev::Rec(((i % 5) as u8, i), None));
            if i % 9 == 2 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|r: &(u8, i64)| Some(g.group_of(&r.0)), &events, 8);
        assert_eq!(got.len(), 100);
        assert!(got.contains(&(4, ((4..100).step_by(5).sum(), 20))));
    }
}
