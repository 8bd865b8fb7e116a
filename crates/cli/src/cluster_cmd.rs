//! `spate jobmanager`, `spate taskmanager`, `spate list`, `spate cancel`.

use crate::config_cmd::{self, ConfigArgs};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use spate_cluster::jobmanager::JobManagerOptions;
use spate_cluster::rest::model::{ErrorResponse, MultipleJobsDetails};
use spate_cluster::taskmanager::TaskManagerOptions;
use spate_common::config::{keys, Configuration};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::PathBuf;

/// Arguments of `spate jobmanager`.
#[derive(Debug, Args)]
pub(crate) struct JobManagerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Address the RPC endpoint binds to (default: jobmanager.rpc.address).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// RPC port (default: jobmanager.rpc.port, 6123).
    #[arg(long, value_name = "PORT")]
    rpc_port: Option<u16>,
    /// REST and dashboard port (default: rest.port, 8081).
    #[arg(long, value_name = "PORT")]
    rest_port: Option<u16>,
    /// Address the REST endpoint binds to (default: rest.bind-address, 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    rest_bind: Option<String>,
}

/// Arguments of `spate taskmanager`.
#[derive(Debug, Args)]
pub(crate) struct TaskManagerArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The JobManager's RPC address (default: jobmanager.rpc.address:jobmanager.rpc.port).
    #[arg(short = 'm', long = "jobmanager", value_name = "HOST:PORT")]
    jobmanager: Option<String>,
    /// This TaskManager's host identity and data-plane address (default: taskmanager.host, else
    /// 127.0.0.1); matched against the hosts that store input blocks.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Task slots (default: taskmanager.numberOfTaskSlots, else 1).
    #[arg(long, value_name = "N")]
    slots: Option<u32>,
    /// Directory for fetched job binaries and worker logs (default: a new temporary directory).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// The resource manager's name for this TaskManager (the YARN ApplicationMaster passes the
    /// container id), shown to it by the JobManager.
    #[arg(long, value_name = "ID", hide = true)]
    resource_id: Option<String>,
    /// A file (local or hdfs://) holding the JobManager's current `host:port`, read again when
    /// the JobManager is lost (the YARN ApplicationMaster writes it, for its next attempts).
    #[arg(long, value_name = "URI", hide = true)]
    jobmanager_file: Option<String>,
}

/// Arguments of `spate list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    target: Target,
    /// Show only running jobs.
    #[arg(short = 'r', long)]
    running: bool,
}

/// Arguments of `spate cancel`.
#[derive(Debug, Args)]
pub(crate) struct CancelArgs {
    #[command(flatten)]
    target: Target,
    /// The job to cancel.
    job_id: String,
}

/// Arguments of `spate savepoint`.
#[derive(Debug, Args)]
pub(crate) struct SavepointArgs {
    #[command(flatten)]
    target: Target,
    /// The job.
    job_id: String,
    /// Directory (file:// or hdfs://) the savepoint goes into (default: state.savepoints.dir).
    target_directory: Option<String>,
}

/// Arguments of `spate stop`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    #[command(flatten)]
    target: Target,
    /// Directory the savepoint goes into (default: state.savepoints.dir).
    #[arg(short = 'p', long = "savepoint-path", value_name = "DIR")]
    savepoint_path: Option<String>,
    /// The job.
    job_id: String,
}

/// Which JobManager a command talks to.
#[derive(Debug, Args)]
pub(crate) struct Target {
    #[command(flatten)]
    config: ConfigArgs,
    /// The JobManager's REST address (default: localhost:rest.port).
    #[arg(
        short = 'm',
        long = "jobmanager",
        value_name = "HOST:PORT",
        conflicts_with = "target"
    )]
    jobmanager: Option<String>,
    /// `yarn-session`: the YARN session of the properties file (see `spate yarn-session`).
    #[arg(short = 't', long = "target", value_name = "TARGET", value_parser = ["remote", "yarn-session"])]
    target: Option<String>,
    /// With -t yarn-session: the session's application id (also -yid), checked against the
    /// properties file.
    #[arg(long = "application-id", value_name = "ID")]
    application_id: Option<String>,
}

