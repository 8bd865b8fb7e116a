//! Window join (Flink's `DataStream.join(..).where(..).equalTo(..).window(..).apply(..)`): every
//! pair of a left and a right element with equal keys in the same window, emitted when the window
//! fires, with the window's last timestamp. Built like Flink's: both sides are tagged, unioned,
//! keyed and windowed, and the window function pairs up each window's elements. Named
//! `window_join` because `join` is the batch join of bounded streams.

use crate::ops::connect::tagged_union;
use crate::ops::join::Either;
use crate::stream::DataStream;
use crate::window::{TimeWindow, WindowAssigner};
use spate_runtime::{Collector, Data, Key};
use std::sync::Arc;
use std::time::Duration;

type KeyOf<T, K> = Arc<dyn Fn(&T) -> K + Send + Sync>;

/// Two streams to be joined in windows; name the left key with [`where_key`](Self::where_key).
pub struct WindowJoin<A, B> {
    left: DataStream<A>,
    right: DataStream<B>,
}

/// A window join with its left key; name the right key with [`equal_to`](Self::equal_to).
pub struct WindowJoinWhere<A, B, K> {
    join: WindowJoin<A, B>,
    left_key: KeyOf<A, K>,
}

/// A window join with both keys; choose the windows with [`window`](Self::window).
pub struct WindowJoinEqual<A, B, K> {
    join: WindowJoin<A, B>,
    left_key: KeyOf<A, K>,
    right_key: KeyOf<B, K>,
}

/// A window join with keys and windows; [`apply`](Self::apply) sets what it emits.
pub struct WindowJoinWindowed<A, B, K> {
    keys: WindowJoinEqual<A, B, K>,
    assigner: WindowAssigner,
    lateness: Option<Duration>,
}

impl<A: Data> DataStream<A> {
    /// Starts a window join with `other` (Flink's windowed `join`).
    ///
    /// ```
    /// use spate::prelude::*;
    /// use std::time::Duration;
    ///
    /// type Ev = (char, i64); // (key, timestamp)
    /// let env = StreamEnv::local();
    /// let timed = |v: Vec<Ev>| {
    ///     env.from_collection(v).assign_timestamps_and_watermarks(
    ///         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|e: &Ev, _| e.1),
    ///     )
    /// };
    /// let left = timed(vec![('a', 1), ('a', 12), ('b', 3)]);
    /// let right = timed(vec![('a', 5), ('a', 9), ('b', 15)]);
    /// let pairs = left
    ///     .window_join(&right)
    ///     .where_key(|e: &Ev| e.0)
    ///     .equal_to(|e: &Ev| e.0)
    ///     .window(TumblingEventTimeWindows::of(Duration::from_millis(10)))
    ///     .apply(|l: &Ev, r: &Ev| (l.0, l.1, r.1))
    ///     .collect();
    /// env.execute("window join").unwrap();
    /// let mut v = pairs.take();
    /// v.sort();
    /// assert_eq!(v, [('a', 1, 5), ('a', 1, 9)]);
    /// ```
    pub fn window_join<B: Data>(&self, other: &DataStream<B>) -> WindowJoin<A, B> {
        WindowJoin {
            left: self.clone(),
            right: other.clone(),
        }
    }
}

impl<A: Data, B: Data> WindowJoin<A, B> {
    /// The key of left elements (Flink's `where`).
    pub fn where_key<K: Key>(
        self,
        key: impl Fn(&A) -> K + Send + Sync + 'static,
    ) -> WindowJoinWhere<A, B, K> {
        WindowJoinWhere {
            join: self,
            left_key: Arc::new(key),
        }
    }
}

impl<A: Data, B: Data, K: Key> WindowJoinWhere<A, B, K> {
    /// The key of right elements (Flink's `equalTo`).
    pub fn equal_to(self, key: impl Fn(&B) -> K + Send + Sync + 'static) -> WindowJoinEqual<A, B, K> {
        WindowJoinEqual {
            join: self.join,
            left_key: self.left_key,
            right_key: Arc::new(key),
        }
    }
}

impl<A: Data, B: Data, K: Key> WindowJoinEqual<A, B, K> {
    /// The windows (tumbling or sliding, event or processing time; sessions work too).
    pub fn window(self, assigner: WindowAssigner) -> WindowJoinWindowed<A, B, K> {
        WindowJoinWindowed {
            keys: self,
            assigner,
            lateness: None,
        }
    }
}

impl<A: Data, B: Data, K: Key> WindowJoinWindowed<A, B, K> {
    /// Keeps windows this long after they fired; a late element re-fires its window, emitting
    /// all its pairs again (as in Flink).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = Some(lateness);
        self
    }

    /// Emits `f(left, right)` for every pair (Flink's `JoinFunction`).
    pub fn apply<O: Data>(
        self,
        mut f: impl FnMut(&A, &B) -> O + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        self.flat_apply(move |a: &A, b: &B, out: &mut dyn Collector<O>| out.collect(f(a, b)))
    }

    /// Calls `f(left, right, out)` for every pair (Flink's `FlatJoinFunction`).
    pub fn flat_apply<O: Data>(
        self,
        mut f: impl FnMut(&A, &B, &mut dyn Collector<O>) + Clone + Send + Sync + 'static,
    ) -> DataStream<O> {
        let WindowJoinEqual {
            join,
            left_key,
            right_key,
        } = self.keys;
        let union = tagged_union(&join.left, &join.right);
        let keyed = union.key_by(move |e: &Either<A, B>| match e {
            Either::Left(a) => left_key(a),
            Either::Right(b) => right_key(b),
        });
        let mut windowed = keyed.window(self.assigner);
        if let Some(l) = self.lateness {
            windowed = windowed.allowed_lateness(l);
        }
        windowed
            .process(
                move |_: &K, _: &TimeWindow, items: Vec<Either<A, B>>, out: &mut dyn Collector<O>| {
                    let (mut ls, mut rs) = (Vec::new(), Vec::new());
                    for e in items {
                        match e {
                            Either::Left(a) => ls.push(a),
                            Either::Right(b) => rs.push(b),
                        }
                    }
                    for a in &ls {
                        for b in &rs {
                            f(a, b, out);
                        }
                    }
                },
            )
            .name("Window Join")
    }
}
