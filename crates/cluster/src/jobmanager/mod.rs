//! The JobManager: the cluster's coordinator.
//!
//! One tokio runtime serves the gRPC control plane ([`service`]) and the REST API. State:
//! - the **TaskManagers** that registered, with their slots, their command stream and the time of
//!   their last heartbeat; a TaskManager whose stream closes or whose heartbeats stop for
//!   `heartbeat.timeout` is removed and the jobs that had subtasks on it fail over;
//! - the **jobs**, each driven by its own task ([`driver`]) through attempts: reset the job's
//!   coordinator (a child process of the job binary holding split enumerators and sink commit),
//!   take slots, make sure a worker runs on every TaskManager involved, place and deploy subtasks,
//!   follow their reports, and on a failure cancel the attempt and restart according to the
//!   restart strategy;
//! - the **blob store**: uploaded job binaries under `blob.storage.directory/<job-id>/`.
//!
//! Scheduling uses slot sharing: a job takes `n` slots (its highest parallelism for streaming; up
//! to that for batch) and subtask `j` of every vertex goes to shared slot `j mod n`, so one slot
//! runs one pipeline of the job. Batch jobs deploy a subtask when every producer of its inputs has
//! finished, one subtask per shared slot at a time; streaming jobs deploy everything at once.

mod coordinator;
mod driver;
mod job_store;
pub mod resources;
mod rest_backend;
mod service;

use crate::net::Secret;
use crate::pb;
use anyhow::{anyhow, Context as _, Result};
use spate_common::config::{keys, Configuration};
use spate_graph::{ExecutionMode, JobGraph};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

pub use coordinator::CoordinatorProcess;
pub use resources::JobManagerHandle;

/// Where a JobManager listens.
#[derive(Clone, Debug)]
pub struct JobManagerOptions {
    /// The RPC (gRPC) address.
    pub rpc: SocketAddr,
    /// The REST address.
    pub rest: SocketAddr,
}

/// Messages to a TaskManager's command stream.
type TmCommands = mpsc::UnboundedSender<Result<pb::TaskManagerCommand, tonic::Status>>;
/// Messages to a worker's command stream.
type WorkerCommands = mpsc::UnboundedSender<Result<pb::WorkerCommand, tonic::Status>>;

/// A registered TaskManager.
#[derive(Debug)]
pub(crate) struct TaskManagerEntry {
    pub id: String,
    pub host: String,
    pub address: String,
    pub slots: u32,
    /// Slots held by jobs.
    pub used: u32,
    pub last_heartbeat: Instant,
    pub commands: Option<TmCommands>,
    /// Incremented each time a command stream is opened (to ignore the close of an older one).
    pub stream_generation: u64,
    /// The resource manager's name for it (a YARN container id), or empty.
    pub resource_id: String,
}

/// What happens to a job, in the order it happens.
#[derive(Debug)]
pub(crate) enum JobEvent {
    WorkerAttached {
        tm: String,
    },
    WorkerGone {
        tm: String,
        reason: String,
    },
    TaskManagerLost {
        tm: String,
        reason: String,
    },
    Report(pb::TaskReport),
    Cancel,
    /// A subtask stored its snapshot of a checkpoint.
    CheckpointAck {
        checkpoint: u64,
        ack: Box<spate_runtime::checkpoint::coordinator::TaskAck>,
    },
    /// A user asked for a savepoint into `dir`; with `stop`, the job ends after it.
    Savepoint {
        dir: String,
        stop: bool,
        reply: tokio::sync::oneshot::Sender<Result<String, String>>,
    },
}

/// The latest and previous report of a subtask (for rates).
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskStatus {
    pub state: String,
    pub tm: String,
    pub latest: Option<(Instant, pb::TaskReport)>,
    pub previous: Option<(Instant, pb::TaskReport)>,
}

/// A worker of a job on one TaskManager.
#[derive(Debug)]
pub(crate) struct WorkerEntry {
    pub data_address: String,
    pub commands: WorkerCommands,
    pub generation: u64,
}

