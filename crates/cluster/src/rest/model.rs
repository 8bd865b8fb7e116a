//! The JSON bodies of the REST API.
//!
//! Field names follow Flink's REST API wherever Flink has the same field (`slots-total`,
//! `start-time`, `read-records`, `ship_strategy`, `slotsNumber`, …), so scripts and tools written
//! against a Flink JobManager read a Spate one unchanged. Every type also deserializes, so clients
//! (the CLI, tests) parse responses with the same structs.

use serde::{Deserialize, Serialize};

/// `GET /overview`: the cluster at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Overview {
    /// Registered TaskManagers.
    pub taskmanagers: u32,
    /// Slots offered by all TaskManagers.
    pub slots_total: u32,
    /// Slots not running a task.
    pub slots_available: u32,
    pub jobs_running: u32,
    pub jobs_finished: u32,
    pub jobs_cancelled: u32,
    pub jobs_failed: u32,
    /// Spate's version (Flink says `flink-version`).
    #[serde(rename = "spate-version")]
    pub version: String,
}

/// How many of a job's (or a vertex's) subtasks are in each execution state, as in Flink's
/// `tasks` objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskCounts {
    pub total: u32,
    pub created: u32,
    pub scheduled: u32,
    pub deploying: u32,
    pub running: u32,
    pub finished: u32,
    pub canceling: u32,
    pub canceled: u32,
    pub failed: u32,
}

/// One row of `GET /jobs/overview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JobOverview {
    pub jid: String,
    pub name: String,
    /// `CREATED`, `RUNNING`, `RESTARTING`, `FINISHED`, `FAILED` or `CANCELED`.
    pub state: String,
    /// Milliseconds since the Unix epoch.
    pub start_time: i64,
    /// Milliseconds since the Unix epoch, `-1` while the job has not ended.
    pub end_time: i64,
    /// Milliseconds the job has run (so far).
    pub duration: i64,
    pub tasks: TaskCounts,
}

/// `GET /jobs/{id}`: a job with its vertices and plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JobDetails {
    pub jid: String,
    pub name: String,
    pub state: String,
    pub start_time: i64,
    /// `-1` while the job has not ended.
    pub end_time: i64,
    pub duration: i64,
    /// The JobManager's clock when this was taken, milliseconds since the Unix epoch.
    pub now: i64,
    /// How often the job has been restarted after a failure.
    pub restarts: u32,
    /// The last failure, if the job failed or restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Every failure of the job so far (restarts included), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionEntry>,
    pub vertices: Vec<VertexDetails>,
    pub plan: Plan,
    /// Locality of the source splits handed out so far, for sources that know where their data
    /// lives (file sources); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<SplitLocality>,
}

/// How many source splits (and bytes) were read on a host that stores them (`local`) or
/// elsewhere (`remote`), in [`JobDetails::splits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SplitLocality {
    pub local_splits: u64,
    pub remote_splits: u64,
    pub local_bytes: u64,
    pub remote_bytes: u64,
}

/// One vertex (a chain of operators run as one task) of a running or finished job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VertexDetails {
    /// The vertex id, the same as its [`PlanNode::id`].
    pub id: String,
    pub name: String,
    pub parallelism: u32,
    /// The vertex's aggregate execution state, e.g. `RUNNING`.
    pub status: String,
    pub tasks: TaskCounts,
    pub metrics: VertexMetrics,
    /// Records read per second, summed over subtasks.
    pub records_in_per_second: f64,
    /// Records written per second, summed over subtasks.
    pub records_out_per_second: f64,
    /// `ok`, `low` or `high`, from the back-pressured ratio as Flink grades it.
    pub backpressure_level: String,
    /// Share of the last second spent processing, averaged over subtasks (0..1).
    pub busy_ratio: f64,
    /// Share of the last second spent waiting for input, averaged over subtasks (0..1).
    pub idle_ratio: f64,
    /// Share of the last second spent waiting for output buffers, averaged over subtasks (0..1).
    pub backpressured_ratio: f64,
}

/// Totals since the vertex started, summed over subtasks (Flink's vertex `metrics`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct VertexMetrics {
    pub read_records: u64,
    pub write_records: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// The job graph as Flink's `plan` JSON: vertices with the edges into them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub jid: String,
    pub name: String,
    pub nodes: Vec<PlanNode>,
}

/// A vertex in the [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanNode {
    pub id: String,
    pub description: String,
    pub parallelism: u32,
    /// The edges into this vertex; empty for sources.
    #[serde(default)]
    pub inputs: Vec<PlanInput>,
}

/// An edge into a [`PlanNode`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// The upstream vertex's id.
    pub id: String,
    /// How records are routed: `FORWARD`, `REBALANCE`, `HASH`, `BROADCAST`, …
    pub ship_strategy: String,
    /// `pipelined` or `blocking`.
    pub exchange: String,
}

/// One row of `GET /taskmanagers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskManagerInfo {
    pub id: String,
    /// The TaskManager's RPC address.
    pub path: String,
    /// The port its data plane (record exchange) listens on.
    pub data_port: u16,
    pub host: String,
    pub slots_number: u32,
    pub free_slots: u32,
    /// Milliseconds since its last heartbeat reached the JobManager.
    pub time_since_last_heartbeat: i64,
}

/// `GET /jobs`: ids and states only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdsWithStatus {
    pub jobs: Vec<JobIdWithStatus>,
}

/// One job in [`JobIdsWithStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobIdWithStatus {
    pub id: String,
    pub status: String,
}

/// `GET /jobs/overview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipleJobsDetails {
    pub jobs: Vec<JobOverview>,
}

/// `GET /jobs/{id}/plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPlan {
    pub plan: Plan,
}

/// `GET /taskmanagers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskManagersInfo {
    pub taskmanagers: Vec<TaskManagerInfo>,
}

/// One entry of `GET /jobmanager/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigEntry {
    pub key: String,
    pub value: String,
}

/// The body of every error response, as Flink's `ErrorResponseBody`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub errors: Vec<String>,
}

/// One failure of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExceptionEntry {
    /// What failed and why.
    pub exception: String,
    /// When (ms since the epoch).
    pub timestamp: i64,
}

/// `GET /jobs/{id}/exceptions`, in the shape of Flink's (older) exceptions endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobExceptions {
    /// The latest failure.
    #[serde(rename = "root-exception")]
    pub root_exception: Option<String>,
    /// When the latest failure happened.
    pub timestamp: Option<i64>,
    /// Every failure, oldest first.
    #[serde(rename = "all-exceptions")]
    pub all_exceptions: Vec<ExceptionEntry>,
    /// Whether older failures were left out.
    pub truncated: bool,
}