/// The address to bind; IPv4 first (`localhost` may also name ::1, which clients that dial
/// 127.0.0.1 would miss).
fn resolve(addr: &str, what: &str) -> Result<SocketAddr> {
    let all: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| anyhow!("{what} '{addr}': {e}"))?
        .collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or(all.first())
        .copied()
        .ok_or_else(|| anyhow!("{what} '{addr}' does not resolve"))
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spate-rt")
        .build()
        .context("cannot start the runtime")
}

pub(crate) async fn ctrl_c() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

pub(crate) fn jobmanager(args: &JobManagerArgs) -> Result<()> {
    crate::init_logging();
    let conf = config_cmd::load(&args.config)?.conf;
    let host = args
        .host
        .clone()
        .unwrap_or_else(|| conf.get(&keys::JOBMANAGER_RPC_ADDRESS));
    let rpc_port = match args.rpc_port {
        Some(p) => p,
        None => port(&conf, &keys::JOBMANAGER_RPC_PORT)?,
    };
    let rest_port = match args.rest_port {
        Some(p) => p,
        None => port(&conf, &keys::REST_PORT)?,
    };
    let rest_host = args
        .rest_bind
        .clone()
        .unwrap_or_else(|| conf.get(&keys::REST_BIND_ADDRESS));
    let options = JobManagerOptions {
        rpc: resolve(&format!("{host}:{rpc_port}"), "RPC address")?,
        rest: resolve(&format!("{rest_host}:{rest_port}"), "REST address")?,
    };
    runtime()?.block_on(spate_cluster::jobmanager::serve(conf, options, ctrl_c()))
}

fn port(conf: &Configuration, key: &spate_common::config::ConfigOption<u64>) -> Result<u16> {
    let p = conf.get(key);
    u16::try_from(p).map_err(|_| anyhow!("{}: {p} is not a port", key.spec.name))
}

pub(crate) fn taskmanager(args: &TaskManagerArgs) -> Result<()> {
    crate::init_logging();
    let conf = config_cmd::load(&args.config)?.conf;
    let jobmanager = match &args.jobmanager {
        Some(m) => m.clone(),
        None => format!(
            "{}:{}",
            conf.get(&keys::JOBMANAGER_RPC_ADDRESS),
            port(&conf, &keys::JOBMANAGER_RPC_PORT)?
        ),
    };
    let host = args
        .host
        .clone()
        .or_else(|| conf.get_opt(&keys::TASKMANAGER_HOST).filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "127.0.0.1".into());
    if spate_cluster::resolve_ip(&host).is_none() {
        bail!("taskmanager host '{host}' does not resolve to an address");
    }
    let slots = match args.slots {
        Some(0) => bail!("--slots must be at least 1"),
        Some(s) => s,
        None => conf.get_opt(&keys::TASK_SLOTS).map_or(1, |s| s as u32),
    };
    let work_dir = args
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("spate-taskmanager-{}", std::process::id())));
    // Workers run in directories of their own: a relative work dir (`--work-dir .` in a YARN
    // container) must not be resolved against theirs.
    let work_dir =
        std::path::absolute(&work_dir).with_context(|| format!("--work-dir {}", work_dir.display()))?;
    let options = TaskManagerOptions {
        jobmanager,
        host,
        slots,
        work_dir,
        resource_id: args.resource_id.clone(),
        locator: args.jobmanager_file.clone().map(|uri| {
            spate_cluster::taskmanager::JobManagerLocator(std::sync::Arc::new(move || {
                match read_address(&uri) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        tracing::warn!("cannot read the JobManager's address from {uri}: {e:#}");
                        None
                    }
                }
            }))
        }),
    };
    runtime()?.block_on(spate_cluster::taskmanager::serve(conf, options, ctrl_c()))
}

/// The `host:port` in the file at `uri`.
fn read_address(uri: &str) -> Result<String> {
    use std::io::Read as _;
    let (fs, path) = spate_fs::resolve(uri)?;
    let mut text = String::new();
    fs.open(&path, 0)?.read_to_string(&mut text)?;
    let address = text.trim();
    if address
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
    {
        Ok(address.to_string())
    } else {
        bail!("'{address}' is not a host:port")
    }
}

