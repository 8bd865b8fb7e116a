use crate::checkpointing::decode_items;
use crate::stream::DataStream;
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output, Result, TaskContext};
use std::marker::PhantomData;

struct CountOp<T> {
    n: u64,
    _t: PhantomData<fn(T)>,
}

/// A count as operator state: one item; restored subtasks add up what they receive.
fn count_snapshot(n: u64) -> Result<OperatorSnapshot> {
    Ok(OperatorSnapshot {
        operator: vec![encode(&n)?],
        ..OperatorSnapshot::default()
    })
}

fn restored_count(state: &OperatorSnapshot) -> Result<u64> {
    Ok(decode_items::<u64>(state)?.into_iter().sum())
}

impl<T: Data> Operator<T, u64> for CountOp<T> {
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        self.n += restored_count(&state)?;
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        count_snapshot(self.n)
    }
    #[inline]
    fn process<C: Output<u64>>(&mut self, _record: T, _out: &mut C) {
        self.n += 1;
    }
    fn end_input<C: Output<u64>>(&mut self, out: &mut C) {
        out.collect(self.n);
    }
}

struct SumOp {
    n: u64,
}

impl Operator<u64, u64> for SumOp {
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        self.n += restored_count(&state)?;
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        count_snapshot(self.n)
    }
    fn process<C: Output<u64>>(&mut self, record: u64, _out: &mut C) {
        self.n += record;
    }
    fn end_input<C: Output<u64>>(&mut self, out: &mut C) {
        out.collect(self.n);
    }
}

impl<T: Data> DataStream<T> {
    /// The number of records, as a stream of one element. Needs bounded input.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let n = env.from_sequence(1, 1000).count().collect();
    /// env.execute("count").unwrap();
    /// assert_eq!(n.take(), [1000]);
    /// ```
    pub fn count(&self) -> DataStream<u64> {
        let local = self.add_local_operator("Count (local)", |_| CountOp::<T> {
            n: 0,
            _t: PhantomData,
        });
        local
            .add_operator("Count", |_| SumOp { n: 0 })
            .single_partition()
            .needs_bounded_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{run, Ev};

    #[test]
    fn counts_restore_at_any_parallelism() {
        for restores in [[1, 1], [3, 2], [2, 3]] {
            let mut events = Vec::new();
            let mut n = 0;
            for i in 0..40u32 {
                events.push(Ev::Rec(i, None));
                if i % 13 == 6 {
                    events.push(Ev::Restore(restores[n % 2]));
                    n += 1;
                }
            }
            let make = || CountOp::<u32> {
                n: 0,
                _t: PhantomData,
            };
            let partial: Vec<u64> = run(&make, &|_: &u32| None, &events, 2, 8);
            assert_eq!(partial.iter().sum::<u64>(), 40);
            let events: Vec<Ev<u64>> = partial
                .iter()
                .map(|n| Ev::Rec(*n, None))
                .chain([Ev::Restore(1)])
                .collect();
            assert_eq!(run(&|| SumOp { n: 0 }, &|_: &u64| None, &events, 1, 8), [40]);
        }
    }
}
