use super::assigner::TimeWindow;
use crate::ops::aggregate::AggregateFunction;
use serde::{de::DeserializeOwned, Serialize};
use spate_runtime::{Collector, Data};
use std::marker::PhantomData;

/// What a window computes: an accumulator per window, and what is emitted when it fires.
pub trait WindowFn<T, K>: Send + 'static {
    /// Per-window state (written to checkpoints).
    type Acc: Serialize + DeserializeOwned + Send + 'static;
    /// Emitted records.
    type Out: Data;
    /// A fresh accumulator.
    fn create(&self) -> Self::Acc;
    /// Adds one element.
    fn add(&self, acc: &mut Self::Acc, value: T);
    /// Merges the accumulators of two windows (session windows).
    fn merge(&self, a: Self::Acc, b: Self::Acc) -> Self::Acc;
    /// Emits the window's result.
    fn emit(&mut self, key: &K, window: &TimeWindow, acc: &Self::Acc, out: &mut dyn Collector<Self::Out>);
}

/// Incremental reduction: one value per window.
pub struct ReduceWindow<T, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn(T) -> T>,
}

impl<T: Data, K, F: Fn(T, T) -> T + Send + 'static> WindowFn<T, K> for ReduceWindow<T, F> {
    type Acc = Option<T>;
    type Out = T;
    fn create(&self) -> Option<T> {
        None
    }
    fn add(&self, acc: &mut Option<T>, value: T) {
        *acc = Some(match acc.take() {
            Some(a) => (self.f)(a, value),
            None => value,
        });
    }
    fn merge(&self, a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some((self.f)(a, b)),
            (a, b) => a.or(b),
        }
    }
    fn emit(&mut self, _key: &K, _window: &TimeWindow, acc: &Option<T>, out: &mut dyn Collector<T>) {
        if let Some(v) = acc {
            out.collect(v.clone());
        }
    }
}

/// Incremental aggregation with an [`AggregateFunction`], its result mapped with the key and the
/// window.
pub struct AggregateWindow<A, Acc, O, G> {
    pub(crate) agg: A,
    pub(crate) result: G,
    pub(crate) _t: PhantomData<fn(Acc) -> O>,
}

impl<T, K, A, Acc, O, R, G> WindowFn<T, K> for AggregateWindow<A, Acc, O, G>
where
    A: AggregateFunction<T, Acc, O>,
    Acc: Serialize + DeserializeOwned + Send + 'static,
    O: 'static,
    R: Data,
    G: FnMut(&K, &TimeWindow, O) -> R + Send + 'static,
{
    type Acc = Acc;
    type Out = R;
    fn create(&self) -> Acc {
        self.agg.create_accumulator()
    }
    fn add(&self, acc: &mut Acc, value: T) {
        self.agg.add(acc, value);
    }
    fn merge(&self, a: Acc, b: Acc) -> Acc {
        self.agg.merge(a, b)
    }
    fn emit(&mut self, key: &K, window: &TimeWindow, acc: &Acc, out: &mut dyn Collector<R>) {
        out.collect((self.result)(key, window, self.agg.get_result(acc)));
    }
}

/// All elements of the window at once (Flink's `ProcessWindowFunction`).
pub struct ProcessWindow<T, R, F> {
    pub(crate) f: F,
    pub(crate) _t: PhantomData<fn(T) -> R>,
}

impl<T, K, R, F> WindowFn<T, K> for ProcessWindow<T, R, F>
where
    T: Data,
    R: Data,
    F: FnMut(&K, &TimeWindow, Vec<T>, &mut dyn Collector<R>) + Send + 'static,
{
    type Acc = Vec<T>;
    type Out = R;
    fn create(&self) -> Vec<T> {
        Vec::new()
    }
    fn add(&self, acc: &mut Vec<T>, value: T) {
        acc.push(value);
    }
    fn merge(&self, mut a: Vec<T>, b: Vec<T>) -> Vec<T> {
        a.extend(b);
        a
    }
    fn emit(&mut self, key: &K, window: &TimeWindow, acc: &Vec<T>, out: &mut dyn Collector<R>) {
        (self.f)(key, window, acc.clone(), out);
    }
}