fn rest_address(target: &Target) -> Result<String> {
    if target.target.as_deref() == Some("yarn-session") || target.application_id.is_some() {
        let props = crate::yarn_session::SessionProperties::load(target.application_id.as_deref())?;
        return Ok(props.rest);
    }
    if let Some(m) = &target.jobmanager {
        return Ok(m.clone());
    }
    let conf = config_cmd::load(&target.config)?.conf;
    Ok(format!("localhost:{}", port(&conf, &keys::REST_PORT)?))
}

/// A minimal HTTP/1.1 exchange with the REST API: returns (status, body).
pub(crate) use spate_cluster::rest::http::request as http;

fn rest_error(body: &str) -> String {
    serde_json::from_str::<ErrorResponse>(body)
        .map(|e| e.errors.join("; "))
        .unwrap_or_else(|_| body.trim().to_string())
}

pub(crate) fn list(args: &ListArgs) -> Result<()> {
    let address = rest_address(&args.target)?;
    let (status, body) = http(&address, "GET", "/jobs/overview")?;
    if status != 200 {
        bail!("the JobManager answered {status}: {}", rest_error(&body));
    }
    let jobs: MultipleJobsDetails =
        serde_json::from_str(&body).map_err(|e| anyhow!("unexpected answer from {address}: {e}"))?;
    let jobs: Vec<_> = jobs
        .jobs
        .into_iter()
        .filter(|j| !args.running || !matches!(j.state.as_str(), "FINISHED" | "FAILED" | "CANCELED"))
        .collect();
    if jobs.is_empty() {
        println!("No jobs.");
        return Ok(());
    }
    println!("{:<32}  {:<10}  {:>9}  NAME", "JOB ID", "STATE", "SECONDS");
    for j in jobs {
        println!(
            "{:<32}  {:<10}  {:>9.1}  {}",
            j.jid,
            j.state,
            j.duration as f64 / 1000.0,
            j.name
        );
    }
    Ok(())
}

pub(crate) fn cancel(args: &CancelArgs) -> Result<()> {
    let address = rest_address(&args.target)?;
    if !args.job_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("'{}' is not a job id", args.job_id);
    }
    let (status, body) = http(&address, "PATCH", &format!("/jobs/{}?mode=cancel", args.job_id))?;
    if !(200..300).contains(&status) {
        bail!("cannot cancel job {}: {}", args.job_id, rest_error(&body));
    }
    println!("Cancelled job {}.", args.job_id);
    Ok(())
}

/// Percent-encodes a query value.
fn query_value(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn take_savepoint(target: &Target, job_id: &str, dir: Option<&str>, stop: bool) -> Result<String> {
    let address = rest_address(target)?;
    if !job_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("'{job_id}' is not a job id");
    }
    let mut path = format!("/jobs/{job_id}/{}", if stop { "stop" } else { "savepoints" });
    if let Some(d) = dir {
        path.push_str(&format!("?target-directory={}", query_value(d)));
    }
    // The JobManager answers when the savepoint is complete (it gives up after 10 minutes).
    let (status, body) = spate_cluster::rest::http::request_waiting(
        &address,
        "POST",
        &path,
        std::time::Duration::from_secs(660),
    )?;
    if !(200..300).contains(&status) {
        bail!("cannot take a savepoint of job {job_id}: {}", rest_error(&body));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| anyhow!("unexpected answer from the JobManager: {e}"))?;
    v["operation"]["location"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("unexpected answer from the JobManager: {body}"))
}

pub(crate) fn savepoint(args: &SavepointArgs) -> Result<()> {
    let path = take_savepoint(
        &args.target,
        &args.job_id,
        args.target_directory.as_deref(),
        false,
    )?;
    println!("Savepoint completed. Path: {path}");
    Ok(())
}

pub(crate) fn stop(args: &StopArgs) -> Result<()> {
    let path = take_savepoint(&args.target, &args.job_id, args.savepoint_path.as_deref(), true)?;
    println!("Savepoint completed. Path: {path}");
    println!("Stopped job {}.", args.job_id);
    Ok(())
}
