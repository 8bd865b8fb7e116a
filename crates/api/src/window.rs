//! Windows on keyed streams (and `window_all` on non-keyed ones), with Flink's semantics.
//!
//! ```
//! use spate::prelude::*;
//! use std::time::Duration;
//!
//! let env = StreamEnv::local();
//! env.set_parallelism(2);
//! let sums = env
//!     .from_collection(vec![("a".to_string(), 100i64), ("a".into(), 900), ("a".into(), 1200), ("b".into(), 50)])
//!     .assign_timestamps_and_watermarks(
//!         WatermarkStrategy::for_monotonous_timestamps().with_timestamp_assigner(|r: &(String, i64), _| r.1),
//!     )
//!     .key_by(|r: &(String, i64)| r.0.clone())
//!     .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
//!     .process(|k: &String, w: &TimeWindow, items: Vec<(String, i64)>, out: &mut dyn Collector<(String, i64, usize)>| {
//!         out.collect((k.clone(), w.start, items.len()))
//!     })
//!     .collect();
//! env.execute("windows").unwrap();
//! let mut v = sums.take();
//! v.sort();
//! assert_eq!(v, [("a".into(), 0, 2), ("a".into(), 1000, 1), ("b".into(), 0, 1)]);
//! ```

/// Window assigners and the time window type.
pub mod assigner;
/// Count windows.
pub mod count;
/// What a window computes.
pub mod function;
/// The window operator.
pub mod operator;
/// The windowed stream API.
pub mod windowed_stream;

pub use assigner::{
    EventTimeSessionWindows, GlobalWindows, ProcessingTimeSessionWindows, SlidingEventTimeWindows,
    SlidingProcessingTimeWindows, TimeWindow, Trigger, TumblingEventTimeWindows,
    TumblingProcessingTimeWindows, WindowAssigner,
};
pub use windowed_stream::WindowedStream;
