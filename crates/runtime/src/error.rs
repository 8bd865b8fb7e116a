use crate::metrics::JobResult;
use std::fmt;

/// Why a subtask failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskFailure {
    /// The operator whose code failed.
    pub operator: String,
    /// Which parallel instance (0-based) of how many.
    pub subtask: u32,
    /// Of how many.
    pub parallelism: u32,
    /// What went wrong (the panic message or the error chain).
    pub message: String,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "operator '{}' (subtask {}/{}) failed: {}",
            self.operator,
            self.subtask + 1,
            self.parallelism,
            self.message
        )
    }
}

/// Errors of the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job failed; the result holds the counters up to the failure.
    #[error("job '{}' failed: {failure}", result.job_name)]
    JobFailed {
        failure: TaskFailure,
        result: Box<JobResult>,
    },
    /// The job was cancelled.
    #[error("job '{0}' was cancelled")]
    Cancelled(String),
    /// The job cannot run on the cluster it was given.
    #[error("cannot run job: {0}")]
    Resources(String),
    /// Planning failed.
    #[error(transparent)]
    Plan(#[from] spate_graph::Error),
    /// Configuration failed.
    #[error(transparent)]
    Config(#[from] spate_common::Error),
    /// An I/O error with context.
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    /// A record could not be encoded or decoded.
    #[error("codec: {0}")]
    Codec(String),
    /// Anything a source, sink or operator reports.
    #[error("{0}")]
    Other(String),
    /// Internal invariant broken (a bug in Spate).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result with the runtime's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
