//! Keyed state (Flink's `ValueState`, `ListState`, `MapState`, `ReducingState`,
//! `AggregatingState`), scoped to the key of the record being processed, with optional
//! time-to-live.
//!
//! Every state is stored partitioned into *key groups* (`pipeline.max-parallelism` of them, by
//! the same hash that routes keys to subtasks), so a snapshot can be written per key group and
//! redistributed when the parallelism changes.

use crate::ops::aggregate::AggregateFunction;
use rustc_hash::FxHashMap;
use spate_graph::partitioning::key_group;
use spate_runtime::failure;
use spate_runtime::record_writer::hash_key;
use spate_runtime::time::now_ms;
use spate_runtime::{Data, Key};
use std::any::Any;
use std::collections::HashMap;
use std::time::Duration;

/// A map from key to value, split into key groups.
pub struct KeyGroupedMap<K, V> {
    groups: Vec<FxHashMap<K, V>>,
}

impl<K: Key, V> KeyGroupedMap<K, V> {
    /// An empty map over `max_parallelism` key groups.
    pub fn new(max_parallelism: u32) -> Self {
        KeyGroupedMap {
            groups: (0..max_parallelism.max(1))
                .map(|_| FxHashMap::default())
                .collect(),
        }
    }
    /// The key group of `key`.
    pub fn group_of(&self, key: &K) -> usize {
        key_group(hash_key(key), self.groups.len() as u32) as usize
    }
    /// The value of `key`.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let g = self.group_of(key);
        self.groups[g].get_mut(key)
    }
    /// Sets the value of `key`.
    pub fn insert(&mut self, key: K, value: V) {
        let g = self.group_of(&key);
        self.groups[g].insert(key, value);
    }
    /// Removes the value of `key`.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let g = self.group_of(key);
        self.groups[g].remove(key)
    }
    /// The entries of one key group (what a snapshot of that group holds).
    pub fn group(&self, group: usize) -> impl Iterator<Item = (&K, &V)> {
        self.groups.get(group).into_iter().flat_map(|m| m.iter())
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.groups.iter().map(FxHashMap::len).sum()
    }
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A state value with its expiry time (processing time, ms; `i64::MAX` = never).
pub struct Stamped<S> {
    value: S,
    expires: i64,
}

/// All keyed state of one operator instance.
pub struct KeyedStateStore<K> {
    states: HashMap<String, Box<dyn Any + Send>>,
    max_parallelism: u32,
    _k: std::marker::PhantomData<fn(K)>,
}

impl<K> KeyedStateStore<K> {
    /// A store with `max_parallelism` key groups.
    pub fn new(max_parallelism: u32) -> Self {
        KeyedStateStore {
            states: HashMap::new(),
            max_parallelism,
            _k: std::marker::PhantomData,
        }
    }
}

/// The state map named `name` holding `S` per key, or a failure if the name was used with
/// another type.
fn state_map<'s, K: Key, S: Send + 'static>(
    store: &'s mut KeyedStateStore<K>,
    name: &str,
) -> &'s mut KeyGroupedMap<K, Stamped<S>> {
    let max = store.max_parallelism;
    let entry = store
        .states
        .entry(name.to_string())
        .or_insert_with(|| Box::new(KeyGroupedMap::<K, Stamped<S>>::new(max)));
    match entry.downcast_mut::<KeyGroupedMap<K, Stamped<S>>>() {
        Some(m) => m,
        None => failure::fail(format!(
            "state '{name}' was declared with another type than {}",
            std::any::type_name::<S>()
        )),
    }
}

/// The part every state handle shares: the current key, its map and the time-to-live.
pub struct Slot<'a, K, S> {
    key: &'a K,
    map: &'a mut KeyGroupedMap<K, Stamped<S>>,
    ttl_ms: Option<i64>,
}

impl<'a, K: Key, S: Send + 'static> Slot<'a, K, S> {
    pub(crate) fn open(
        store: &'a mut KeyedStateStore<K>,
        key: &'a K,
        name: &str,
        ttl: Option<Duration>,
    ) -> Self {
        Slot {
            key,
            map: state_map(store, name),
            ttl_ms: ttl.map(|t| t.as_millis() as i64),
        }
    }

    /// The live value (an expired one is removed and never returned).
    fn get(&mut self) -> Option<&mut S> {
        let expired = match self.map.get_mut(self.key) {
            None => return None,
            Some(s) => s.expires <= now_ms(),
        };
        if expired {
            self.map.remove(self.key);
            return None;
        }
        self.map.get_mut(self.key).map(|s| &mut s.value)
    }

    fn expiry(&self) -> i64 {
        self.ttl_ms.map_or(i64::MAX, |t| now_ms().saturating_add(t))
    }

    /// The value, created with `init` if absent; a write refreshes the time-to-live.
    fn get_or_insert_with(&mut self, init: impl FnOnce() -> S) -> &mut S {
        let expires = self.expiry();
        if self.get().is_none() {
            self.map.insert(
                self.key.clone(),
                Stamped {
                    value: init(),
                    expires,
                },
            );
        }
        match self.map.get_mut(self.key) {
            Some(s) => {
                s.expires = expires;
                &mut s.value
            }
            None => failure::fail("keyed state vanished while being written"),
        }
    }

    fn set(&mut self, value: S) {
        let expires = self.expiry();
        self.map.insert(self.key.clone(), Stamped { value, expires });
    }

    fn clear(&mut self) {
        self.map.remove(self.key);
    }
}

