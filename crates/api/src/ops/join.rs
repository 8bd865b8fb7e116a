use crate::keyed::KeyFn;
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use spate_runtime::operator::Operator;
use spate_runtime::{Collector, Data, Key, Output};
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