/// The changing part of a job.
#[derive(Debug, Default)]
pub(crate) struct JobRuntime {
    pub state: String,
    pub end_ms: Option<u64>,
    pub failure: Option<String>,
    /// Every failure (ms since the epoch, message), oldest first; at most 100 kept.
    pub exceptions: Vec<(u64, String)>,
    pub restarts: u32,
    pub attempt: u32,
    pub tasks: HashMap<(u32, u32), TaskStatus>,
    pub workers: HashMap<String, WorkerEntry>,
    pub worker_generation: u64,
    /// Locality of the splits handed out in the current attempt (updated with every split).
    pub split_stats: Option<spate_runtime::source::SplitStats>,
    /// Operator totals of finished subtasks of the current attempt are kept in `tasks`; this holds
    /// the totals when the job ended.
    pub final_totals: Option<Vec<pb::OperatorTotals>>,
    pub coordinator: Option<Arc<CoordinatorProcess>>,
    /// Slots the current attempt holds (0 while it waits for them).
    pub slots_held: u32,
    /// Checkpoint counters (jobs with checkpointing).
    pub checkpoints: Option<spate_runtime::checkpoint::coordinator::CheckpointCounts>,
}

/// A job the JobManager knows.
#[derive(Debug)]
pub(crate) struct JobEntry {
    /// What the job is (as submitted, or as the job store kept it).
    pub spec: JobSpec,
    pub dir: PathBuf,
    pub submitted_at: Instant,
    pub events: mpsc::UnboundedSender<JobEvent>,
    pub rt: Mutex<JobRuntime>,
}

impl JobEntry {
    pub fn lock(&self) -> MutexGuard<'_, JobRuntime> {
        self.rt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a failure for the exceptions history.
    pub fn record_failure(&self, message: &str) {
        let mut rt = self.lock();
        if rt.exceptions.len() >= 100 {
            rt.exceptions.remove(0);
        }
        rt.exceptions.push((now_ms(), message.to_string()));
    }

    pub fn state(&self) -> String {
        self.lock().state.clone()
    }

    pub fn duration_ms(&self) -> u64 {
        let rt = self.lock();
        match rt.end_ms {
            Some(end) => end.saturating_sub(self.spec.submitted_ms),
            None => self.submitted_at.elapsed().as_millis() as u64,
        }
    }

    /// Records in/out per operator over the subtasks of the current attempt.
    pub fn operator_totals(&self) -> Vec<pb::OperatorTotals> {
        let rt = self.lock();
        if let Some(t) = &rt.final_totals {
            return t.clone();
        }
        totals_of(&self.spec.graph, &rt)
    }
}

pub(crate) fn totals_of(graph: &JobGraph, rt: &JobRuntime) -> Vec<pb::OperatorTotals> {
    let mut out = Vec::new();
    for v in &graph.vertices {
        for op in &v.operators {
            let mut t = pb::OperatorTotals {
                operator_id: op.operator.0,
                name: op.name.clone(),
                parallelism: v.parallelism,
                records_in: 0,
                records_out: 0,
            };
            for j in 0..v.parallelism {
                let Some((_, r)) = rt.tasks.get(&(v.id.0, j)).and_then(|t| t.latest.as_ref()) else {
                    continue;
                };
                if let Some(c) = r.operators.iter().find(|c| c.operator_id == op.operator.0) {
                    t.records_in += c.records_in;
                    t.records_out += c.records_out;
                }
            }
            out.push(t);
        }
    }
    out
}

/// The JobManager's state, shared by the RPC service, the REST API and the job drivers.
#[derive(Debug)]
pub struct JobManager {
    pub(crate) config: Configuration,
    pub(crate) secret: Arc<Secret>,
    pub(crate) blob_dir: PathBuf,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) tms: Mutex<BTreeMap<String, TaskManagerEntry>>,
    pub(crate) jobs: Mutex<BTreeMap<String, Arc<JobEntry>>>,
    pub(crate) next_tm: std::sync::atomic::AtomicU64,
    /// Wakes job drivers waiting for slots.
    pub(crate) slots_changed: tokio::sync::Notify,
    /// TaskManagers a resource manager is starting, idle times (see [`resources`]).
    pub(crate) resources: resources::ResourceState,
    /// Where accepted jobs are kept for a later JobManager (`high-availability.storageDir`).
    pub(crate) job_store: Option<job_store::JobStore>,
    /// Set when the JobManager stops: jobs failing then stay in the job store.
    pub(crate) stopping: std::sync::atomic::AtomicBool,
}

/// What a job is made of, from a submission or from the job store.
#[derive(Debug)]
pub(crate) struct JobSpec {
    pub id: String,
    pub name: String,
    pub mode: ExecutionMode,
    pub graph: JobGraph,
    pub config: Configuration,
    pub config_lines: String,
    pub args: Vec<String>,
    pub working_dir: String,
    pub sha256: String,
    pub binary: PathBuf,
    pub submitted_ms: u64,
}

