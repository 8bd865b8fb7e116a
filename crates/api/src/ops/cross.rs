use crate::ops::join::Either;
use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output};

struct CrossOp<L, R> {
    left: Vec<L>,
    right: Vec<R>,
}

impl<L: Data, R: Data> Operator<Either<L, R>, (L, R)> for CrossOp<L, R> {
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
            })
            .needs_bounded_input()
    }
}
