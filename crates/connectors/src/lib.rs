//! Sources and sinks that come with Spate.
//!
//! Sources: [`collection`] (a vector, split over subtasks), [`iterator`] (one subtask),
//! [`sequence`] (a range of numbers), [`generator`] (records made from their index, optionally
//! unbounded and rate-limited) and [`text`] (text files split into byte ranges so several subtasks
//! read one big file, each line exactly once).
//!
//! Sinks: [`print`] (standard output), [`collect`] (back to the program that ran the job) and
//! [`text_sink`] (one part file per subtask).
//!
//! Checkpoints: every source's reader snapshots the splits it holds with its progress (the next
//! unread line's offset, the next row of a row group, the records an iterator emitted, ...) and
//! every enumerator the splits it has not handed out, so a job restored from a checkpoint reads
//! each record exactly once. The file sinks ([`text_sink`] and those of [`hdfs`]) are
//! exactly-once in streaming jobs with checkpoints: two-phase commit of hidden part files (see
//! [`hdfs::part_files`]).

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
#[cfg(test)]
mod resume_tests;
/// A source over a range of numbers.
pub mod sequence;
/// Text file source with byte-range splits.
pub mod text;
/// Text file sink.
pub mod text_sink;
