use super::assigner::{TimeWindow, Trigger, WindowAssigner};
use super::count::CountWindowOperator;
use super::function::{AggregateWindow, ProcessWindow, ReduceWindow, WindowFn};
use super::operator::WindowOperator;
use crate::keyed::KeyedStream;
use crate::ops::aggregate::AggregateFunction;
use crate::side_output::OutputTag;
use crate::stream::DataStream;
use rustc_hash::FxHashMap;
use serde::{de::DeserializeOwned, Serialize};
use spate_runtime::{Collector, Data, Key};
use std::marker::PhantomData;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Time(WindowAssigner),
    Count { size: usize, slide: usize },
}

/// A keyed stream cut into windows; a window function turns each window into results.
pub struct WindowedStream<T, K> {
    keyed: KeyedStream<T, K>,
    kind: Kind,
    lateness: i64,
    late_tag: Option<String>,
    trigger: Trigger,
    all: bool,
}

impl<T: Data, K: Key> KeyedStream<T, K> {
    /// Windows by time (tumbling, sliding, session; event or processing time).
    pub fn window(&self, assigner: WindowAssigner) -> WindowedStream<T, K> {
        WindowedStream {
            keyed: self.clone(),
            kind: Kind::Time(assigner),
            lateness: 0,
            late_tag: None,
            trigger: Trigger::Time,
            all: false,
        }
    }

    /// Tumbling count windows: every `size` elements of a key form a window.
    pub fn count_window(&self, size: u64) -> WindowedStream<T, K> {
        self.count_window_sliding(size, size)
    }

    /// Sliding count windows: every `slide` elements of a key, a window over its last `size`.
    pub fn count_window_sliding(&self, size: u64, slide: u64) -> WindowedStream<T, K> {
        let kind = Kind::Count {
            size: size.max(1) as usize,
            slide: slide.max(1) as usize,
        };
        WindowedStream {
            keyed: self.clone(),
            kind,
            lateness: 0,
            late_tag: None,
            trigger: Trigger::Time,
            all: false,
        }
    }
}

impl<T: Data> DataStream<T> {
    /// Windows over the whole (non-keyed) stream, computed by one subtask.
    pub fn window_all(&self, assigner: WindowAssigner) -> WindowedStream<T, ()> {
        let mut w = self.key_by(|_: &T| ()).window(assigner);
        w.all = true;
        w
    }
}

impl<T: Data, K: Key> WindowedStream<T, K> {
    /// Keeps window state this long after the watermark passed the window's end; a late element
    /// in that time re-fires the window with the element added (event time only).
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.lateness = lateness.as_millis() as i64;
        self
    }

    /// Sets when windows emit (default: when time passes their end). Not for session windows or
    /// count windows.
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Sends elements that arrive after their windows' allowed lateness to `tag`, read with
    /// [`DataStream::get_side_output`] on the result.
    pub fn side_output_late_data(mut self, tag: &OutputTag<T>) -> Self {
        self.late_tag = Some(tag.id.clone());
        self
    }

    fn name(&self, what: &str) -> String {
        let how = match self.kind {
            Kind::Time(WindowAssigner::Tumbling { size, event_time, .. }) => {
                format!(
                    "Tumbling{}({size} ms)",
                    if event_time { "EventTime" } else { "ProcessingTime" }
                )
            }
            Kind::Time(WindowAssigner::Sliding {
                size,
                slide,
                event_time,
                ..
            }) => format!(
                "Sliding{}({size} ms, {slide} ms)",
                if event_time { "EventTime" } else { "ProcessingTime" }
            ),
            Kind::Time(WindowAssigner::Session { gap, event_time }) => {
                format!(
                    "{}Session(gap {gap} ms)",
                    if event_time { "EventTime" } else { "ProcessingTime" }
                )
            }
            Kind::Time(WindowAssigner::Global) => "Global".to_string(),
            Kind::Count { size, slide } => format!("Count({size}, every {slide})"),
        };
        format!("Window {how}: {what}")
    }

    fn build<F>(self, what: &str, make: impl Fn() -> F + Send + Sync + 'static) -> DataStream<F::Out>
    where
        F: WindowFn<T, K>,
    {
        let name = self.name(what);
        let key = self.keyed.key.clone();
        let input = self.keyed.hashed(&self.keyed.input);
        let out = match self.kind {
            Kind::Time(assigner) => {
                let (lateness, tag, trigger) = (self.lateness, self.late_tag.clone(), self.trigger.clone());
                input.add_operator(&name, move |_| {
                    WindowOperator::new(key.clone(), assigner, lateness, make(), tag.clone())
                        .with_trigger(trigger.clone())
                })
            }
            Kind::Count { size, slide } => input.add_operator(&name, move |_| CountWindowOperator {
                key: key.clone(),
                size,
                slide,
                f: make(),
                state: FxHashMap::default(),
                groups: Default::default(),
            }),
        };
        if self.all {
            out.set_parallelism(1)
        } else {
            out
        }
    }

    /// Reduces each window's elements to one.
    pub fn reduce(self, f: impl Fn(T, T) -> T + Clone + Send + Sync + 'static) -> DataStream<T> {
        self.build("Reduce", move || ReduceWindow {
            f: f.clone(),
            _t: PhantomData,
        })
    }

    /// Aggregates each window incrementally; emits the result.
    pub fn aggregate<Acc: Serialize + DeserializeOwned + Send + 'static, O: Data>(
        self,
        agg: impl AggregateFunction<T, Acc, O>,
    ) -> DataStream<O> {
        self.aggregate_with(agg, |_: &K, _: &TimeWindow, o: O| o)
    }

    /// Aggregates each window incrementally; `result` builds the output from the key, the window
    /// and the aggregate (Flink's `aggregate(aggFunction, windowFunction)`).
    pub fn aggregate_with<Acc: Serialize + DeserializeOwned + Send + 'static, O: 'static, R: Data>(
        self,
        agg: impl AggregateFunction<T, Acc, O>,
        result: impl FnMut(&K, &TimeWindow, O) -> R + Clone + Send + Sync + 'static,
    ) -> DataStream<R> {
        self.build("Aggregate", move || AggregateWindow {
            agg: agg.clone(),
            result: result.clone(),
            _t: PhantomData,
        })
    }

    /// Calls `f` with each window's key, the window and all its elements.
    pub fn process<R: Data>(
        self,
        f: impl FnMut(&K, &TimeWindow, Vec<T>, &mut dyn Collector<R>) + Clone + Send + Sync + 'static,
    ) -> DataStream<R> {
        self.build("Process", move || ProcessWindow {
            f: f.clone(),
            _t: PhantomData,
        })
    }
}
