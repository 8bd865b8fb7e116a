//! Keyed state (Flink's `ValueState`, `ListState`, `MapState`, `ReducingState`,
//! `AggregatingState`), scoped to the key of the record being processed, with optional
//! time-to-live.
//!
//! Every state is stored partitioned into *key groups* (`pipeline.max-parallelism` of them, by
//! the same hash that routes keys to subtasks), so a snapshot can be written per key group and
//! redistributed when the parallelism changes.

use crate::ops::aggregate::AggregateFunction;
use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};
use spate_graph::partitioning::key_group;
use spate_runtime::checkpoint::{decode, encode};
use spate_runtime::failure;
use spate_runtime::record_writer::hash_key;
use spate_runtime::time::now_ms;
use spate_runtime::{Data, Key};
use std::any::Any;
use std::collections::{BTreeMap, HashMap};
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

/// One named state of a store, its value type erased: what a snapshot needs of it.
trait StateMap<K>: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// The live entries of key group `group` as `Vec<(key, value, expiry)>`; `None` if none.
    fn encode_group(&self, group: u32, now: i64) -> spate_runtime::Result<Option<Vec<u8>>>;
    /// Adds entries written by [`encode_group`](Self::encode_group).
    fn restore(&mut self, bytes: &[u8]) -> spate_runtime::Result<()>;
}

impl<K: Key, S: Serialize + DeserializeOwned + Send + 'static> StateMap<K> for KeyGroupedMap<K, Stamped<S>> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn encode_group(&self, group: u32, now: i64) -> spate_runtime::Result<Option<Vec<u8>>> {
        let entries: Vec<(&K, &S, i64)> = self
            .group(group as usize)
            .filter(|(_, s)| s.expires > now)
            .map(|(k, s)| (k, &s.value, s.expires))
            .collect();
        if entries.is_empty() {
            return Ok(None);
        }
        encode(&entries).map(Some)
    }
    fn restore(&mut self, bytes: &[u8]) -> spate_runtime::Result<()> {
        let entries: Vec<(K, S, i64)> = decode(bytes)?;
        for (k, value, expires) in entries {
            self.insert(k, Stamped { value, expires });
        }
        Ok(())
    }
}

/// All keyed state of one operator instance.
///
/// Checkpoints: [`snapshot_group`](Self::snapshot_group) writes every named state of a key
/// group; [`restore_group`](Self::restore_group) keeps the bytes per state name until the
/// operator declares that state (its type is known only then) and decodes them at that moment.
/// A restored state the operator never declares is written again as it came, so a later
/// checkpoint does not lose it.
pub struct KeyedStateStore<K> {
    states: HashMap<String, Box<dyn StateMap<K>>>,
    /// Restored bytes of states not declared yet: per name, per key group.
    restored: HashMap<String, BTreeMap<u32, Vec<Vec<u8>>>>,
    max_parallelism: u32,
}

impl<K> KeyedStateStore<K> {
    /// A store with `max_parallelism` key groups.
    pub fn new(max_parallelism: u32) -> Self {
        KeyedStateStore {
            states: HashMap::new(),
            restored: HashMap::new(),
            max_parallelism,
        }
    }

    /// Its number of key groups.
    pub fn max_parallelism(&self) -> u32 {
        self.max_parallelism
    }