/// One value per key.
pub struct ValueState<'a, K, V>(pub(crate) Slot<'a, K, V>);

impl<K: Key, V: Data> ValueState<'_, K, V> {
    /// The current value, if any (and not expired).
    pub fn value(&mut self) -> Option<&V> {
        self.0.get().map(|v| &*v)
    }
    /// Sets the value.
    pub fn update(&mut self, value: V) {
        self.0.set(value);
    }
    /// Removes the value.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A list per key.
pub struct ListState<'a, K, V>(pub(crate) Slot<'a, K, Vec<V>>);

impl<K: Key, V: Data> ListState<'_, K, V> {
    /// The elements (empty if none).
    pub fn get(&mut self) -> &[V] {
        self.0.get().map(|v| v.as_slice()).unwrap_or(&[])
    }
    /// Appends an element.
    pub fn add(&mut self, value: V) {
        self.0.get_or_insert_with(Vec::new).push(value);
    }
    /// Replaces the elements.
    pub fn update(&mut self, values: Vec<V>) {
        self.0.set(values);
    }
    /// Removes the list.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A map per key.
pub struct MapState<'a, K, UK, UV>(pub(crate) Slot<'a, K, FxHashMap<UK, UV>>);

impl<K: Key, UK: Key, UV: Data> MapState<'_, K, UK, UV> {
    /// The value of `user_key`.
    pub fn get(&mut self, user_key: &UK) -> Option<&UV> {
        self.0.get().and_then(|m| m.get(user_key))
    }
    /// Sets `user_key` to `value`.
    pub fn put(&mut self, user_key: UK, value: UV) {
        self.0
            .get_or_insert_with(FxHashMap::default)
            .insert(user_key, value);
    }
    /// Removes `user_key`.
    pub fn remove(&mut self, user_key: &UK) -> Option<UV> {
        self.0.get().and_then(|m| m.remove(user_key))
    }
    /// Whether `user_key` is present.
    pub fn contains(&mut self, user_key: &UK) -> bool {
        self.get(user_key).is_some()
    }
    /// All entries.
    pub fn entries(&mut self) -> Vec<(UK, UV)> {
        self.0
            .get()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
    /// Removes the whole map.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// A value per key that every added element is reduced into.
pub struct ReducingState<'a, K, V, F>(pub(crate) Slot<'a, K, V>, pub(crate) F);

impl<K: Key, V: Data, F: Fn(V, V) -> V> ReducingState<'_, K, V, F> {
    /// The reduced value, if any.
    pub fn get(&mut self) -> Option<&V> {
        self.0.get().map(|v| &*v)
    }
    /// Reduces `value` into the state.
    pub fn add(&mut self, value: V) {
        let next = match self.0.get() {
            Some(acc) => (self.1)(acc.clone(), value),
            None => value,
        };
        self.0.set(next);
    }
    /// Removes the value.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// An accumulator per key that every added element is aggregated into.
pub struct AggregatingState<'a, K, Acc, A>(pub(crate) Slot<'a, K, Acc>, pub(crate) &'a A);

impl<K: Key, Acc: Send + 'static, A> AggregatingState<'_, K, Acc, A> {
    /// The aggregate's result, if anything was added.
    pub fn get<T, O>(&mut self) -> Option<O>
    where
        A: AggregateFunction<T, Acc, O>,
    {
        let agg = self.1;
        self.0.get().map(|acc| agg.get_result(acc))
    }
    /// Adds an element.
    pub fn add<T, O>(&mut self, value: T)
    where
        A: AggregateFunction<T, Acc, O>,
    {
        let agg = self.1;
        agg.add(self.0.get_or_insert_with(|| agg.create_accumulator()), value);
    }
    /// Removes the accumulator.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_stored_by_key_group_and_expire() {
        let mut store = KeyedStateStore::<String>::new(16);
        let k = "a".to_string();
        ValueState(Slot::<String, u32>::open(&mut store, &k, "v", None)).update(3);
        assert_eq!(
            ValueState(Slot::<String, u32>::open(&mut store, &k, "v", None)).value(),
            Some(&3)
        );
        let map = state_map::<String, u32>(&mut store, "v");
        let g = map.group_of(&k);
        assert_eq!(map.group(g).count(), 1);
        assert_eq!(map.len(), 1);

        let mut ttl = ValueState(Slot::<String, u32>::open(
            &mut store,
            &k,
            "t",
            Some(Duration::ZERO),
        ));
        ttl.update(9);
        assert_eq!(ttl.value(), None, "expired at once");
    }

    #[test]
    fn list_map_and_reducing_state() {
        let mut store = KeyedStateStore::<u8>::new(8);
        let k = 1u8;
        let mut l = ListState(Slot::<u8, Vec<i32>>::open(&mut store, &k, "l", None));
        l.add(1);
        l.add(2);
        assert_eq!(l.get(), [1, 2]);
        let mut m = MapState(Slot::<u8, FxHashMap<String, i32>>::open(
            &mut store, &k, "m", None,
        ));
        m.put("x".into(), 5);
        assert!(m.contains(&"x".to_string()));
        assert_eq!(m.remove(&"x".to_string()), Some(5));
        let mut r = ReducingState(
            Slot::<u8, i32>::open(&mut store, &k, "r", None),
            |a: i32, b: i32| a.max(b),
        );
        r.add(4);
        r.add(2);
        assert_eq!(r.get(), Some(&4));
    }
}
