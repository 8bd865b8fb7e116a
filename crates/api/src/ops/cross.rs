use crate::checkpointing::{decode_groups, decode_items, Groups};
use crate::ops::join::Either;
use crate::stream::DataStream;
use spate_runtime::checkpoint::{encode, CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output, Result, TaskContext};
use std::collections::BTreeMap;

struct CrossOp<L, R> {
    left: Vec<L>,
    right: Vec<R>,
    groups: Groups,
}

impl<L: Data, R: Data> Operator<Either<L, R>, (L, R)> for CrossOp<L, R> {
    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
    }
    /// Restores the left records (operator state, dealt among the subtasks) and the broadcast
    /// right records (a copy in every key group, so every subtask finds one).
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        for records in decode_items::<Vec<L>>(&state)? {
            self.left.extend(records);
        }
        let (_, mut groups) = decode_groups::<Vec<R>>(&state)?;
        groups.sort_by_key(|(g, _)| *g);
        if let Some(right) = groups.into_iter().flat_map(|(_, copies)| copies).next() {
            self.right = right;
        }
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let by_group: BTreeMap<u32, Vec<&Vec<R>>> =
            self.groups.owned().map(|g| (g, vec![&self.right])).collect();
        Ok(OperatorSnapshot {
            keyed: self.groups.encode(by_group, None)?,
            operator: vec![encode(&self.left)?],
            ..OperatorSnapshot::default()
        })
    }
    fn process<C: Output<(L, R)>>(&mut self, record: Either<L, R>, _out: &mut C) {
        match record {
            Either::Left(l) => self.left.push(l),
            Either::Right(r) => self.right.push(r),
        }
    }
    fn end_input<C: Output<(L, R)>>(&mut self, out: &mut C) {
        for l in &self.left {
            for r in &self.right {
                out.collect((l.clone(), r.clone()));
            }
        }
    }
}

impl<L: Data> DataStream<L> {
    /// Every pair of a record of this stream and a record of `other` (the Cartesian product).
    /// `other` is broadcast to every subtask, so it should be the smaller input. Needs bounded
    /// inputs.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let pairs = env.from_collection(vec![1, 2]).cross(&env.from_collection(vec!['a', 'b', 'c'])).collect();
    /// env.execute("cross").unwrap();
    /// assert_eq!(pairs.take().len(), 6);
    /// ```
    pub fn cross<R: Data>(&self, other: &DataStream<R>) -> DataStream<(L, R)> {
        let left = self.tag("Tag Left", Either::<L, R>::Left);
        let right = other.tag("Tag Right", Either::<L, R>::Right).broadcast();
        left.union([right])
            .add_operator("Cross", |_| CrossOp {
                left: Vec::new(),
                right: Vec::new(),
                groups: Groups::default(),
            })
            .needs_bounded_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    #[test]
    fn both_sides_restore_at_any_parallelism() {
        let make = || CrossOp::<u32, char> {
            left: Vec::new(),
            right: Vec::new(),
            groups: Groups::default(),
        };
        let mut events = Vec::new();
        for i in 0..30u32 {
            events.push(Ev::Rec(Either::Left(i), None));
            if i % 4 == 0 {
                events.push(Ev::All(Either::Right((b'a' + (i / 4) as u8) as char), None));
            }
            if i % 7 == 5 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|_: &Either<u32, char>| None, &events, 8);
        assert_eq!(got.len(), 30 * 8);
    }
}
