use spate_common::config::{keys, Configuration};
use spate_graph::ExecutionMode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shared between all subtasks of a job: the cancel flag.
#[derive(Debug, Default)]
pub struct JobControl {
    cancelled: AtomicBool,
}

impl JobControl {
    /// Asks every subtask to stop.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }
    /// Whether the job is being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// What a subtask knows about itself and its job.
#[derive(Clone, Debug)]
pub struct TaskContext {
    /// Job name.
    pub job_name: String,
    /// Name of the task (the vertex: its chained operators).
    pub task_name: String,
    /// This subtask's index, from 0.
    pub subtask: u32,
    /// The vertex's parallelism.
    pub parallelism: u32,
    /// Number of key groups.
    pub max_parallelism: u32,
    /// Streaming or batch.
    pub mode: ExecutionMode,
    /// Records per exchange batch.
    pub batch_size: usize,
    /// Longest wait of a partly filled batch.
    pub buffer_timeout: Duration,
    /// The host this subtask runs on (`taskmanager.host`), for locality.
    pub host: Option<String>,
    /// The job's configuration.
    pub config: Arc<Configuration>,
    /// The job's cancel flag.
    pub control: Arc<JobControl>,
    /// How often this subtask ran before in this attempt of the job (batch failover runs a
    /// failed subtask again); 0 the first time.
    pub execution: u32,
    /// Checkpointing of this subtask (streaming jobs with checkpoints configured).
    pub checkpoints: Option<Arc<crate::checkpoint::TaskCheckpoints>>,
}

impl TaskContext {
    /// A context for tests and for code that runs one instance outside a job.
    pub fn standalone(mode: ExecutionMode) -> Self {
        let config = Configuration::default();
        TaskContext {
            job_name: "test".into(),
            task_name: "test".into(),
            subtask: 0,
            parallelism: 1,
            max_parallelism: config.get(&keys::MAX_PARALLELISM) as u32,
            mode,
            batch_size: config.get(&keys::RECORDS_PER_BATCH) as usize,
            buffer_timeout: config.get(&keys::BUFFER_TIMEOUT),
            host: None,
            config: Arc::new(config),
            control: Arc::new(JobControl::default()),
            execution: 0,
            checkpoints: None,
        }
    }

    /// Whether the job is being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.control.is_cancelled()
    }
}