impl JobSpec {
    /// The job as the job store keeps it.
    fn record(&self, binary_size: u64) -> job_store::JobRecord {
        job_store::JobRecord {
            format: job_store::FORMAT,
            id: self.id.clone(),
            name: self.name.clone(),
            mode: mode_name(self.mode).to_string(),
            graph_json: serde_json::to_string(&self.graph).unwrap_or_default(),
            config: self.config_lines.clone(),
            args: self.args.clone(),
            working_dir: self.working_dir.clone(),
            sha256: self.sha256.clone(),
            binary_size,
            submitted_ms: self.submitted_ms,
        }
    }
}

/// The wire name of an execution mode.
pub(crate) fn mode_name(mode: ExecutionMode) -> &'static str {
    match mode {
        ExecutionMode::Streaming => "STREAMING",
        ExecutionMode::Batch => "BATCH",
    }
}

/// An execution mode from its wire name.
pub(crate) fn parse_mode(name: &str) -> Result<ExecutionMode, String> {
    match name {
        "STREAMING" => Ok(ExecutionMode::Streaming),
        "BATCH" => Ok(ExecutionMode::Batch),
        m => Err(format!("unknown execution mode '{m}'")),
    }
}

/// A job's configuration: its own `key=value` lines, and the JobManager's settings of checkpoints
/// and state (`state.*`, `execution.checkpointing.*`) that the job does not make itself, so that
/// the job's coordinator and workers agree with the JobManager on them.
pub(crate) fn job_config(jm_config: &Configuration, lines: &str) -> Result<(Configuration, String), String> {
    let mut config = Configuration::default();
    let own: Vec<&str> = lines.lines().filter(|l| !l.trim().is_empty()).collect();
    config
        .apply_dynamic(&own)
        .map_err(|e| format!("bad job configuration: {e}"))?;
    let mut lines = own.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    let inherited: Vec<(String, String)> = jm_config
        .iter()
        .filter(|(k, _)| k.starts_with("state.") || k.starts_with("execution.checkpointing."))
        .filter(|(k, _)| !config.iter().any(|(own, _)| own == *k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in inherited {
        if v.contains(['\n', '\r']) {
            continue;
        }
        config
            .set_str(&k, &v)
            .map_err(|e| format!("bad JobManager configuration: {e}"))?;
        lines.push(format!("{k}={v}"));
    }
    Ok((config, lines.join("\n")))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl JobManager {
    pub(crate) fn tms(&self) -> MutexGuard<'_, BTreeMap<String, TaskManagerEntry>> {
        self.tms.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn jobs(&self) -> MutexGuard<'_, BTreeMap<String, Arc<JobEntry>>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the blob store keeps the binary with this SHA-256 (hex).
    pub(crate) fn blob_path(&self, sha256: &str) -> Result<PathBuf, tonic::Status> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(tonic::Status::invalid_argument("a SHA-256 is 64 hex characters"));
        }
        let dir = self.blob_dir.join("binaries");
        std::fs::create_dir_all(&dir).map_err(|e| tonic::Status::internal(format!("blob store: {e}")))?;
        Ok(dir.join(sha256.to_ascii_lowercase()))
    }

    pub(crate) fn job(&self, id: &str) -> Option<Arc<JobEntry>> {
        self.jobs().get(id).cloned()
    }

    /// Adds a job and starts its driver.
    pub(crate) fn start_job(self: &Arc<Self>, spec: JobSpec) -> std::io::Result<Arc<JobEntry>> {
        let dir = self.blob_dir.join(&spec.id);
        std::fs::create_dir_all(&dir)?;
        let (events, rx) = mpsc::unbounded_channel();
        let job = Arc::new(JobEntry {
            spec,
            dir,
            submitted_at: Instant::now(),
            events,
            rt: Mutex::new(JobRuntime {
                state: "CREATED".into(),
                ..Default::default()
            }),
        });
        self.jobs().insert(job.spec.id.clone(), job.clone());
        tokio::spawn(driver::drive(self.clone(), job.clone(), rx));
        Ok(job)
    }

    /// Runs the jobs of the job store again (a JobManager taking over from an earlier one).
    async fn recover_jobs(self: Arc<Self>) {
        let Some(store) = self.job_store.clone() else {
            return;
        };
        let listed = store.clone();
        let records = match tokio::task::spawn_blocking(move || listed.records()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return warn!("cannot recover jobs: {e}"),
            Err(e) => return warn!("cannot recover jobs: {e}"),
        };
        for record in records {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    error!("cannot recover a job: {e}");
                    continue;
                }
            };
            if let Err(e) = self.recover_job(&store, record.clone()).await {
                error!(job = %record.name, id = %record.id, "cannot recover the job: {e}");
            }
        }
    }

    async fn recover_job(
        self: &Arc<Self>,
        store: &job_store::JobStore,
        record: job_store::JobRecord,
    ) -> Result<(), String> {
        if self.job(&record.id).is_some() {
            return Ok(());
        }
        let graph: JobGraph =
            serde_json::from_str(&record.graph_json).map_err(|e| format!("bad job graph: {e}"))?;
        let mode = parse_mode(&record.mode)?;
        let (config, config_lines) = job_config(&self.config, &record.config)?;
        let binary = self
            .blob_path(&record.sha256)
            .map_err(|e| e.message().to_string())?;
        if !binary.exists() {
            let (store, r, to) = (store.clone(), record.clone(), binary.clone());
            tokio::task::spawn_blocking(move || store.fetch_binary(&r, &to))
                .await
                .map_err(|e| e.to_string())??;
        }
        info!(job = %record.name, id = %record.id, store = %store.dir(), "recovered a job from the job store; it runs again from its latest checkpoint, if it has one");
        self.start_job(JobSpec {
            id: record.id,
            name: record.name,
            mode,
            graph,
            config,
            config_lines,
            args: record.args,
            working_dir: record.working_dir,
            sha256: record.sha256.to_ascii_lowercase(),
            binary,
            submitted_ms: record.submitted_ms,
        })
        .map_err(|e| format!("blob store: {e}"))?;
        Ok(())
    }

    /// Stores a job being submitted (when there is a job store).
    pub(crate) async fn store_job(&self, new: &JobSpec) -> Result<(), String> {
        let Some(store) = self.job_store.clone() else {
            return Ok(());
        };
        let size = std::fs::metadata(&new.binary)
            .map_err(|e| format!("cannot read {}: {e}", new.binary.display()))?
            .len();
        let record = new.record(size);
        let binary = new.binary.clone();
        tokio::task::spawn_blocking(move || store.put(&record, &binary))
            .await
            .map_err(|e| e.to_string())?
    }

    /// Forgets an ended job in the job store (unless the JobManager is stopping).
    pub(crate) async fn unstore_job(&self, id: &str) {
        let Some(store) = self.job_store.clone() else {
            return;
        };
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let id = id.to_string();
        match tokio::task::spawn_blocking(move || store.remove(&id)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!("cannot remove an ended job from the job store: {e}"),
            Err(e) => warn!("cannot remove an ended job from the job store: {e}"),
        }
    }

    /// Removes a TaskManager and fails over the jobs that used it.
    pub(crate) fn lose_taskmanager(&self, id: &str, reason: &str) {
        let removed = self.tms().remove(id);
        if let Some(tm) = removed {
            // A resource manager replaces what it started: jobs wait for the replacement.
            if !tm.resource_id.is_empty() {
                self.resources.replacing(tm.slots);
            }
            self.forget_taskmanager(tm, reason);
        }
    }

    /// Fails over the jobs that used a TaskManager just removed from `tms`.
    pub(crate) fn forget_taskmanager(&self, tm: TaskManagerEntry, reason: &str) {
        let id = &tm.id;
        warn!(taskmanager = %id, host = %tm.host, "TaskManager lost: {reason}");
        for job in self.jobs().values() {
            let involved = job.lock().workers.contains_key(id);
            if involved {
                let _ = job.events.send(JobEvent::TaskManagerLost {
                    tm: id.to_string(),
                    reason: format!("TaskManager {id} ({}) lost: {reason}", tm.host),
                });
            }
        }
        self.slots_changed.notify_waiters();
    }

    /// Declares TaskManagers lost whose heartbeats stopped.
    fn check_heartbeats(&self) {
        let late: Vec<String> = self
            .tms()
            .values()
            .filter(|t| t.last_heartbeat.elapsed() > self.heartbeat_timeout)
            .map(|t| t.id.clone())
            .collect();
        for id in late {
            let timeout = self.heartbeat_timeout;
            self.lose_taskmanager(&id, &format!("no heartbeat for {timeout:?}"));
        }
    }
}

