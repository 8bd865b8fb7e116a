//! The task runtime: how a planned job runs.
//!
//! A job vertex (a chain of operators) runs as one *task* per parallel instance. Inside a task,
//! chained operators call each other through [`Output`]: a record passes by move, with no queue and
//! no serialization. Between vertices, records travel through *exchanges*: a
//! [`record writer`](record_writer) groups records into batches per consumer subtask and hands
//! them to a channel. In streaming mode channels are bounded (a full channel blocks the producer, so
//! backpressure reaches the sources and memory stays bounded); in batch mode they are blocking
//! partitions, written completely, spilled to disk past a memory budget, and read after the producer
//! finished.
//!
//! Threads: every running subtask owns one OS thread (named `spate-task <vertex> (i/n)`), which
//! runs the source loop or the input loop and every chained operator; the thread that calls
//! [`LocalExecutor::execute`](executor::LocalExecutor::execute) schedules subtasks into slots,
//! hands out source splits, logs progress and collects the result. Nothing here uses async I/O.
//!
//! User code never appears in the job graph: the [`code`] registry maps each
//! [`OperatorId`](spate_common::ids::OperatorId) to the typed factories that build that operator in
//! a subtask.

/// Channels between subtasks: pipelined (bounded) and blocking (spilling).
pub mod channel;
pub mod checkpoint;
/// The type-erased registry of operator, source and edge code.
pub mod code;
/// What a subtask knows about itself.
pub mod context;
/// Errors and job failures.
pub mod error;
/// The embedded (in-process) executor with task slots.
pub mod executor;
/// Capturing panics and errors of user code as task failures.
pub mod failure;
/// Per-operator record counters and the job result.
pub mod metrics;
/// The operator trait and the wrapper that chains operators.
pub mod operator;
/// `Output` and `Collector`: how records leave an operator.
pub mod output;
/// Writers that partition records over consumer subtasks.
pub mod record_writer;
/// Channels that cross a process boundary.
pub mod remote;
/// Sinks.
pub mod sink;
/// Sources in the shape of Flink's FLIP-27: split enumerator and reader.
pub mod source;
/// Running one subtask.
pub mod task;
/// Event timestamps, watermarks and processing time.
pub mod time;

pub use context::TaskContext;
pub use error::{Error, Result};
pub use metrics::{JobResult, JobStatus};
pub use operator::Operator;
pub use output::{Collector, Output};

use serde::{de::DeserializeOwned, Serialize};

/// What a record type must offer: it moves between threads, may be copied for broadcast, and
/// can be serialized for blocking exchanges, spilling and (later) the network.
pub trait Data: Clone + Send + Serialize + DeserializeOwned + 'static {}
impl<T: Clone + Send + Serialize + DeserializeOwned + 'static> Data for T {}

/// What a key type must offer in addition: hashing and equality.
pub trait Key: Data + std::hash::Hash + Eq {}
impl<T: Data + std::hash::Hash + Eq> Key for T {}
