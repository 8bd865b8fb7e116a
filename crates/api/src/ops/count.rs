use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output};
use std::marker::PhantomData;

struct CountOp<T> {
    n: u64,
    _t: PhantomData<fn(T)>,
}

impl<T: Data> Operator<T, u64> for CountOp<T> {
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
