//! The operators, one file each.

/// Incremental per-key aggregation with an [`AggregateFunction`](aggregate::AggregateFunction).
pub mod aggregate;
/// The broadcast state pattern: a broadcast side feeding every subtask's broadcast state.
pub mod broadcast_state;
/// Connected streams: co-map, co-flat-map and keyed co-process with state and timers.
pub mod connect;
/// Counting the records of a bounded stream.
pub mod count;
/// All pairs of two bounded streams.
pub mod cross;
/// Dropping duplicates.
pub mod distinct;
/// Keeping records that match a predicate.
pub mod filter;
/// The first n records.
pub mod first_n;
/// Zero or more records per record.
pub mod flat_map;
/// Group-reduce: all values of a key at once.
pub mod group_reduce;
/// Interval join of two keyed streams in event time.
pub mod interval_join;
/// Co-group and the four joins of two bounded streams.
pub mod join;
/// Per-key processing with keyed state.
pub mod keyed_process;
/// One record per record.
pub mod map;
/// Rolling and final per-key reduction (and sum, min, max).
pub mod reduce;
/// Sorting within partitions and in total order.
pub mod sort;
/// Window join: pairs of equal-keyed elements in the same window.
pub mod window_join;
