//! Spate's distributed runtime: a JobManager process coordinates, TaskManager processes execute.
//!
//! Processes (see `docs/ARCHITECTURE.md` for the picture):
//! - [`jobmanager`]: gRPC control plane (`proto/spate/cluster.proto`), slot pool, scheduling,
//!   failover with restart strategies, the blob store of job binaries, REST and dashboard.
//! - [`taskmanager`]: registers its slots, heartbeats, and starts one *job worker* per job that
//!   has subtasks on it: a child process of the job binary (fetched from the JobManager, checked
//!   by SHA-256), so that every operator's code is present and a crashing job never takes down the
//!   TaskManager or other jobs.
//! - [`worker`] and [`coordinator`]: the parts the job binary plays (see [`role`]).
//! - [`net`]: the data plane between workers, with credit-based flow control.
//! - [`client`]: submit, follow, list and cancel jobs.

/// Version of what a job binary and the cluster's processes say to each other (the gRPC
/// messages, the coordinator and worker protocols). A JobManager refuses a job binary that speaks
/// another one; bump it with every incompatible change.
pub const PROTOCOL: u32 = 1;

pub mod auth;
pub mod client;
pub mod coordinator;
pub mod jobmanager;
pub mod net;
pub mod rest;
pub mod role;
pub mod submit;
pub mod taskmanager;
pub mod worker;

/// The generated control-plane messages and gRPC stubs.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    tonic::include_proto!("spate.cluster");
}

use sha2::{Digest as _, Sha256};
use spate_graph::JobGraph;

/// A fingerprint of a planned graph: equal graphs (same ids, names, parallelism, edges) have
/// equal fingerprints.
pub fn fingerprint(job: &JobGraph) -> anyhow::Result<String> {
    let json = serde_json::to_vec(job)?;
    Ok(hex::encode(&Sha256::digest(&json)[..16]))
}

/// The 64-bit key of a job id on the data plane.
pub fn job_key(job_id: &str) -> u64 {
    let d = Sha256::digest(job_id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// The first IP address of a host name or literal.
pub fn resolve_ip(host: &str) -> Option<std::net::IpAddr> {
    use std::net::ToSocketAddrs as _;
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// Exits the process when stdin reaches its end: the parent that started this process (with a
/// pipe as stdin) died, even by `kill -9`.
pub fn exit_when_stdin_closes() {
    let _ = spate_common::task::spawn_named("spate-parent-watch", || {
        use std::io::Read as _;
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    tracing::info!("stdin closed: the parent process stopped this one or died; exiting");
                    std::process::exit(3);
                }
                Ok(_) => {}
            }
        }
    });
}

/// Runs the part the environment asks this job binary to play. Workers and coordinators never
/// return (they exit the process); a submitter returns the job's result.
pub fn run_role(
    role: role::Role,
    sub: spate_runtime::executor::JobSubmission,
) -> spate_runtime::Result<spate_runtime::JobResult> {
    let fatal = |what: &str, e: anyhow::Error| -> ! {
        tracing::error!("{what}: {e:#}");
        eprintln!("error: {what}: {e:#}");
        std::process::exit(1)
    };
    match role {
        role::Role::Worker => {
            if let Err(e) = worker::run(sub) {
                fatal("job worker", e);
            }
            std::process::exit(0)
        }
        role::Role::Coordinator => {
            if let Err(e) = coordinator::run(sub) {
                fatal("job coordinator", e);
            }
            std::process::exit(0)
        }
        role::Role::Submit => submit::run(sub),
    }
}

/// The last lines of a log, for an error message.
pub fn last_lines(path: &std::path::Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from(":");
    for l in lines.into_iter().rev() {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

/// The submitter's working directory if it exists on this machine, else `fallback`: relative paths
/// in a job's arguments then mean the same in its coordinator and workers on a single machine.
pub fn working_dir_or(dir: &str, fallback: &std::path::Path) -> std::path::PathBuf {
    let d = std::path::Path::new(dir);
    if !dir.is_empty() && d.is_absolute() && d.is_dir() {
        d.to_path_buf()
    } else {
        fallback.to_path_buf()
    }
}

/// A command running the job binary in `role` with the job's configuration (`config_lines`,
/// `key=value` lines) and nothing else of this process's Spate configuration; its stdin is a pipe,
/// so that the child notices when its parent dies (see [`exit_when_stdin_closes`]).
pub fn job_binary_command(
    binary: &std::path::Path,
    args: &[String],
    config_lines: &str,
    role: &str,
) -> std::process::Command {
    let mut c = std::process::Command::new(binary);
    c.args(args)
        .env_remove(spate_common::config::ENV_CONFIG_FILE)
        .env_remove(spate_common::config::ENV_CONF_DIR)
        .env(spate_common::config::ENV_DYNAMIC_PROPERTIES, config_lines)
        .env(role::ENV_ROLE, role)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(std::process::Stdio::piped());
    c
}