    /// Every state's entries of key group `group`, as `(state name, bytes)` sorted by name
    /// (states without entries in the group left out).
    pub fn snapshot_group(&self, group: u32) -> spate_runtime::Result<Vec<(String, Vec<u8>)>> {
        let now = now_ms();
        let mut out = Vec::new();
        for (name, state) in &self.states {
            if let Some(bytes) = state.encode_group(group, now)? {
                out.push((name.clone(), bytes));
            }
        }
        for (name, groups) in &self.restored {
            for bytes in groups.get(&group).into_iter().flatten() {
                out.push((name.clone(), bytes.clone()));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Restores the states of key group `group` written by [`snapshot_group`](Self::snapshot_group).
    pub fn restore_group(&mut self, group: u32, states: Vec<(String, Vec<u8>)>) -> spate_runtime::Result<()> {
        for (name, bytes) in states {
            match self.states.get_mut(&name) {
                Some(state) => state.restore(&bytes)?,
                None => self
                    .restored
                    .entry(name)
                    .or_default()
                    .entry(group)
                    .or_default()
                    .push(bytes),
            }
        }
        Ok(())
    }

    /// Whether the store holds no state (declared or restored).
    pub fn is_empty(&self) -> bool {
        self.states.is_empty() && self.restored.is_empty()
    }
}

/// The state map named `name` holding `S` per key, or a failure if the name was used with
/// another type. Restored bytes of the state are decoded the first time it is declared.
fn state_map<'s, K: Key, S: Serialize + DeserializeOwned + Send + 'static>(
    store: &'s mut KeyedStateStore<K>,
    name: &str,
) -> &'s mut KeyGroupedMap<K, Stamped<S>> {
    if !store.states.contains_key(name) {
        let mut map = KeyGroupedMap::<K, Stamped<S>>::new(store.max_parallelism);
        for bytes in store
            .restored
            .remove(name)
            .into_iter()
            .flat_map(|g| g.into_values())
            .flatten()
        {
            if let Err(e) = map.restore(&bytes) {
                failure::fail(format!(
                    "state '{name}' cannot be restored as {}: {e}",
                    std::any::type_name::<S>()
                ));
            }
        }
        store.states.insert(name.to_string(), Box::new(map));
    }
    match store
        .states
        .get_mut(name)
        .and_then(|m| m.as_any_mut().downcast_mut::<KeyGroupedMap<K, Stamped<S>>>())
    {
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

impl<'a, K: Key, S: Serialize + DeserializeOwned + Send + 'static> Slot<'a, K, S> {
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

impl<K: Key, Acc: Serialize + DeserializeOwned + Send + 'static, A> AggregatingState<'_, K, Acc, A> {
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

    type Snapshot = Vec<(u32, Vec<(String, Vec<u8>)>)>;

    #[test]
    fn snapshot_per_key_group_restores_undeclared_states_lazily_and_keeps_them() {
        let max = 8;
        let mut store = KeyedStateStore::<String>::new(max);
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let k = k.to_string();
            ValueState(Slot::<String, u32>::open(&mut store, &k, "v", None)).update(i as u32);
            ListState(Slot::<String, Vec<String>>::open(&mut store, &k, "l", None)).add(k.clone());
        }
        let groups: Snapshot = (0..max)
            .map(|g| (g, store.snapshot_group(g).unwrap()))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        assert!(groups.len() > 1, "keys spread over key groups");

        // Restored into two stores by key group, as two subtasks would get them.
        let owner = |g: u32| spate_graph::partitioning::subtask_for_key_group(g, max, 2);
        let mut parts = [
            KeyedStateStore::<String>::new(max),
            KeyedStateStore::<String>::new(max),
        ];
        for (g, states) in &groups {
            parts[owner(*g) as usize]
                .restore_group(*g, states.clone())
                .unwrap();
        }
        // "v" is declared (decoded then); "l" never is, yet the next snapshot still has it.
        let mut seen = 0;
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let k = k.to_string();
            let g = key_group(hash_key(&k), max);
            let part = &mut parts[owner(g) as usize];
            let mut v = ValueState(Slot::<String, u32>::open(part, &k, "v", None));
            assert_eq!(v.value(), Some(&(i as u32)));
            seen += 1;
        }
        assert_eq!(seen, 5);
        let again: Snapshot = (0..max)
            .map(|g| (g, parts[owner(g) as usize].snapshot_group(g).unwrap()))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let names = |gs: &Snapshot| -> Vec<(u32, Vec<String>)> {
            gs.iter()
                .map(|(g, s)| (*g, s.iter().map(|(n, _)| n.clone()).collect()))
                .collect()
        };
        assert_eq!(
            names(&again),
            names(&groups),
            "every state again, declared or not"
        );
        let mut one = KeyedStateStore::<String>::new(max);
        for (g, states) in again {
            one.restore_group(g, states).unwrap();
        }
        for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let k = k.to_string();
            let l = ListState(Slot::<String, Vec<String>>::open(&mut one, &k, "l", None))
                .get()
                .to_vec();
            assert_eq!(l, std::slice::from_ref(&k));
            let v = ValueState(Slot::<String, u32>::open(&mut one, &k, "v", None))
                .value()
                .copied();
            assert_eq!(v, Some(i as u32));
        }
    }

    #[test]
    fn expired_entries_are_not_snapshotted() {
        let mut store = KeyedStateStore::<u8>::new(4);
        ValueState(Slot::<u8, u32>::open(&mut store, &1, "t", Some(Duration::ZERO))).update(1);
        ValueState(Slot::<u8, u32>::open(
            &mut store,
            &2,
            "t",
            Some(Duration::from_secs(3600)),
        ))
        .update(2);
        let mut restored = KeyedStateStore::<u8>::new(4);
        for g in 0..4 {
            restored
                .restore_group(g, store.snapshot_group(g).unwrap())
                .unwrap();
        }
        assert_eq!(
            ValueState(Slot::<u8, u32>::open(&mut restored, &1, "t", None)).value(),
            None
        );
        assert_eq!(
            ValueState(Slot::<u8, u32>::open(&mut restored, &2, "t", None)).value(),
            Some(&2)
        );
    }
}
