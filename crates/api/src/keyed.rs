use crate::stream::DataStream;
use spate_graph::Partitioning;
use spate_runtime::record_writer::{hash_key, Partitioner};
use spate_runtime::{Data, Key};
use std::sync::Arc;

/// How a keyed operator gets the key of a record: computed (a new value per call) or borrowed
/// from the record (no copy; operators clone it only when they store a new key).
pub enum KeyFn<T, K> {
    /// `Fn(&T) -> K`.
    Owned(Arc<dyn Fn(&T) -> K + Send + Sync>),
    /// `Fn(&T) -> &K`.
    Borrowed(Arc<dyn for<'a> Fn(&'a T) -> &'a K + Send + Sync>),
}

impl<T, K> Clone for KeyFn<T, K> {
    fn clone(&self) -> Self {
        match self {
            KeyFn::Owned(f) => KeyFn::Owned(f.clone()),
            KeyFn::Borrowed(f) => KeyFn::Borrowed(f.clone()),
        }
    }
}

impl<T, K: Clone> KeyFn<T, K> {
    /// Calls `f` with the key of `record`.
    #[inline]
    pub fn with_key<R>(&self, record: &T, f: impl FnOnce(&K) -> R) -> R {
        match self {
            KeyFn::Owned(k) => f(&k(record)),
            KeyFn::Borrowed(k) => f(k(record)),
        }
    }

    /// The key of `record`, owned.
    #[inline]
    pub fn key_of(&self, record: &T) -> K {
        match self {
            KeyFn::Owned(k) => k(record),
            KeyFn::Borrowed(k) => k(record).clone(),
        }
    }
}

/// A stream partitioned by key (Flink's `KeyedStream`): records with equal keys go to the same
/// subtask, where keyed operators keep per-key state.
pub struct KeyedStream<T, K> {
    pub(crate) input: DataStream<T>,
    pub(crate) key: KeyFn<T, K>,
}

impl<T, K> Clone for KeyedStream<T, K> {
    fn clone(&self) -> Self {
        KeyedStream {
            input: self.input.clone(),
            key: self.key.clone(),
        }
    }
}

impl<T: Data> DataStream<T> {
    /// Partitions the stream by the key that `f` computes.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let max = env
    ///     .from_collection(vec![('a', 3), ('b', 1), ('a', 7)])
    ///     .key_by(|(k, _): &(char, i32)| *k)
    ///     .max(|(_, v): &mut (char, i32)| v)
    ///     .collect();
    /// env.execute("max").unwrap();
    /// let mut got = max.take();
    /// got.sort();
    /// assert_eq!(got, [('a', 7), ('b', 1)]);
    /// ```
    pub fn key_by<K: Key>(&self, f: impl Fn(&T) -> K + Send + Sync + 'static) -> KeyedStream<T, K> {
        KeyedStream {
            input: self.clone(),
            key: KeyFn::Owned(Arc::new(f)),
        }
    }

    /// Partitions the stream by a key borrowed from the record (no copy per record):
    /// `key_by_ref(|r: &(String, u64)| &r.0)`.
    pub fn key_by_ref<K: Key>(
        &self,
        f: impl for<'a> Fn(&'a T) -> &'a K + Send + Sync + 'static,
    ) -> KeyedStream<T, K> {
        KeyedStream {
            input: self.clone(),
            key: KeyFn::Borrowed(Arc::new(f)),
        }
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// `stream` with hash partitioning by this key.
    pub(crate) fn hashed(&self, stream: &DataStream<T>) -> DataStream<T> {
        let key = self.key.clone();
        let mut s = stream.clone();
        s.partitioning = Partitioning::Hash;
        s.partitioner = Partitioner::Hash(Arc::new(move |t: &T| key.with_key(t, hash_key)));
        s
    }

    /// The key function.
    pub fn key_fn(&self) -> &KeyFn<T, K> {
        &self.key
    }
}
