//! What a job binary is asked to be.
//!
//! A job is an ordinary program linked with Spate. The same binary plays every part; the
//! environment tells `execute()` which:
//! - no `SPATE_ROLE`: embedded mode, the whole job in this process;
//! - `SPATE_ROLE=submit` (set by `spate run -m HOST:PORT`): plan the job and submit it, with this
//!   binary, to the JobManager at `SPATE_JOBMANAGER`; wait for the end (unless `SPATE_DETACHED=1`);
//! - `SPATE_ROLE=coordinator` (started by the JobManager): host the job's split enumerators and
//!   sink preparation/commit, answering the JobManager on the socket `SPATE_COORDINATOR_SOCKET`;
//! - `SPATE_ROLE=worker` (started by a TaskManager): run the subtasks the JobManager deploys to
//!   this TaskManager.
//!
//! Coordinators and workers run `main()` again up to `execute()`, so they build the same graph:
//! operators are identified by the order the program creates them. The JobManager checks this
//! with a fingerprint of the planned graph. Programs must therefore build their pipeline
//! deterministically from their arguments and configuration, and must not do work with side
//! effects before `execute()` that they would not want repeated (as with Flink's application mode).

/// Environment variable naming the role.
pub const ENV_ROLE: &str = "SPATE_ROLE";
/// The JobManager's RPC address (`host:port`).
pub const ENV_JOBMANAGER: &str = "SPATE_JOBMANAGER";
/// `1`: return once submitted.
pub const ENV_DETACHED: &str = "SPATE_DETACHED";
/// The job id (workers and coordinators).
pub const ENV_JOB_ID: &str = "SPATE_JOB_ID";
/// The TaskManager id (workers).
pub const ENV_TASKMANAGER_ID: &str = "SPATE_TASKMANAGER_ID";
/// The TaskManager's host identity (workers).
pub const ENV_TASKMANAGER_HOST: &str = "SPATE_TASKMANAGER_HOST";
/// The cluster secret as hex (workers, coordinators, submitters).
pub const ENV_SECRET: &str = "SPATE_CLUSTER_SECRET";
/// The coordinator's socket path.
pub const ENV_COORDINATOR_SOCKET: &str = "SPATE_COORDINATOR_SOCKET";
/// The job binary's path (submitters; default: the current executable).
pub const ENV_JOB_BINARY: &str = "SPATE_JOB_BINARY";

/// The part a process plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Submit to a cluster.
    Submit,
    /// Coordinate a job next to the JobManager.
    Coordinator,
    /// Run subtasks on a TaskManager.
    Worker,
}

impl Role {
    /// The role set in the environment, if any.
    pub fn from_env() -> Result<Option<Role>, String> {
        match std::env::var(ENV_ROLE).ok().as_deref() {
            None | Some("") | Some("embedded") => Ok(None),
            Some("submit") => Ok(Some(Role::Submit)),
            Some("coordinator") => Ok(Some(Role::Coordinator)),
            Some("worker") => Ok(Some(Role::Worker)),
            Some(other) => Err(format!(
                "{ENV_ROLE}='{other}' is not a role (expected submit, coordinator or worker)"
            )),
        }
    }
}

/// A required environment variable.
pub fn required_env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}
