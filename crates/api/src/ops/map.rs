use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Output};
use std::marker::PhantomData;

struct MapOp<T, O, F> {
    f: F,
    _t: PhantomData<fn(T) -> O>,
}

impl<T: Data, O: Data, F: FnMut(T) -> O + Send + 'static> Operator<T, O> for MapOp<T, O, F> {
    #[inline]
    fn process<C: Output<O>>(&mut self, record: T, out: &mut C) {
        out.collect((self.f)(record));
    }
}

impl<T: Data> DataStream<T> {
    /// Transforms each record into one record.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let out = env.from_collection(vec![1, 2, 3]).map(|x: i32| x * 10).collect();
    /// env.execute("map").unwrap();
    /// let mut v = out.take();
    /// v.sort();
    /// assert_eq!(v, [10, 20, 30]);
    /// ```
    pub fn map<O: Data>(&self, f: impl FnMut(T) -> O + Clone + Send + Sync + 'static) -> DataStream<O> {
        self.add_operator("Map", move |_| MapOp {
            f: f.clone(),
            _t: PhantomData,
        })
    }
}
