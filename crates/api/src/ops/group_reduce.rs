use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::{KeyFn, KeyedStream};
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use std::marker::PhantomData;

struct GroupReduceOp<T, K, O, F> {
    key: KeyFn<T, K>,
    f: F,
    groups: FxHashMap<K, Vec<T>>,
    key_groups: Groups,
    _o: PhantomData<fn() -> O>,
}

impl<T, K, O, F> Operator<T, O> for GroupReduceOp<T, K, O, F>
where
    T: Data,
    K: Key,
    O: Data,
    F: FnMut(&K, Vec<T>, &mut dyn Collector<O>) + Send + 'static,
{
    fn open(&mut self, ctx: &TaskContext) {
        self.key_groups = Groups::of(ctx);
    }
    /// State (streaming mode, bounded input): per key group, `(key, records)`.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, entries) = decode_entries::<(K, Vec<T>)>(&state)?;
        for (k, values) in entries {
            self.groups.entry(k).or_default().extend(values);
        }
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (k, values) in &self.groups {
            push(&mut by_group, self.key_groups.group_of(k), (k, values));
        }
        Ok(checkpointing::keyed(self.key_groups.encode(by_group, None)?))
    }
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
                key_groups: Groups::default(),
                _o: PhantomData,
            })
            .needs_bounded_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};
    use std::sync::Arc;

    #[test]
    fn groups_restore_at_any_parallelism() {
        let g = Groups {
            max: 8,
            ..Groups::default()
        };
        let make = || GroupReduceOp {
            key: KeyFn::Owned(Arc::new(|r: &(u8, u32)| r.0)),
            f: |k: &u8, mut v: Vec<(u8, u32)>, out: &mut dyn Collector<(u8, Vec<u32>)>| {
                v.sort();
                out.collect((*k, v.into_iter().map(|r| r.1).collect()))
            },
            groups: FxHashMap::default(),
            key_groups: Groups::default(),
            _o: PhantomData,
        };
        let mut events = Vec::new();
        for i in 0..60u32 {
            events.push(Ev::Rec(((i % 6) as u8, i), None));
            if i % 8 == 3 {
                events.push(Ev::Restore(0));
            }
        }
        let got = check_restores(&make, &|r: &(u8, u32)| Some(g.group_of(&r.0)), &events, 8);
        assert_eq!(got.len(), 6);
    }
}
