use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_runtime::failure;
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, Output};
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;

/// Per-operator keyed state: for each declared state name, a map from key to value.
pub struct KeyedStateStore<K> {
    states: HashMap<String, Box<dyn Any + Send>>,
    _k: PhantomData<fn(K)>,
}

impl<K> Default for KeyedStateStore<K> {
    fn default() -> Self {
        KeyedStateStore {
            states: HashMap::new(),
            _k: PhantomData,
        }
    }
}

/// What a keyed process function sees besides the record: the current key and its state.
pub struct KeyedContext<'a, K> {
    key: &'a K,
    store: &'a mut KeyedStateStore<K>,
}

impl<'a, K: Key> KeyedContext<'a, K> {
    /// The key of the current record.
    pub fn key(&self) -> &K {
        self.key
    }

    /// The value state named `name` for the current key. A name is bound to one value type;
    /// using it with another type fails the operator.
    pub fn value_state<V: Data>(&mut self, name: &str) -> ValueState<'_, K, V> {
        let entry = self
            .store
            .states
            .entry(name.to_string())
            .or_insert_with(|| Box::new(FxHashMap::<K, V>::default()));
        match entry.downcast_mut::<FxHashMap<K, V>>() {
            Some(map) => ValueState { key: self.key, map },
            None => failure::fail(format!(
                "state '{name}' was declared with another type than {}",
                std::any::type_name::<V>()
            )),
        }
    }
}

/// One value per key (Flink's `ValueState`), scoped to the current key.
pub struct ValueState<'a, K, V> {
    key: &'a K,
    map: &'a mut FxHashMap<K, V>,
}

impl<K: Key, V: Data> ValueState<'_, K, V> {
    /// The current value, if any.
    pub fn value(&self) -> Option<&V> {
        self.map.get(self.key)
    }
    /// Sets the value.
    pub fn update(&mut self, value: V) {
        match self.map.get_mut(self.key) {
            Some(v) => *v = value,
            None => {
                self.map.insert(self.key.clone(), value);
            }
        }
    }
    /// Removes the value.
    pub fn clear(&mut self) {
        self.map.remove(self.key);
    }
}

struct KeyedProcessOp<T, K, O, F> {
    key: KeyFn<T, K>,
    f: F,
    store: KeyedStateStore<K>,
    _o: PhantomData<fn() -> O>,
}

impl<T, K, O, F> Operator<T, O> for KeyedProcessOp<T, K, O, F>
where
    T: Data,
    K: Key,
    O: Data,
    F: FnMut(T, &mut KeyedContext<'_, K>, &mut dyn Collector<O>) + Send + 'static,
{
    fn process<C: Output<O>>(&mut self, record: T, out: &mut C) {
        let key = self.key.key_of(&record);
        let mut ctx = KeyedContext {
            key: &key,
            store: &mut self.store,
        };
        (self.f)(record, &mut ctx, out);
    }
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Runs `f` on every record with access to the record's key and per-key state (Flink's
    /// `KeyedProcessFunction`, without timers for now).
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// // Number each record within its key.
    /// let numbered = env
    ///     .from_collection(vec!['a', 'b', 'a'])
    ///     .key_by(|c: &char| *c)
    ///     .process(|r: char, ctx: &mut KeyedContext<char>, out: &mut dyn Collector<(char, u32)>| {
    ///         let mut n = ctx.value_state::<u32>("n");
    ///         let next = n.value().copied().unwrap_or(0) + 1;
    ///         n.update(next);
    ///         out.collect((r, next));
    ///     })
    ///     .collect();
    /// env.execute("number").unwrap();
    /// let mut v = numbered.take();
    /// v.sort();
    /// assert_eq!(v, [('a', 1), ('a', 2), ('b', 1)]);
    /// ```
    pub fn process<O: Data>(
        &self,
        f: impl FnMut(T, &mut KeyedContext<'_, K>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        let key = self.key.clone();
        self.hashed(&self.input)
            .add_operator("Keyed Process", move |_| KeyedProcessOp {
                key: key.clone(),
                f: f.clone(),
                store: KeyedStateStore::default(),
                _o: PhantomData,
            })
    }
}
