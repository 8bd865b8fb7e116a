/// Errors found while planning a job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The graph has no sink, so running it would compute nothing.
    #[error("the job has no sink: add print(), collect(), a file sink or another sink")]
    NoSink,
    /// Forward partitioning between operators of different parallelism.
    #[error("forward partitioning from '{from}' (parallelism {from_p}) to '{to}' (parallelism {to_p}) does not allow a change of parallelism; use rebalance() or rescale()")]
    ForwardParallelism {
        from: String,
        from_p: u32,
        to: String,
        to_p: u32,
    },
    /// An operator that needs the end of its input behind an unbounded source.
    #[error("operator '{operator}' needs bounded input, but source '{source_name}' is unbounded")]
    NeedsBoundedInput { operator: String, source_name: String },
    /// A keyed operator with more parallelism than key groups.
    #[error("operator '{operator}' has parallelism {parallelism}, above the maximum parallelism {max} (pipeline.max-parallelism)")]
    AboveMaxParallelism {
        operator: String,
        parallelism: u32,
        max: u32,
    },
    /// Structural problems that the API should have prevented.
    #[error("invalid stream graph: {0}")]
    Invalid(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
