use crate::checkpointing::{self, decode_entries, push, Groups};
use crate::keyed::KeyFn;
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use spate_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, Output, Result, TaskContext};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

/// A record from the left or the right input of a two-input operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Either<L, R> {
    /// From the first input.
    Left(L),
    /// From the second input.
    Right(R),
}

struct CoGroupOp<L, R, K, O, F> {
    kl: KeyFn<L, K>,
    kr: KeyFn<R, K>,
    f: F,
    groups: FxHashMap<K, (Vec<L>, Vec<R>)>,
    key_groups: Groups,
    _o: PhantomData<fn() -> O>,
}

impl<L, R, K, O, F> Operator<Either<L, R>, O> for CoGroupOp<L, R, K, O, F>
where
    L: Data,
    R: Data,
    K: Key,
    O: Data,
    F: FnMut(&K, Vec<L>, Vec<R>, &mut dyn Collector<O>) + Send + 'static,
{
    fn open(&mut self, ctx: &TaskContext) {
        self.key_groups = Groups::of(ctx);
    }
    /// State (streaming mode, bounded input): per key group, `(key, left records, right records)`.
    fn initialize_state(&mut self, _ctx: &TaskContext, state: OperatorSnapshot) -> Result<()> {
        let (_, entries) = decode_entries::<(K, Vec<L>, Vec<R>)>(&state)?;
        for (k, ls, rs) in entries {
            let g = self.groups.entry(k).or_default();
            g.0.extend(ls);
            g.1.extend(rs);
        }
        Ok(())
    }
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> Result<OperatorSnapshot> {
        let mut by_group = BTreeMap::new();
        for (k, (ls, rs)) in &self.groups {
            push(&mut by_group, self.key_groups.group_of(k), (k, ls, rs));
        }
        Ok(checkpointing::keyed(self.key_groups.encode(by_group, None)?))
    }
    fn process<C: Output<O>>(&mut self, record: Either<L, R>, _out: &mut C) {
        match record {
            Either::Left(l) => {
                let k = self.kl.key_of(&l);
                self.groups.entry(k).or_default().0.push(l);
            }
            Either::Right(r) => {
                let k = self.kr.key_of(&r);
                self.groups.entry(k).or_default().1.push(r);
            }
        }
    }
    fn end_input<C: Output<O>>(&mut self, out: &mut C) {
        for (k, (ls, rs)) in self.groups.drain() {
            (self.f)(&k, ls, rs, out);
        }
    }
}

type Owned<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

