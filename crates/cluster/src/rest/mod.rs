//! The JobManager's REST API and web dashboard.
//!
//! The API speaks Flink's dialect — the same routes and JSON field names as Flink's monitoring
//! API (`/overview`, `/jobs/overview`, `/jobs/{id}`, `PATCH /jobs/{id}?mode=cancel`,
//! `/taskmanagers`, `/jobmanager/config`), also under the `/v1` prefix — so a Flink user's
//! scripts keep working. `GET /` serves the dashboard, one self-contained page
//! (`dashboard.html`) that polls the API every second and draws the selected job's graph.
//!
//! The REST layer owns no state: everything comes from a [`RestBackend`], which the JobManager
//! implements. Its methods are called on the runtime's async threads, so they must answer from a
//! snapshot and return quickly (take a lock, copy, release), never wait on the network.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn example(backend: Arc<dyn spate_cluster::rest::RestBackend>) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! spate_cluster::rest::serve(listener, backend).await
//! # }
//! ```
//!
//! [`browser`] drives a headless Chromium against the dashboard, for tests.

pub mod browser;
pub mod http;
pub mod model;
mod routes;

pub use model::{
    JobDetails, JobOverview, Overview, Plan, PlanInput, PlanNode, SplitLocality, TaskCounts, TaskManagerInfo,
    VertexDetails, VertexMetrics,
};
pub use routes::{router, serve};

/// What the REST layer asks the JobManager.
///
/// Implemented by the JobManager, and by fakes in tests. Calls come from async handlers: answer
/// from in-memory state without blocking.
pub trait RestBackend: Send + Sync + 'static {
    /// The cluster at a glance.
    fn overview(&self) -> Overview;
    /// Every job the JobManager knows, running and ended.
    fn jobs(&self) -> Vec<JobOverview>;
    /// One job, or `None` if the id is unknown.
    fn job(&self, id: &str) -> Option<JobDetails>;
    /// Cancels a job; `Err(message)` if unknown or already ended.
    fn cancel(&self, id: &str) -> Result<(), String>;
    /// The registered TaskManagers.
    fn taskmanagers(&self) -> Vec<TaskManagerInfo>;
    /// The effective configuration as (key, value) pairs.
    fn config(&self) -> Vec<(String, String)>;
    /// Takes a savepoint of a job into `dir` (default `state.savepoints.dir`); with `stop`, the
    /// job ends after it. The receiver gets the savepoint's path or an error message.
    fn savepoint(
        &self,
        _id: &str,
        _dir: Option<String>,
        _stop: bool,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<String, String>>, String> {
        Err("savepoints are not supported here".into())
    }
    /// Checkpoint counters of a job (Flink's `/jobs/{id}/checkpoints`), if it takes checkpoints.
    fn checkpoints(&self, _id: &str) -> Option<serde_json::Value> {
        None
    }
}

#[cfg(test)]
mod tests;
