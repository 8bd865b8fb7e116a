//! The TaskManager: offers its slots to the JobManager and runs job workers.
//!
//! Lifecycle: register (retrying until the JobManager answers), open the command stream, send a
//! heartbeat every `heartbeat.interval`. Commands:
//! - `StartWorker`: fetch the job binary into the local cache (once per SHA-256, checked), start it
//!   as a worker child process (its stdin is a pipe, so the worker notices when this TaskManager
//!   dies, even by `kill -9`; its output goes to `<work-dir>/log/worker-<job>.log`);
//! - `StopWorker`: close the worker's stdin and kill it if it does not exit.
//!
//! A worker that exits on its own is reported in the next heartbeat. When the JobManager is lost
//! (stream closed, heartbeats failing for `heartbeat.timeout`, or it no longer knows this
//! TaskManager), every worker is stopped and the TaskManager registers again — with the address
//! its [`JobManagerLocator`] gives, if it has one (a JobManager that moved, e.g. to a new YARN
//! ApplicationMaster attempt).

use crate::client::{self, Client};
use crate::net::Secret;
use crate::pb;
use crate::role;
use anyhow::{anyhow, Context as _, Result};
use sha2::{Digest as _, Sha256};
use spate_common::config::{keys, Configuration};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How a TaskManager runs.
#[derive(Clone, Debug)]
pub struct TaskManagerOptions {
    /// The JobManager's RPC address (`host:port`).
    pub jobmanager: String,
    /// Host identity (for locality and the data plane's address).
    pub host: String,
    /// Task slots.
    pub slots: u32,
    /// Binary cache and worker logs.
    pub work_dir: PathBuf,
    /// The resource manager's name for this TaskManager (a YARN container id), if any.
    pub resource_id: Option<String>,
    /// Where to find the JobManager when it was lost (`jobmanager` is the first address).
    pub locator: Option<JobManagerLocator>,
}

/// Finds the JobManager's current RPC address, `None` when it does not know (the last one is
/// kept). Called before every registration attempt, so it should be quick.
#[derive(Clone)]
pub struct JobManagerLocator(pub Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl std::fmt::Debug for JobManagerLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobManagerLocator")
    }
}

struct WorkerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

struct Tm {
    config: Configuration,
    options: TaskManagerOptions,
    secret: Secret,
    workers: Mutex<HashMap<String, WorkerProcess>>,
    exited: Mutex<Vec<pb::WorkerExit>>,
    /// The JobManager's address now.
    jobmanager: Mutex<String>,
}

