use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, Output};
use std::marker::PhantomData;

struct GroupReduceOp<T, K, O, F> {
    key: KeyFn<T, K>,
    f: F,
    groups: FxHashMap<K, Vec<T>>,
    _o: PhantomData<fn() -> O>,
}

impl<T, K, O, F> Operator<T, O> for GroupReduceOp<T, K, O, F>
where
    T: Data,
    K: Key,
    O: Data,
    F: FnMut(&K, Vec<T>, &mut dyn Collector<O>) + Send + 'static,
{
    fn process<C: Output<O>>(&mut self, record: T, _out: &mut C) {
        let groups = &mut self.groups;
        if let Some(g) = self.key.with_key(&record, move |k| groups.get_mut(k)) {
            g.push(record);
            return;
        }
        let k = self.key.key_of(&record);
        self.groups.insert(k, vec![record]);
    }
    fn end_input<C: Output<O>>(&mut self, out: &mut C) {
        for (k, values) in self.groups.drain() {
            (self.f)(&k, values, out);
        }
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Calls `f` once per key with all of that key's records (Flink's group-reduce on a grouped
    /// DataSet). Needs a bounded input: it emits after the input ended.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let sizes = env
    ///     .from_collection(vec![(1, 'a'), (2, 'b'), (1, 'c')])
    ///     .key_by(|(k, _): &(i32, char)| *k)
    ///     .reduce_group(|k: &i32, vs: Vec<(i32, char)>, out: &mut dyn Collector<(i32, usize)>| {
    ///         out.collect((*k, vs.len()))
    ///     })
    ///     .collect();
    /// env.execute("group").unwrap();
    /// let mut v = sizes.take();
    /// v.sort();
    /// assert_eq!(v, [(1, 2), (2, 1)]);
    /// ```
    pub fn reduce_group<O: Data>(
        &self,
        f: impl FnMut(&K, Vec<T>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        let key = self.key.clone();
        self.hashed(&self.input)
            .add_operator("Group Reduce", move |_| GroupReduceOp {
                key: key.clone(),
                f: f.clone(),
                groups: FxHashMap::default(),
                _o: PhantomData,
            })
            .needs_bounded_input()
    }
}
