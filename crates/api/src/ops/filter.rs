use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output};
use std::marker::PhantomData;

struct FilterOp<T, F> {
    f: F,
    _t: PhantomData<fn(T)>,
}

impl<T: Data, F: FnMut(&T) -> bool + Send + 'static> Operator<T, T> for FilterOp<T, F> {
    #[inline]
    fn process<C: Output<T>>(&mut self, record: T, out: &mut C) {
        if (self.f)(&record) {
            out.collect(record);
        }
    }
}

impl<T: Data> DataStream<T> {
    /// Keeps the records for which `f` is true.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let even = env.from_sequence(1, 10).filter(|x: &i64| x % 2 == 0).collect();
    /// env.execute("filter").unwrap();
    /// assert_eq!(even.take().len(), 5);
    /// ```
    pub fn filter(&self, f: impl FnMut(&T) -> bool + Clone + Send + Sync + 'static) -> DataStream<T> {
        self.add_operator("Filter", move |_| FilterOp {
            f: f.clone(),
            _t: PhantomData,
        })
    }
}
