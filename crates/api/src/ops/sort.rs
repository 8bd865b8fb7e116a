use crate::checkpointing::decode_items;
use crate::stream::DataStream;
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output, Result, TaskContext};
use std::sync::Arc;

/// Sort direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

type SortKey<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// Buffers its input and emits it sorted at the end (stable: equal keys keep their order).
struct SortOp<T, K> {
    key: SortKey<T, K>,
    order: Order,
    buf: Vec<T>,
}

impl<T: Data, K: Ord + 'static> Operator<T, T> for SortOp<T, K> {
    /// State (streaming mode, bounded input): the buffered records, as one operator-state item.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        for records in decode_items::<Vec<T>>(&state)? {
            self.buf.extend(records);
        }
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot {
            operator: vec![encode(&self.buf)?],
            ..OperatorSnapshot::default()
        })
    }
    fn process<C: Output<T>>(&mut self, record: T, _out: &mut C) {
        self.buf.push(record);
    }
    fn end_input<C: Output<T>>(&mut self, out: &mut C) {
        let key = &self.key;
        match self.order {
            Order::Ascending => self.buf.sort_by_key(|r| key(r)),
            Order::Descending => self.buf.sort_by_key(|r| std::cmp::Reverse(key(r))),
        }
        self.buf.drain(..).for_each(|r| out.collect(r));
    }
}

impl<T: Data> DataStream<T> {
    /// Sorts each parallel partition by `key` (Flink's `sortPartition`). Needs bounded input.
    pub fn sort_partition<K: Ord + 'static>(
        &self,
        key: impl Fn(&T) -> K + Send + Sync + 'static,
        order: Order,
    ) -> DataStream<T> {
        let key: SortKey<T, K> = Arc::new(key);
        self.add_local_operator("Sort Partition", move |_| SortOp {
            key: key.clone(),
            order,
            buf: Vec::new(),
        })
        .needs_bounded_input()
    }

    /// Sorts the whole stream by `key` into one totally ordered partition: every partition is
    /// sorted in parallel, then one subtask merges the sorted runs. Needs bounded input.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let sorted = env.from_collection(vec![5, 3, 9, 1]).sort_by(|x: &i32| *x, Order::Descending).collect();
    /// env.execute("sort").unwrap();
    /// assert_eq!(sorted.take(), [9, 5, 3, 1]);
    /// ```
    pub fn sort_by<K: Ord + 'static>(
        &self,
        key: impl Fn(&T) -> K + Clone + Send + Sync + 'static,
        order: Order,
    ) -> DataStream<T> {
        let local = self.sort_partition(key.clone(), order);
        let key: SortKey<T, K> = Arc::new(key);
        // The standard sort detects the presorted runs and merges them in O(n log runs).
        local
            .add_operator("Sort Merge", move |_| SortOp {
                key: key.clone(),
                order,
                buf: Vec::new(),
            })
            .single_partition()
            .needs_bounded_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    #[test]
    fn buffered_records_restore_at_any_parallelism() {
        let make = || SortOp {
            key: Arc::new(|x: &i64| *x) as SortKey<i64, i64>,
            order: Order::Descending,
            buf: Vec::new(),
        };
        let mut events = Vec::new();
        for i in 0..50i64 {
            events.push(Ev::Rec(i * 37 % 101, None));
            if i % 9 == 4 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|_: &i64| None, &events, 8);
        assert_eq!(got.len(), 50);
    }
}
