use crate::keyed::KeyFn;
use crate::stream::DataStream;
use rustc_hash::FxHashSet;
use spate_common::config::keys;
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output, TaskContext};
use std::sync::Arc;

/// Emits the first record of every key it has not seen. As a batch pre-step before the exchange
/// it forgets what it saw when it holds too many keys (duplicates then pass on to the final step,
/// which removes them).
struct DistinctOp<T, K> {
    key: KeyFn<T, K>,
    seen: FxHashSet<K>,
    max_keys: usize,
}

impl<T: Data, K: Key> Operator<T, T> for DistinctOp<T, K> {
    fn open(&mut self, ctx: &TaskContext) {
        if self.max_keys != usize::MAX {
            self.max_keys = ctx.config.get(&keys::COMBINER_MAX_KEYS) as usize;
        }
    }
    fn process<C: Output<T>>(&mut self, record: T, out: &mut C) {
        let seen = &self.seen;
        if self.key.with_key(&record, |k| seen.contains(k)) {
            return;
        }
        if self.seen.len() >= self.max_keys {
            self.seen.clear();
        }
        self.seen.insert(self.key.key_of(&record));
        out.collect(record);
    }
}

impl<T: Data> DataStream<T> {
    /// Drops duplicate records (keeps the first of equal records).
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let d = env.from_collection(vec![3, 1, 3, 2, 1]).distinct().collect();
    /// env.execute("distinct").unwrap();
    /// let mut v = d.take();
    /// v.sort();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn distinct(&self) -> DataStream<T>
    where
        T: Key,
    {
        self.distinct_key(KeyFn::Borrowed(Arc::new(|t: &T| t)))
    }

    /// Keeps the first record of every key `f` computes.
    pub fn distinct_by<K: Key>(&self, f: impl Fn(&T) -> K + Send + Sync + 'static) -> DataStream<T> {
        self.distinct_key(KeyFn::Owned(Arc::new(f)))
    }

    fn distinct_key<K: Key>(&self, key: KeyFn<T, K>) -> DataStream<T> {
        let k1 = key.clone();
        let local = self.add_local_operator("Distinct (local)", move |_| DistinctOp {
            key: k1.clone(),
            seen: FxHashSet::default(),
            max_keys: 0,
        });
        local.env.state.borrow_mut().graph.node_mut(local.id).batch_only = true;
        let keyed = crate::keyed::KeyedStream {
            input: local.clone(),
            key: key.clone(),
        };
        keyed
            .hashed(&local)
            .add_operator("Distinct", move |_| DistinctOp {
                key: key.clone(),
                seen: FxHashSet::default(),
                max_keys: usize::MAX,
            })
    }
}
