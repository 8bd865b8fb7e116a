//! The submitting side of `spate run -m HOST:PORT ./job args`: the job binary plans its graph and
//! sends it, with the binary itself, to the JobManager; then it follows the job to its end.

use crate::client;
use crate::net::Secret;
use crate::pb;
use crate::role::{self, required_env};
use spate_common::ids::{JobId, OperatorId};
use spate_runtime::error::{Error, Result};
use spate_runtime::executor::{plan_submission, JobSubmission};
use spate_runtime::metrics::{JobResult, JobStatus, OperatorStats};
use std::path::PathBuf;
use std::time::Duration;

fn other(e: impl std::fmt::Display) -> Error {
    Error::Other(e.to_string())
}

/// Submits the job; waits for its end unless detached (then prints the id and exits).
pub fn run(sub: JobSubmission) -> Result<JobResult> {
    let jm = required_env(role::ENV_JOBMANAGER).map_err(other)?;
    let secret = Secret::from_hex(&required_env(role::ENV_SECRET).map_err(other)?).map_err(other)?;
    let binary = match std::env::var_os(role::ENV_JOB_BINARY) {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe().map_err(|e| Error::io("cannot find the job binary", e))?,
    };
    let detached = std::env::var(role::ENV_DETACHED).is_ok_and(|v| v == "1");
    let (mode, job) = plan_submission(&sub)?;
    let header = pb::SubmitHeader {
        name: sub.name.clone(),
        job_graph_json: serde_json::to_string(&job).map_err(other)?,
        config: sub.config.to_properties(),
        args: std::env::args().skip(1).collect(),
        binary_sha256: String::new(),
        binary_size: 0,
        mode: format!("{mode:?}").to_uppercase(),
        working_dir: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        protocol: crate::PROTOCOL,
    };
    let rt = client::runtime().map_err(other)?;
    rt.block_on(async {
        let mut c = client::connect(&jm, &secret).await.map_err(other)?;
        let job_id = client::submit(&mut c, header, &binary).await.map_err(other)?;
        if detached {
            println!("Job has been submitted with JobID {job_id}");
            std::process::exit(0);
        }
        eprintln!("Job has been submitted with JobID {job_id}; waiting for it to end");
        let info = client::wait(&mut c, &job_id).await.map_err(other)?;
        result_of(&sub.name, info)
    })
}

fn result_of(name: &str, info: pb::JobInfo) -> Result<JobResult> {
    let status = match info.state.as_str() {
        "FINISHED" => JobStatus::Finished,
        "CANCELED" => JobStatus::Cancelled,
        _ => JobStatus::Failed,
    };
    let splits = serde_json::from_str::<Option<[u64; 4]>>(&info.split_stats_json)
        .ok()
        .flatten()
        .map(crate::coordinator::stats_from_wire);
    let result = JobResult {
        job_id: JobId(u128::from_str_radix(&info.job_id, 16).unwrap_or_default()),
        job_name: name.to_string(),
        status,
        duration: Duration::from_millis(info.duration_ms),
        operators: info
            .operators
            .iter()
            .map(|o| OperatorStats {
                id: OperatorId(o.operator_id),
                name: o.name.clone(),
                parallelism: o.parallelism,
                records_in: o.records_in,
                records_out: o.records_out,
            })
            .collect(),
        splits,
    };
    match status {
        JobStatus::Finished => Ok(result),
        JobStatus::Cancelled => Err(Error::Cancelled(name.to_string())),
        JobStatus::Failed => Err(Error::Other(format!("job '{name}' failed: {}", info.failure))),
    }
}
