use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_graph::ExecutionMode;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output, TaskContext};

/// An incremental aggregation (Flink's `AggregateFunction`): records are added one at a time to
/// an accumulator, which yields the result.
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
}

impl<T, K, A, Acc, O> Operator<T, (K, O)> for AggregateOp<T, K, A, Acc>
where
    T: Data,
    K: Key,
    O: Data,
    Acc: Send + 'static,
    A: AggregateFunction<T, Acc, O>,
{
    fn open(&mut self, ctx: &TaskContext) {
        self.streaming = ctx.mode == ExecutionMode::Streaming;
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
    pub fn aggregate<Acc: Send + 'static, O: Data>(
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
            })
    }
}