impl Tm {
    fn jobmanager(&self) -> String {
        self.jobmanager.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Asks the locator where the JobManager is now.
    fn locate_jobmanager(&self) {
        let Some(found) = self.options.locator.as_ref().and_then(|l| (l.0)()) else {
            return;
        };
        let mut current = self.jobmanager.lock().unwrap_or_else(|p| p.into_inner());
        if *current != found {
            info!(from = %current, to = %found, "the JobManager moved");
            *current = found;
        }
    }

    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<String, WorkerProcess>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stop_worker(&self, job: &str) {
        let w = self.workers().remove(job);
        if let Some(mut w) = w {
            w.stdin.take();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = w.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
    }

    fn stop_all(&self) {
        let jobs: Vec<String> = self.workers().keys().cloned().collect();
        for j in jobs {
            self.stop_worker(&j);
        }
    }

    /// Workers that exited since the last look.
    fn reap(&self) {
        let mut workers = self.workers();
        let mut gone = Vec::new();
        for (job, w) in workers.iter_mut() {
            if let Ok(Some(status)) = w.child.try_wait() {
                gone.push((job.clone(), status, w.log.clone()));
            }
        }
        for (job, status, log) in gone {
            workers.remove(&job);
            warn!(%job, "worker exited ({status}); log: {}", log.display());
            let reason = format!(
                "worker exited ({status}); log {}{}",
                log.display(),
                crate::last_lines(&log)
            );
            self.exited
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(pb::WorkerExit { job_id: job, reason });
        }
    }

    async fn fetch_binary(&self, client: &mut Client, job_id: &str, sha: &str) -> Result<PathBuf> {
        let dir = self.options.work_dir.join("blobs");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(sha);
        if path.exists() {
            return Ok(path);
        }
        let mut stream = client
            .fetch_binary(pb::FetchBinaryRequest {
                job_id: job_id.to_string(),
            })
            .await
            .map_err(|s| client::status_error("cannot fetch the job binary", s))?
            .into_inner();
        let tmp = dir.join(format!("{sha}.part"));
        let mut file =
            std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|s| client::status_error("cannot fetch the job binary", s))?
        {
            hasher.update(&chunk.data);
            file.write_all(&chunk.data)?;
        }
        drop(file);
        let got = hex::encode(hasher.finalize());
        if got != sha {
            let _ = std::fs::remove_file(&tmp);
            return Err(anyhow!(
                "the job binary arrived damaged (SHA-256 {got}, expected {sha})"
            ));
        }
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    fn start_worker(&self, tm_id: &str, binary: &Path, w: &pb::StartWorker) -> Result<()> {
        self.stop_worker(&w.job_id);
        let logs = self.options.work_dir.join("log");
        std::fs::create_dir_all(&logs)?;
        let log = logs.join(format!("worker-{}.log", w.job_id));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        let mut child = crate::job_binary_command(binary, &w.args, &w.config, "worker")
            .env(role::ENV_JOB_ID, &w.job_id)
            .env(role::ENV_TASKMANAGER_ID, tm_id)
            .env(role::ENV_TASKMANAGER_HOST, &self.options.host)
            .env(role::ENV_JOBMANAGER, self.jobmanager())
            .env(role::ENV_SECRET, self.secret.to_hex())
            .stdout(out)
            .stderr(err)
            .current_dir(crate::working_dir_or(&w.working_dir, &self.options.work_dir))
            .spawn()
            .with_context(|| format!("cannot start the job binary {}", binary.display()))?;
        let stdin = child.stdin.take();
        info!(job = %w.job_id, pid = child.id(), log = %log.display(), "worker started");
        self.workers()
            .insert(w.job_id.clone(), WorkerProcess { child, stdin, log });
        Ok(())
    }
}

/// Runs a TaskManager until `shutdown` resolves.
pub async fn serve(
    config: Configuration,
    options: TaskManagerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let port = options
        .jobmanager
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .ok_or_else(|| anyhow!("'{}' is not a JobManager address (host:port)", options.jobmanager))?;
    let secret = crate::auth::load_secret(&config, port)?;
    std::fs::create_dir_all(&options.work_dir)
        .with_context(|| format!("cannot create {}", options.work_dir.display()))?;
    let tm = Arc::new(Tm {
        config,
        jobmanager: Mutex::new(options.jobmanager.clone()),
        options,
        secret,
        workers: Mutex::default(),
        exited: Mutex::default(),
    });
    let run = tm.clone();
    let main = async move {
        loop {
            if let Err(e) = session(&run).await {
                warn!("{e:#}; registering again in 1 s");
            }
            let stopper = run.clone();
            let _ = tokio::task::spawn_blocking(move || stopper.stop_all()).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = main => {}
        () = shutdown => {}
    }
    let stopper = tm.clone();
    let _ = tokio::task::spawn_blocking(move || stopper.stop_all()).await;
    Ok(())
}

/// One registration: returns when the JobManager is lost.
async fn session(tm: &Arc<Tm>) -> Result<()> {
    let mut client = loop {
        // On a thread outside the runtime: a locator may do blocking I/O (e.g. read HDFS).
        let locating = tm.clone();
        let _ = tokio::task::spawn_blocking(move || {
            spate_common::task::spawn_named("spate-tm-locate", move || locating.locate_jobmanager())
                .map(|t| t.join())
        })
        .await;
        match client::connect(&tm.jobmanager(), &tm.secret).await {
            Ok(c) => break c,
            Err(e) => {
                warn!("{e:#}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let reg = client
        .register_task_manager(pb::RegisterTaskManagerRequest {
            host: tm.options.host.clone(),
            slots: tm.options.slots,
            pid: std::process::id(),
            address: format!("{} (pid {})", tm.options.host, std::process::id()),
            resource_id: tm.options.resource_id.clone().unwrap_or_default(),
        })
        .await
        .map_err(|s| client::status_error("registration refused", s))?
        .into_inner();
    let id = reg.taskmanager_id;
    let mut commands = client
        .commands(pb::CommandsRequest {
            taskmanager_id: id.clone(),
        })
        .await
        .map_err(|s| client::status_error("cannot open the command stream", s))?
        .into_inner();
    info!(taskmanager = %id, host = %tm.options.host, slots = tm.options.slots, "registered at the JobManager {}", tm.jobmanager());
    println!("TaskManager {id} registered with {} slots", tm.options.slots);
    let interval = Duration::from_millis(reg.heartbeat_interval_ms.max(50));
    let timeout = Duration::from_millis(reg.heartbeat_timeout_ms.max(1000));

    let hb_tm = tm.clone();
    let mut hb_client = client.clone();
    let hb_id = id.clone();
    let heartbeats = async move {
        let mut last_ok = Instant::now();
        loop {
            tokio::time::sleep(interval).await;
            let reaper = hb_tm.clone();
            let _ = tokio::task::spawn_blocking(move || reaper.reap()).await;
            let exited = std::mem::take(&mut *hb_tm.exited.lock().unwrap_or_else(|p| p.into_inner()));
            match hb_client
                .heartbeat(pb::HeartbeatRequest {
                    taskmanager_id: hb_id.clone(),
                    exited: exited.clone(),
                })
                .await
            {
                Ok(r) if r.get_ref().known => last_ok = Instant::now(),
                Ok(_) => return anyhow!("the JobManager no longer knows this TaskManager"),
                Err(s) => {
                    hb_tm
                        .exited
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(exited);
                    if last_ok.elapsed() > timeout {
                        return anyhow!(
                            "no heartbeat answer from the JobManager for {timeout:?}: {}",
                            s.message()
                        );
                    }
                }
            }
        }
    };
    let cmd_tm = tm.clone();
    let cmd_id = id.clone();
    let command_loop = async move {
        loop {
            let cmd = match commands.message().await {
                Ok(Some(c)) => c,
                Ok(None) => return anyhow!("the JobManager closed the command stream"),
                Err(s) => return anyhow!("lost the JobManager: {}", s.message()),
            };
            match cmd.command {
                Some(pb::task_manager_command::Command::StartWorker(w)) => {
                    let result = match cmd_tm
                        .fetch_binary(&mut client, &w.job_id, &w.binary_sha256)
                        .await
                    {
                        Ok(binary) => {
                            let t = cmd_tm.clone();
                            let id = cmd_id.clone();
                            let w2 = w.clone();
                            tokio::task::spawn_blocking(move || t.start_worker(&id, &binary, &w2))
                                .await
                                .map_err(|e| anyhow!(e.to_string()))
                                .and_then(|r| r)
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        warn!(job = %w.job_id, "cannot start a worker: {e:#}");
                        cmd_tm
                            .exited
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(pb::WorkerExit {
                                job_id: w.job_id,
                                reason: format!("cannot start: {e:#}"),
                            });
                    }
                }
                Some(pb::task_manager_command::Command::StopWorker(s)) => {
                    let t = cmd_tm.clone();
                    tokio::task::spawn_blocking(move || t.stop_worker(&s.job_id));
                }
                None => {}
            }
        }
    };
    let _ = &tm.config.get(&keys::HEARTBEAT_INTERVAL);
    let e = tokio::select! {
        e = heartbeats => e,
        e = command_loop => e,
    };
    Err(e)
}
