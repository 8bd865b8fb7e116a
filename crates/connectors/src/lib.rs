//! Sources and sinks that come with Spate.
//!
//! Sources: [`collection`] (a vector, split over subtasks), [`iterator`] (one subtask),
//! [`sequence`] (a range of numbers), [`generator`] (records made from their index, optionally
//! unbounded and rate-limited) and [`text`] (text files split into byte ranges so several subtasks
//! read one big file, each line exactly once).
//!
//! Sinks: [`print`] (standard output), [`collect`] (back to the program that ran the job) and
//! [`text_sink`] (one part file per subtask).

/// Records collected back into the calling program.
pub mod collect;
/// A source over an in-memory collection.
pub mod collection;
/// A source of records generated from their index.
pub mod generator;
/// Text files on HDFS or local file systems (block-aligned splits, in-progress part files).
pub mod hdfs;
/// A single-subtask source over an iterator.
pub mod iterator;
/// Fast line reading shared by the text sources.
pub mod lines;
/// Printing to standard output.
pub mod print;
/// A source over a range of numbers.
pub mod sequence;
/// Text file source with byte-range splits.
pub mod text;
/// Text file sink.
pub mod text_sink;