impl<L: Data> DataStream<L> {
    /// Groups both inputs by key and calls `f` once per key present in either input, with the
    /// key's records from each side (one side may be empty). Needs bounded inputs.
    ///
    /// ```
    /// # use spate::prelude::*;
    /// let env = StreamEnv::local();
    /// let left = env.from_collection(vec![(1, 'a'), (2, 'b')]);
    /// let right = env.from_collection(vec![(2, 'x'), (3, 'y')]);
    /// let sizes = left
    ///     .co_group(
    ///         &right,
    ///         |l: &(i32, char)| l.0,
    ///         |r: &(i32, char)| r.0,
    ///         |k: &i32, ls: Vec<(i32, char)>, rs: Vec<(i32, char)>, out: &mut dyn Collector<(i32, usize, usize)>| {
    ///             out.collect((*k, ls.len(), rs.len()))
    ///         },
    ///     )
    ///     .collect();
    /// env.execute("co_group").unwrap();
    /// let mut v = sizes.take();
    /// v.sort();
    /// assert_eq!(v, [(1, 1, 0), (2, 1, 1), (3, 0, 1)]);
    /// ```
    pub fn co_group<R: Data, K: Key, O: Data>(
        &self,
        other: &DataStream<R>,
        left_key: impl Fn(&L) -> K + Send + Sync + 'static,
        right_key: impl Fn(&R) -> K + Send + Sync + 'static,
        f: impl FnMut(&K, Vec<L>, Vec<R>, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        let kl: Owned<L, K> = Arc::new(left_key);
        let kr: Owned<R, K> = Arc::new(right_key);
        let tagged_l = self.tag("Tag Left", Either::<L, R>::Left);
        let tagged_r = other.tag("Tag Right", Either::<L, R>::Right);
        let (kl2, kr2) = (kl.clone(), kr.clone());
        let keyed = tagged_l
            .union([tagged_r])
            .key_by(move |e: &Either<L, R>| match e {
                Either::Left(l) => kl2(l),
                Either::Right(r) => kr2(r),
            });
        keyed
            .hashed(&keyed.input)
            .add_operator("CoGroup", move |_| CoGroupOp {
                kl: KeyFn::Owned(kl.clone()),
                kr: KeyFn::Owned(kr.clone()),
                f: f.clone(),
                groups: FxHashMap::default(),
                key_groups: Groups::default(),
                _o: PhantomData,
            })
            .needs_bounded_input()
    }

    /// Inner join: every pair of records with equal keys.
    pub fn join<R: Data, K: Key>(
        &self,
        other: &DataStream<R>,
        left_key: impl Fn(&L) -> K + Send + Sync + 'static,
        right_key: impl Fn(&R) -> K + Send + Sync + 'static,
    ) -> DataStream<(L, R)> {
        self.co_group(
            other,
            left_key,
            right_key,
            |_: &K, ls: Vec<L>, rs: Vec<R>, out: &mut dyn Collector<(L, R)>| {
                for l in &ls {
                    for r in &rs {
                        out.collect((l.clone(), r.clone()));
                    }
                }
            },
        )
        .name("Join")
    }

    /// Left outer join: inner-join pairs, plus `(l, None)` for left records without a match.
    pub fn left_outer_join<R: Data, K: Key>(
        &self,
        other: &DataStream<R>,
        left_key: impl Fn(&L) -> K + Send + Sync + 'static,
        right_key: impl Fn(&R) -> K + Send + Sync + 'static,
    ) -> DataStream<(L, Option<R>)> {
        self.co_group(
            other,
            left_key,
            right_key,
            |_: &K, ls: Vec<L>, rs: Vec<R>, out: &mut dyn Collector<(L, Option<R>)>| {
                for l in ls {
                    if rs.is_empty() {
                        out.collect((l, None));
                    } else {
                        rs.iter().for_each(|r| out.collect((l.clone(), Some(r.clone()))));
                    }
                }
            },
        )
        .name("Left Outer Join")
    }

    /// Right outer join: inner-join pairs, plus `(None, r)` for right records without a match.
    pub fn right_outer_join<R: Data, K: Key>(
        &self,
        other: &DataStream<R>,
        left_key: impl Fn(&L) -> K + Send + Sync + 'static,
        right_key: impl Fn(&R) -> K + Send + Sync + 'static,
    ) -> DataStream<(Option<L>, R)> {
        self.co_group(
            other,
            left_key,
            right_key,
            |_: &K, ls: Vec<L>, rs: Vec<R>, out: &mut dyn Collector<(Option<L>, R)>| {
                for r in rs {
                    if ls.is_empty() {
                        out.collect((None, r));
                    } else {
                        ls.iter().for_each(|l| out.collect((Some(l.clone()), r.clone())));
                    }
                }
            },
        )
        .name("Right Outer Join")
    }

    /// Full outer join: inner-join pairs, plus unmatched records of either side with `None` on
    /// the other.
    pub fn full_outer_join<R: Data, K: Key>(
        &self,
        other: &DataStream<R>,
        left_key: impl Fn(&L) -> K + Send + Sync + 'static,
        right_key: impl Fn(&R) -> K + Send + Sync + 'static,
    ) -> DataStream<(Option<L>, Option<R>)> {
        self.co_group(
            other,
            left_key,
            right_key,
            |_: &K, ls: Vec<L>, rs: Vec<R>, out: &mut dyn Collector<(Option<L>, Option<R>)>| match (
                ls.is_empty(),
                rs.is_empty(),
            ) {
                (_, true) => ls.into_iter().for_each(|l| out.collect((Some(l), None))),
                (true, false) => rs.into_iter().for_each(|r| out.collect((None, Some(r)))),
                (false, false) => {
                    for l in &ls {
                        rs.iter()
                            .for_each(|r| out.collect((Some(l.clone()), Some(r.clone()))));
                    }
                }
            },
        )
        .name("Full Outer Join")
    }

    /// A map chained to this stream's operator (same parallelism, forward edge), used to tag the
    /// inputs of two-input operations.
    pub(crate) fn tag<O: Data>(&self, name: &str, f: fn(L) -> O) -> DataStream<O> {
        let plain = DataStream::<L>::new(self.env.clone(), self.id);
        let out = plain.map(f).name(name);
        out.env.state.borrow_mut().inherits.push((out.id, self.id));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpointing::testing::{check_restores, Ev};

    #[test]
    fn co_groups_restore_at_any_parallelism() {
        type Rec = (u8, u32);
        let g = Groups {
            max: 8,
            ..Groups::default()
        };
        let make = || CoGroupOp {
            kl: KeyFn::Owned(Arc::new(|r: &Rec| r.0)),
            kr: KeyFn::Owned(Arc::new(|r: &Rec| r.0)),
            f: |k: &u8,
                mut l: Vec<Rec>,
                mut r: Vec<Rec>,
                out: &mut dyn Collector<(u8, Vec<Rec>, Vec<Rec>)>| {
                l.sort();
                r.sort();
                out.collect((*k, l, r))
            },
            groups: FxHashMap::default(),
            key_groups: Groups::default(),
            _o: PhantomData,
        };
        let mut events = Vec::new();
        for i in 0..80u32 {
            let r = ((i % 9) as u8, i);
            events.push(Ev::Rec(
                if i % 4 == 0 {
                    Either::Right(r)
                } else {
                    Either::Left(r)
                },
                None,
            ));
            if i % 11 == 3 {
                events.push(Ev::Restore(0));
            }
        }
        let group = move |e: &Either<Rec, Rec>| match e {
            Either::Left(r) | Either::Right(r) => Some(g.group_of(&r.0)),
        };
        let got = check_restores(&make, &group, &events, 8);
        assert_eq!(got.len(), 9);
    }
}
