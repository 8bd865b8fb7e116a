use crate::checkpointing::decode_items;
use crate::stream::DataStream;
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output, Result, TaskContext};

struct FirstNOp {
    n: u64,
    seen: u64,
}

impl<T: Data> Operator<T, T> for FirstNOp {
    /// State: the number of records passed, as one operator-state item; restored subtasks add
    /// up what they receive (at most `n`).
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let seen: u64 = decode_items::<u64>(&state)?.into_iter().sum();
        self.seen = self.seen.saturating_add(seen).min(self.n);
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        Ok(OperatorSnapshot {
            operator: vec![encode(&self.seen)?],
            ..OperatorSnapshot::default()
        })
    }
    #[inline]
    fn process<C: Output<T>>(&mut self, record: T, out: &mut C) {
        if self.seen < self.n {
            self.seen += 1;
            out.collect(record);
        }
    }
}

impl<T: Data> DataStream<T> {
    /// The first `n` records of the stream, in one partition (Flink's `first(n)`): after a sort by
    /// `sort_by`, the top n.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let top = env.from_sequence(1, 100).sort_by(|x: &i64| *x, Order::Descending).first_n(3).collect();
    /// env.execute("top").unwrap();
    /// assert_eq!(top.take(), [100, 99, 98]);
    /// ```
    pub fn first_n(&self, n: u64) -> DataStream<T> {
        let local = self.add_local_operator("First N (local)", move |_| FirstNOp { n, seen: 0 });
        local
            .add_operator("First N", move |_| FirstNOp { n, seen: 0 })
            .single_partition()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{run, Ev};

    #[test]
    fn the_number_passed_is_restored() {
        let mut events: Vec<Ev<u32>> = Vec::new();
        for i in 0..20 {
            events.push(Ev::Rec(i, None));
            if i == 3 || i == 9 {
                events.push(Ev::Restore(1));
            }
        }
        let got: Vec<u32> = run(&|| FirstNOp { n: 6, seen: 0 }, &|_: &u32| None, &events, 1, 8);
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    }
}
