use spate_common::ids::{JobId, OperatorId};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Record counters of one operator in one subtask. Written by the task thread (published every
/// few thousand records and at the end), read by the executor for progress and the result.
#[derive(Debug, Default)]
pub struct OperatorCounters {
    /// Records the operator received.
    pub records_in: AtomicU64,
    /// Records the operator emitted.
    pub records_out: AtomicU64,
}

/// Counters of one operator across its subtasks.
#[derive(Debug)]
pub struct OperatorMetrics {
    /// Operator id.
    pub id: OperatorId,
    /// Operator name.
    pub name: String,
    /// One entry per subtask.
    pub subtasks: Vec<Arc<OperatorCounters>>,
}

impl OperatorMetrics {
    /// A snapshot of the totals.
    pub fn stats(&self) -> OperatorStats {
        let sum = |f: fn(&OperatorCounters) -> &AtomicU64| {
            self.subtasks.iter().map(|c| f(c).load(Ordering::Relaxed)).sum()
        };
        OperatorStats {
            id: self.id,
            name: self.name.clone(),
            parallelism: self.subtasks.len() as u32,
            records_in: sum(|c| &c.records_in),
            records_out: sum(|c| &c.records_out),
        }
    }
}

/// Final counters of one operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorStats {
    /// Operator id.
    pub id: OperatorId,
    /// Operator name.
    pub name: String,
    /// Parallelism.
    pub parallelism: u32,
    /// Records received (for a source: 0).
    pub records_in: u64,
    /// Records emitted (for a sink: 0).
    pub records_out: u64,
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Every subtask finished.
    Finished,
    /// A subtask failed.
    Failed,
    /// The job was cancelled.
    Cancelled,
}

/// What `execute()` returns.
#[derive(Clone, Debug)]
pub struct JobResult {
    /// Job id.
    pub job_id: JobId,
    /// Job name.
    pub job_name: String,
    /// Final status.
    pub status: JobStatus,
    /// Wall-clock time from submission to the end.
    pub duration: Duration,
    /// Per-operator counters, in graph order.
    pub operators: Vec<OperatorStats>,
    /// Locality of source splits, when the sources know where their data lives.
    pub splits: Option<crate::source::SplitStats>,
}

impl JobResult {
    /// The counters of the first operator whose name starts with `prefix`.
    pub fn operator(&self, prefix: &str) -> Option<&OperatorStats> {
        self.operators.iter().find(|o| o.name.starts_with(prefix))
    }
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "job '{}' ({}) {:?} in {:.3} s",
            self.job_name,
            self.job_id,
            self.status,
            self.duration.as_secs_f64()
        )?;
        for o in &self.operators {
            writeln!(
                f,
                "  {:<40} p={:<3} in={:<12} out={}",
                o.name, o.parallelism, o.records_in, o.records_out
            )?;
        }
        Ok(())
    }
}
