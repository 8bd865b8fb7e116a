use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::KeyFn;
use crate::stream::DataStream;
use rustc_hash::FxHashSet;
use spate_common::config::keys;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Emits the first record of every key it has not seen. As a batch pre-step before the exchange
/// it forgets what it saw when it holds too many keys (duplicates then pass on to the final step,
/// which removes them).
struct DistinctOp<T, K> {
    key: KeyFn<T, K>,
    seen: FxHashSet<K>,
    max_keys: usize,
    groups: Groups,
}

impl<T: Data, K: Key> Operator<T, T> for DistinctOp<T, K> {
    /// State: per key group, the keys seen.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, keys) = decode_entries::<K>(&state)?;
        self.seen.extend(keys);
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for k in &self.seen {
            push(&mut by_group, self.groups.group_of(k), k);
        }
        Ok(checkpointing::keyed(self.groups.encode(by_group, None)?))
    }
    fn open(&mut self, ctx: &TaskContext) {
        self.groups = Groups::of(ctx);
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
            groups: Groups::default(),
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
                groups: Groups::default(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    #[test]
    fn seen_keys_restore_at_any_parallelism() {
        let g = Groups {
            max: 8,
            ..Groups::default()
        };
        let make = || DistinctOp {
            key: KeyFn::Owned(Arc::new(|r: &(u8, u32)| r.0)),
            seen: FxHashSet::default(),
            max_keys: usize::MAX,
            groups: Groups::default(),
        };
        let mut events = Vec::new();
        for i in 0..60u32 {
            events.push(Ev::Rec(((i * i % 17) as u8, i), None));
            if i % 7 == 3 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|r: &(u8, u32)| Some(g.group_of(&r.0)), &events, 8);
        assert_eq!(got.len(), 9, "{got:?}");
    }
}
