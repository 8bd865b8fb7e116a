//! The shape of a job, without its code.
//!
//! The API records a [`StreamGraph`]: operators (nodes) and the edges between them, each edge with a
//! [`Partitioning`]. The [`plan`](planner::plan) step turns it into a [`JobGraph`]: virtual nodes
//! (unions) are dissolved into direct edges, operators joined by forward edges of equal parallelism
//! are *chained* into one vertex (records then pass by function call), and every other edge becomes
//! an exchange, pipelined in streaming mode and blocking in batch mode.
//!
//! This crate is pure: no I/O, no threads, no user code. Operator code is looked up by
//! [`OperatorId`](spate_common::ids::OperatorId) by whoever runs the graph.

/// Errors of planning.
pub mod error;
/// The job graph: vertices (operator chains) and exchanges.
pub mod job_graph;
/// Which producer subtask talks to which consumer subtask.
pub mod partitioning;
/// Stream graph → job graph.
pub mod planner;
/// The logical graph the API builds.
pub mod stream_graph;

pub use error::{Error, Result};
pub use job_graph::{ExchangeMode, JobEdge, JobGraph, JobVertex};
pub use partitioning::Partitioning;
pub use planner::{plan, ExecutionMode};
pub use stream_graph::{EdgeSpec, NodeKind, NodeSpec, StreamGraph};
