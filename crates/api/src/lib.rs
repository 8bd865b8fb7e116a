//! Spate's user API, in the shape of Apache Flink's DataStream API (names in snake_case).
//!
//! A program creates a [`StreamEnv`], reads sources into [`DataStream`]s, transforms them, ends
//! them in sinks and calls [`StreamEnv::execute`]. A bounded program runs in batch mode
//! (blocking exchanges, pre-aggregation, final results only); an unbounded one in streaming mode.
//!
//! ```
//! use spate::prelude::*;
//!
//! let env = StreamEnv::local();
//! let counts = env
//!     .from_collection(vec!["a b".to_string(), "b c".into(), "c c".into()])
//!     .flat_map(|line: String, out: &mut dyn Collector<(String, u64)>| {
//!         for w in line.split(' ') {
//!             out.collect((w.to_string(), 1));
//!         }
//!     })
//!     .key_by(|(w, _): &(String, u64)| w.clone())
//!     .sum(|(_, n): &mut (String, u64)| n)
//!     .collect();
//! env.execute("word count").unwrap();
//! let mut got = counts.take();
//! got.sort();
//! assert_eq!(got, [("a".to_string(), 1), ("b".to_string(), 2), ("c".to_string(), 3)]);
//! ```

/// Snapshot and restore helpers of the stateful operators.
pub(crate) mod checkpointing;
/// The environment: configuration, sources, execution.
pub mod env;
/// Keyed streams and their aggregations.
pub mod keyed;
/// Log output setup for job programs.
pub mod logging;
/// One file per operator.
pub mod ops;
/// Side outputs.
pub mod side_output;
/// Sinks on data streams.
pub mod sinks;
/// Keyed state.
pub mod state;
/// The data stream type.
pub mod stream;
/// Event timestamps and watermark strategies.
pub mod watermark;
/// Windows.
pub mod window;

pub use env::{RuntimeMode, StreamEnv};
pub use keyed::KeyedStream;
pub use ops::join::Either;
pub use ops::keyed_process::{KeyedContext, KeyedProcessFunction};
pub use ops::sort::Order;
pub use side_output::OutputTag;
pub use spate_common::config::{keys, Configuration};
pub use spate_connectors::collect::CollectHandle;
pub use spate_runtime::sink::{Sink, SinkWriter};
pub use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceReader, SplitEnumerator};
pub use spate_runtime::{Collector, Data, Error, JobResult, JobStatus, Key, Result, TaskContext};
pub use state::{AggregatingState, ListState, MapState, ReducingState, ValueState};
pub use stream::DataStream;
pub use watermark::{WatermarkGenerator, WatermarkOutput, WatermarkStrategy};
pub use window::{TimeWindow, WindowedStream};

/// Everything a job program usually needs.
pub mod prelude {
    pub use crate::ops::aggregate::AggregateFunction;
    pub use crate::ops::broadcast_state::{BroadcastState, BroadcastStream};
    pub use crate::ops::connect::{Connect, KeyedCoContext, KeyedCoProcessFunction};
    pub use crate::ops::interval_join::ProcessJoinContext;
    pub use crate::window::Trigger;
    pub use crate::window::{
        EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
        SlidingProcessingTimeWindows, TumblingEventTimeWindows, TumblingProcessingTimeWindows,
    };
    pub use crate::{
        CollectHandle, Collector, DataStream, Either, KeyedContext, KeyedStream, Order, RuntimeMode,
        StreamEnv, ValueState,
    };
    pub use crate::{KeyedProcessFunction, OutputTag, TimeWindow, WatermarkStrategy};
}

/// Compiles the README's code as a doctest, so the tour stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