/// Starts a JobManager and serves until the process ends (or `shutdown` resolves).
pub async fn serve(
    config: Configuration,
    options: JobManagerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let rpc_listener = tokio::net::TcpListener::bind(options.rpc)
        .await
        .map_err(|e| anyhow!("cannot listen on {} (jobmanager.rpc.port): {e}", options.rpc))?;
    let rest_listener = tokio::net::TcpListener::bind(options.rest)
        .await
        .map_err(|e| anyhow!("cannot listen on {} (rest.port): {e}", options.rest))?;
    serve_on(config, rpc_listener, rest_listener, shutdown).await
}

/// [`serve`] on listeners the caller bound (e.g. on port 0, to learn the ports first, as a YARN
/// ApplicationMaster does before it registers).
pub async fn serve_on(
    config: Configuration,
    rpc_listener: tokio::net::TcpListener,
    rest_listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_with(
        config,
        rpc_listener,
        rest_listener,
        shutdown,
        JobManagerHandle::new(),
    )
    .await
}

/// [`serve_on`], attaching `handle` for a resource manager (see [`resources`]).
pub async fn serve_with(
    config: Configuration,
    rpc_listener: tokio::net::TcpListener,
    rest_listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    handle: JobManagerHandle,
) -> Result<()> {
    let rpc_addr = rpc_listener.local_addr()?;
    let rest_addr = rest_listener.local_addr()?;
    let (secret, secret_file) = crate::auth::jobmanager_secret(&config, rpc_addr.port())?;
    let blob_dir = match config
        .get_opt(&keys::BLOB_STORAGE_DIRECTORY)
        .filter(|d| !d.is_empty())
    {
        Some(d) => PathBuf::from(d),
        None => {
            let base = config
                .get_opt(&keys::TMP_DIRS)
                .filter(|d| !d.is_empty())
                .map_or_else(std::env::temp_dir, PathBuf::from);
            base.join(format!("spate-blobs-{}", std::process::id()))
        }
    };
    std::fs::create_dir_all(&blob_dir).with_context(|| format!("cannot create {}", blob_dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&blob_dir, std::fs::Permissions::from_mode(0o700));
    }
    let job_store = match config
        .get_opt(&keys::HA_STORAGE_DIR)
        .filter(|d| !d.trim().is_empty())
    {
        Some(dir) => Some(
            tokio::task::spawn_blocking(move || job_store::JobStore::open(&dir))
                .await?
                .map_err(|e| anyhow!("{e}"))?,
        ),
        None => None,
    };
    let jm = Arc::new(JobManager {
        job_store,
        stopping: Default::default(),
        heartbeat_interval: config.get(&keys::HEARTBEAT_INTERVAL),
        heartbeat_timeout: config.get(&keys::HEARTBEAT_TIMEOUT),
        config,
        secret: Arc::new(secret),
        blob_dir: blob_dir.clone(),
        tms: Mutex::default(),
        jobs: Mutex::default(),
        next_tm: Default::default(),
        slots_changed: tokio::sync::Notify::new(),
        resources: resources::ResourceState::default(),
    });
    handle.attach(jm.clone());

    let checker = jm.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(checker.heartbeat_interval.max(Duration::from_millis(100)));
        loop {
            tick.tick().await;
            checker.check_heartbeats();
        }
    });
    let backend = Arc::new(rest_backend::Backend(jm.clone()));
    tokio::spawn(async move {
        if let Err(e) = crate::rest::serve(rest_listener, backend).await {
            warn!("the REST server stopped: {e}");
        }
    });

    info!(rpc = %rpc_addr, rest = %rest_addr, secret_file = %secret_file.display(), blobs = %blob_dir.display(), "JobManager started");
    if let Some(store) = &jm.job_store {
        info!(store = %store.dir(), "jobs are kept in the job store (high-availability.storageDir) until they end");
        tokio::spawn(jm.clone().recover_jobs());
    }
    let stopping = jm.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    println!("JobManager RPC at {rpc_addr}, REST and dashboard at http://{rest_addr}/");
    let svc = service::Service(jm.clone());
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(rpc_listener);
    let server = tonic::service::interceptor::InterceptedService::new(
        pb::job_manager_server::JobManagerServer::new(svc)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
        crate::auth::CheckSecret(jm.secret.clone()),
    );
    tonic::transport::Server::builder()
        .add_service(server)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| anyhow!("the RPC server failed: {}", crate::client::error_chain(&e)))?;
    // Jobs' child processes end with their sockets and pipes; remove the blobs.
    let coords: Vec<_> = jm
        .jobs()
        .values()
        .filter_map(|j| j.lock().coordinator.take())
        .collect();
    drop(coords);
    let _ = std::fs::remove_dir_all(&blob_dir);
    Ok(())
}
