use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output};

struct FirstNOp {
    n: u64,
    seen: u64,
}

impl<T: Data> Operator<T, T> for FirstNOp {
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
