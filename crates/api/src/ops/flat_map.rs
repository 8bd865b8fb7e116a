use crate::stream::DataStream;
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Output};
use std::marker::PhantomData;

struct FlatMapOp<T, O, F> {
    f: F,
    _t: PhantomData<fn(T) -> O>,
}

impl<T: Data, O: Data, F> Operator<T, O> for FlatMapOp<T, O, F>
where
    F: FnMut(T, &mut dyn Collector<O>) + Send + 'static,
{
    #[inline]
    fn process<C: Output<O>>(&mut self, record: T, out: &mut C) {
        (self.f)(record, out);
    }
}

impl<T: Data> DataStream<T> {
    /// Transforms each record into zero or more records, emitted through the collector.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let words = env
    ///     .from_collection(vec!["to be".to_string()])
    ///     .flat_map(|line: String, out: &mut dyn Collector<String>| {
    ///         line.split(' ').for_each(|w| out.collect(w.to_string()))
    ///     })
    ///     .collect();
    /// env.execute("flat_map").unwrap();
    /// assert_eq!(words.take().len(), 2);
    /// ```
    pub fn flat_map<O: Data>(
        &self,
        f: impl FnMut(T, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        self.add_operator("Flat Map", move |_| FlatMapOp {
            f: f.clone(),
            _t: PhantomData,
        })
    }

    /// Transforms each record into the items of an iterator.
    pub fn flat_map_iter<O: Data, I: IntoIterator<Item = O>>(
        &self,
        mut f: impl FnMut(T) -> I + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        self.flat_map(move |t, out: &mut dyn Collector<O>| f(t).into_iter().for_each(|o| out.collect(o)))
    }
}
