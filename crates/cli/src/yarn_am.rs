//! `spate yarn-am`: the ApplicationMaster of a YARN session (started by `spate yarn-session`
//! inside the AM container, never by hand).
//!
//! It runs a JobManager on the container's host (`$NM_HOST`, RPC and REST on free ports),
//! registers with the ResourceManager (host, RPC port, tracking URL = the REST API) and
//! heartbeats every second, every 250 ms while it waits for containers. Every 250 ms it asks the
//! JobManager what its jobs need
//! ([`spate_cluster::jobmanager::JobManagerHandle`]: slots, and the hosts that store the input
//! of jobs waiting for slots) and keeps that many TaskManager containers, at least `-n`, asking
//! for them on those hosts first ([`crate::yarn_containers`]); it starts `./spate taskmanager` in
//! each, replaces containers that end, releases surplus ones and TaskManagers idle for
//! `resourcemanager.taskmanager-timeout` beyond what the jobs need. On SIGTERM (a kill), a
//! shutdown order of the RM or too many failed containers it stops the containers and
//! unregisters.
//!
//! Threads: the JobManager runs on its own tokio runtime (thread `jobmanager`); the YARN calls
//! block and run on the main thread.

use crate::config_cmd::{self, ConfigArgs};
use crate::yarn_containers::{ContainerBook, Match};
use crate::yarn_session::{decode_resources, ENV_RESOURCES};
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use spate_cluster::jobmanager::JobManagerHandle;
use spate_cluster::role;
use spate_common::config::keys;
use spate_yarn::{
    AllocateRequest, AmCommand, AmRmClient, Container, ContainerId, ContainerLaunchContext, FinalStatus,
    LocalResource, NmClient, NodeId, Resource,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How long a per-job application keeps its JobManager after the job ended (the client polls
/// every 200 ms).
const PER_JOB_LINGER: Duration = Duration::from_secs(3);
/// Longest interval of the `allocate` heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often the AM looks at the jobs' demand; `allocate` is called this often while asks are
/// outstanding or changed (Flink's `yarn.heartbeat.container-request-interval` is 500 ms).
const TICK: Duration = Duration::from_millis(250);
/// How long a TaskManager of an earlier attempt has to register with this JobManager before its
/// container is stopped and replaced.
const ADOPTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Containers that may end unexpectedly before the session gives up.
const MAX_FAILED_CONTAINERS: u32 = 10;
/// Priority of the TaskManager asks.
const TM_PRIORITY: i32 = 1;

/// Arguments of `spate yarn-am` (set by `spate yarn-session`).
#[derive(Debug, Args)]
pub(crate) struct YarnAmArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// TaskManagers to keep running at least (more are started as the jobs need them).
    #[arg(short = 'n', long, default_value_t = 0)]
    taskmanagers: u32,
    /// Slots of each TaskManager.
    #[arg(short = 's', long, default_value_t = 1)]
    slots: u32,
    /// Memory of each TaskManager container, MB.
    #[arg(long, default_value_t = 1024)]
    tm_memory: i64,
    /// Virtual cores of each TaskManager container.
    #[arg(long, default_value_t = 1)]
    tm_vcores: i32,
    /// Per-job mode: end the application when the first job ends, with its status.
    #[arg(long)]
    per_job: bool,
}

pub(crate) fn yarn_am(args: &YarnAmArgs) -> Result<()> {
    crate::init_logging();
    let mut conf = config_cmd::load(&args.config)?.conf;
    let secret = std::env::var(role::ENV_SECRET).map_err(|_| {
        anyhow!(
            "{} is not set (spate yarn-am is started by spate yarn-session)",
            role::ENV_SECRET
        )
    })?;
    conf.set(&keys::CLUSTER_SECRET, &secret)?;
    // The blob store (job binaries) lives in the container's directory, which the NodeManager
    // removes when the application ends, even when the AM is killed before it cleans up. The
    // JobManager reaches it through a short link in the temporary directory: the coordinators'
    // Unix sockets live there, and container paths are longer than a socket path may be.
    let mut blobs = None;
    if conf
        .get_opt(&keys::BLOB_STORAGE_DIRECTORY)
        .is_none_or(|d| d.is_empty())
    {
        let dir = std::env::current_dir()
            .context("cannot read the container's directory")?
            .join("blobs");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let link = std::env::temp_dir().join(format!("spate-am-{}", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link)
            .with_context(|| format!("cannot link {} to {}", link.display(), dir.display()))?;
        conf.set(&keys::BLOB_STORAGE_DIRECTORY, link.to_string_lossy().into_owned())?;
        blobs = Some((link, dir));
    }
    let host = std::env::var("NM_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let resources = decode_resources(&std::env::var(ENV_RESOURCES).unwrap_or_default())?;

    let rpc = std::net::TcpListener::bind((host.as_str(), 0))
        .with_context(|| format!("cannot listen on {host}"))?;
    let rest = std::net::TcpListener::bind((host.as_str(), 0))
        .with_context(|| format!("cannot listen on {host}"))?;
    let rpc_port = rpc.local_addr()?.port();
    let rest_port = rest.local_addr()?.port();
    rpc.set_nonblocking(true)?;
    rest.set_nonblocking(true)?;

    let am = AmRmClient::from_env().context("cannot connect to the ResourceManager's scheduler")?;
    let attempts = conf.get(&keys::YARN_APPLICATION_ATTEMPTS);
    // With more attempts to come, the JobManager keeps its jobs in the staging directory and
    // TaskManagers find the JobManager of the latest attempt there.
    let staging = if attempts > 1 {
        match staging_dir(&am) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!("cannot open the staging directory; a new attempt will not recover the jobs or the TaskManagers: {e:#}");
                None
            }
        }
    } else {
        None
    };
    if let Some(staging) = &staging {
        if conf
            .get_opt(&keys::HA_STORAGE_DIR)
            .is_none_or(|d| d.trim().is_empty())
        {
            conf.set(&keys::HA_STORAGE_DIR, staging.dir().join(JOB_STORE).to_string())?;
        } else {
            // A directory of the user's: one store per application under it.
            let dir = conf.get(&keys::HA_STORAGE_DIR);
            let app = staging.dir().file_name().to_string();
            conf.set(
                &keys::HA_STORAGE_DIR,
                format!("{}/{app}", dir.trim_end_matches('/')),
            )?;
        }
    }
    // Checkpoints go to HDFS unless configured otherwise: the job's tasks run on several hosts,
    // and a new attempt of the ApplicationMaster may run on another one.
    if conf
        .get_opt(&keys::CHECKPOINTS_DIR)
        .is_none_or(|d| d.trim().is_empty())
    {
        match default_checkpoint_dir() {
            Ok(dir) => conf.set(&keys::CHECKPOINTS_DIR, dir)?,
            Err(e) => {
                warn!("cannot find HDFS for checkpoints ({e:#}); they go to the local temporary directory")
            }
        }
    }

    // The JobManager; it ends on SIGTERM/Ctrl-C or when the AM loop asks it to.
    let stopped = Arc::new(AtomicBool::new(false));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let jm_stopped = stopped.clone();
    let jm_conf = conf.clone();
    let handle = JobManagerHandle::new();
    let jm_handle = handle.clone();
    let jm = spate_common::task::spawn_named("jobmanager", move || {
        let flag = jm_stopped.clone();
        let result = crate::cluster_cmd::runtime().and_then(|rt| {
            rt.block_on(async move {
                let rpc = tokio::net::TcpListener::from_std(rpc)?;
                let rest = tokio::net::TcpListener::from_std(rest)?;
                let shutdown = async move {
                    tokio::select! {
                        () = crate::cluster_cmd::ctrl_c() => {}
                        _ = stop_rx.changed() => {}
                    }
                    flag.store(true, Ordering::SeqCst);
                };
                spate_cluster::jobmanager::serve_with(jm_conf, rpc, rest, shutdown, jm_handle).await
            })
        });
        jm_stopped.store(true, Ordering::SeqCst);
        result
    })?;

    let tracking = format!("http://{host}:{rest_port}/");
    let registration = am
        .register_application_master(&host, i32::from(rpc_port), &tracking)
        .context("cannot register the ApplicationMaster")?;
    let attempt = am.attempt_id().map_or(1, |a| a.attempt);
    info!(host, rpc_port, rest_port, attempt, "ApplicationMaster registered");
    let jobmanager = format!("{host}:{rpc_port}");
    // TaskManagers find the JobManager of the latest attempt in the staging directory.
    let jobmanager_file = staging.as_ref().and_then(|staging| {
        match staging.upload_bytes(jobmanager.as_bytes(), JOBMANAGER_FILE) {
            Ok(_) => Some(staging.dir().join(JOBMANAGER_FILE).to_string()),
            Err(e) => {
                warn!("cannot publish the JobManager's address; TaskManagers will not follow a new attempt: {e}");
                None
            }
        }
    });

    let mut session = Session {
        am: &am,
        jobmanager,
        jobmanager_file,
        secret,
        resources,
        book: ContainerBook::new(args.taskmanagers, args.slots),
        handle,
        idle_timeout: conf.get(&keys::RESOURCEMANAGER_TASKMANAGER_TIMEOUT),
        slots: args.slots,
        capability: Resource::new(args.tm_memory, args.tm_vcores),
        running: BTreeMap::new(),
        releases: Vec::new(),
        failed: 0,
        start_timeout: conf.get(&keys::YARN_APPLICATION_START_TIMEOUT),
        started: std::time::Instant::now(),
        asking_since: None,
        headroom: None,
        nms: HashMap::new(),
        registration: (host.clone(), i32::from(rpc_port), tracking.clone()),
        per_job: args.per_job,
        adopted: HashMap::new(),
    };
    // TaskManagers of earlier attempts (kept by YARN) register with this JobManager.
    let now = std::time::Instant::now();
    for c in registration.containers_from_previous_attempts {
        info!(container = %c.id, node = %c.node_id, "took over a TaskManager of an earlier attempt");
        session.adopted.insert(c.id, now);
        session.running.insert(c.id, c);
    }
    let (status, diagnostics) = session.run(&stopped);
    info!(?status, diagnostics, "stopping the session");
    session.stop_containers();
    let _ = stop_tx.send(true);
    if let Err(e) = am.finish_application_master(status, &diagnostics, "") {
        warn!("unregistering failed: {e}");
    }
    let result = match jm.join() {
        Ok(r) => r,
        Err(_) => Err(anyhow!("the JobManager thread panicked")),
    };
    // The JobManager removed the link; the binaries go now, not when YARN cleans up.
    if let Some((link, dir)) = blobs {
        let _ = std::fs::remove_file(link);
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

/// The TaskManager containers of a session.
struct Session<'a> {
    am: &'a AmRmClient,
    jobmanager: String,
    /// Where TaskManagers read the JobManager's address when they lose it (an HDFS URI).
    jobmanager_file: Option<String>,
    secret: String,
    resources: BTreeMap<String, LocalResource>,
    /// Outstanding asks.
    book: ContainerBook,
    /// What the JobManager's jobs need, its TaskManagers.
    handle: JobManagerHandle,
    /// How long a TaskManager beyond the demand may stay idle.
    idle_timeout: Duration,
    slots: u32,
    capability: Resource,
    running: BTreeMap<ContainerId, Container>,
    releases: Vec<ContainerId>,
    failed: u32,
    /// Per-job: how long the job's containers may stay outstanding before the application fails
    /// (`yarn.application.start-timeout`).
    start_timeout: Duration,
    /// When this ApplicationMaster started.
    started: std::time::Instant,
    /// Since when containers have been outstanding.
    asking_since: Option<std::time::Instant>,
    /// What the ResourceManager last said the application may still get.
    headroom: Option<Resource>,
    nms: HashMap<NodeId, NmClient>,
    /// What the AM registered with: host, RPC port, tracking URL.
    registration: (String, i32, String),
    /// Per-job mode: the application ends with the first job.
    per_job: bool,
    /// Containers of earlier attempts whose TaskManager has not registered here yet, since when.
    adopted: HashMap<ContainerId, std::time::Instant>,
}

impl Session<'_> {
    /// Heartbeats until the session should end; returns the final status.
    fn run(&mut self, stopped: &AtomicBool) -> (FinalStatus, String) {
        let mut errors = 0;
        let mut last_allocate: Option<std::time::Instant> = None;
        loop {
            if stopped.load(Ordering::SeqCst) {
                return (FinalStatus::Killed, "the session was stopped".into());
            }
            self.check_adopted();
            let demand = self.handle.demand();
            let hosts: Vec<String> = self.running.values().map(|c| c.node_id.host.clone()).collect();
            self.book.plan(&demand, &hosts);
            self.release_idle(self.book.target(&demand));
            let asks = self.book.changed_asks(TM_PRIORITY, self.capability);
            if !asks.is_empty() {
                let on: Vec<String> = asks
                    .iter()
                    .map(|a| format!("{}={}", a.resource_name, a.num_containers))
                    .collect();
                info!(
                    running = self.running.len(),
                    target = self.book.target(&demand),
                    slots = demand.slots,
                    asks = on.join(" "),
                    "asking for TaskManager containers"
                );
            }
            let quiet = asks.is_empty() && self.releases.is_empty() && self.book.outstanding() == 0;
            if quiet && last_allocate.is_some_and(|t| t.elapsed() < HEARTBEAT) {
                self.report_pending(self.book.target(&demand));
                if let Some(end) = self.job_end() {
                    sleep_unless(stopped, PER_JOB_LINGER);
                    return end;
                }
                sleep_unless(stopped, TICK);
                continue;
            }
            last_allocate = Some(std::time::Instant::now());
            let request = AllocateRequest {
                releases: std::mem::take(&mut self.releases),
                progress: 0.0,
                asks,
            };
            let got = match self.am.allocate(&request) {
                Ok(got) => {
                    errors = 0;
                    got
                }
                Err(e) => {
                    errors += 1;
                    warn!("allocate failed: {e}");
                    if errors > 10 {
                        return (FinalStatus::Failed, format!("lost the ResourceManager: {e}"));
                    }
                    // The asks and releases were not received: send them again.
                    self.book.unsent();
                    self.releases.extend(request.releases);
                    sleep_unless(stopped, HEARTBEAT);
                    continue;
                }
            };
            if got.command == Some(AmCommand::Resync) {
                // The RM lost this attempt's state (it restarted): register again, ask again.
                warn!("the ResourceManager asked to resync; registering again");
                if let Err(e) = self.am.register_application_master(
                    &self.registration.0,
                    self.registration.1,
                    &self.registration.2,
                ) {
                    return (FinalStatus::Failed, format!("re-registering failed: {e}"));
                }
                self.book.forget();
                continue;
            }
            if got.command == Some(AmCommand::Shutdown) {
                return (
                    FinalStatus::Killed,
                    "the ResourceManager ordered a shutdown".into(),
                );
            }
            for c in got.allocated {
                match self.book.allocated(&c.node_id.host) {
                    Match::Start => self.start(c),
                    Match::Surplus => {
                        info!(container = %c.id, node = %c.node_id, "releasing a surplus container");
                        self.releases.push(c.id);
                    }
                }
            }
            self.headroom = Some(got.available);
            for s in got.completed {
                if self.running.remove(&s.id).is_some() {
                    self.failed += 1;
                    warn!(container = %s.id, exit = s.exit_status, diagnostics = s.diagnostics.trim(), "a TaskManager container ended; replacing it");
                    if self.failed > MAX_FAILED_CONTAINERS {
                        return (
                            FinalStatus::Failed,
                            format!(
                                "{} TaskManager containers failed; the last: {}",
                                self.failed,
                                s.diagnostics.trim()
                            ),
                        );
                    }
                }
            }
            self.report_pending(self.book.target(&demand));
            if let Some(failure) = self.starved() {
                return (FinalStatus::Failed, failure);
            }
            if let Some(end) = self.job_end() {
                // The submitting client polls the job's state; keep the JobManager up long
                // enough for it to read the final one before the application ends.
                sleep_unless(stopped, PER_JOB_LINGER);
                return end;
            }
            sleep_unless(stopped, TICK);
        }
    }

    /// Per-job: the failure when YARN has not given the job's containers within the start-up
    /// timeout, saying what was asked for and what YARN said is left.
    fn starved(&mut self) -> Option<String> {
        let outstanding = self.book.outstanding();
        if !self.per_job || outstanding <= 0 {
            self.asking_since = None;
            return None;
        }
        let since = *self.asking_since.get_or_insert_with(std::time::Instant::now);
        if since.elapsed() < self.start_timeout {
            return None;
        }
        let headroom = self.headroom.map_or(String::new(), |h| {
            format!(
                "; YARN says the application may still get {} MB and {} vcores",
                h.memory_mb, h.vcores
            )
        });
        Some(format!(
            "YARN did not give {outstanding} of the job's TaskManager containers ({} MB, {} vcore(s) each) within {:?} ({}){headroom}: free resources in the queue or ask for smaller containers",
            self.capability.memory_mb,
            self.capability.vcores,
            self.start_timeout,
            keys::YARN_APPLICATION_START_TIMEOUT.spec.name
        ))
    }

    /// Tells the JobManager how many slots are on their way: those of the containers the demand
    /// calls for whose TaskManager has not registered (asked for, starting, or replacing one
    /// that ended).
    fn report_pending(&self, target: u32) {
        let registered: HashSet<String> = self
            .handle
            .taskmanagers()
            .into_iter()
            .map(|t| t.resource_id)
            .collect();
        let up = self
            .running
            .keys()
            .filter(|id| registered.contains(&id.to_string()))
            .count();
        let missing = u32::try_from((target as usize).saturating_sub(up)).unwrap_or(u32::MAX);
        self.handle.set_pending_slots(missing.saturating_mul(self.slots));
    }

    /// Stops the containers of earlier attempts whose TaskManager did not register in time (they
    /// are asked for again).
    fn check_adopted(&mut self) {
        if self.adopted.is_empty() {
            return;
        }
        let registered: HashSet<String> = self
            .handle
            .taskmanagers()
            .into_iter()
            .map(|t| t.resource_id)
            .collect();
        self.adopted.retain(|id, _| !registered.contains(&id.to_string()));
        let late: Vec<ContainerId> = self
            .adopted
            .iter()
            .filter(|(_, since)| since.elapsed() > ADOPTION_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.adopted.remove(&id);
            if let Some(c) = self.running.remove(&id) {
                warn!(container = %id, "the TaskManager of an earlier attempt did not register within {ADOPTION_TIMEOUT:?}; replacing it");
                if let Ok(nm) = self.nm(&c.node_id) {
                    let _ = nm.stop_container(c.id);
                }
                self.releases.push(id);
            }
        }
    }

    /// Stops TaskManagers idle for the timeout while more run than `target`.
    fn release_idle(&mut self, target: u32) {
        let mut excess = self.running.len().saturating_sub(target as usize);
        if excess == 0 {
            return;
        }
        for tm in self.handle.taskmanagers() {
            if excess == 0 {
                break;
            }
            if tm.idle_for.is_none_or(|d| d < self.idle_timeout) {
                continue;
            }
            let Some((&id, _)) = self
                .running
                .iter()
                .find(|(id, _)| id.to_string() == tm.resource_id)
            else {
                continue;
            };
            let reason = format!(
                "idle for {:?} (resourcemanager.taskmanager-timeout)",
                self.idle_timeout
            );
            if !self.handle.retire(&tm.id, &reason) {
                continue;
            }
            if let Some(c) = self.running.remove(&id) {
                info!(container = %id, taskmanager = %tm.id, "releasing an idle TaskManager");
                if let Ok(nm) = self.nm(&c.node_id) {
                    if let Err(e) = nm.stop_container(c.id) {
                        warn!(container = %c.id, "cannot stop: {e}");
                    }
                }
                self.releases.push(id);
                excess -= 1;
            }
        }
    }

    /// Per-job mode: the final status once the (first) job ended, with its error.
    fn job_end(&self) -> Option<(FinalStatus, String)> {
        if !self.per_job {
            return None;
        }
        let Some(job) = self.handle.jobs().into_iter().next() else {
            // No job: the client did not submit it, or a new attempt could not recover it.
            if self.started.elapsed() > self.start_timeout {
                return Some((
                    FinalStatus::Failed,
                    format!(
                        "the per-job application has no job {:?} after the ApplicationMaster started ({}): the job was not submitted, or this attempt could not recover it (see jobmanager.log)",
                        self.start_timeout,
                        keys::YARN_APPLICATION_START_TIMEOUT.spec.name
                    ),
                ));
            }
            return None;
        };
        let status = match job.state.as_str() {
            "FINISHED" => FinalStatus::Succeeded,
            "FAILED" => FinalStatus::Failed,
            "CANCELED" => FinalStatus::Killed,
            _ => return None,
        };
        let mut diagnostics = format!("job {} ({}) ended {}", job.id, job.name, job.state);
        if let (FinalStatus::Failed, Some(f)) = (status, &job.failure) {
            diagnostics.push_str(": ");
            diagnostics.push_str(f);
        }
        Some((status, diagnostics))
    }

    /// Starts a TaskManager in `container`; on failure the container is released (and asked for
    /// again by the next heartbeat).
    fn start(&mut self, container: Container) {
        let host = container.node_id.host.clone();
        let mut commands: Vec<String> = [
            "./spate",
            "taskmanager",
            "-m",
            &self.jobmanager,
            "--host",
            &host,
            "--slots",
            &self.slots.to_string(),
            "--work-dir",
            ".",
            "--resource-id",
            &container.id.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if self.resources.contains_key(crate::yarn_session::CONF_RESOURCE) {
            commands.extend(["-c".to_string(), crate::yarn_session::CONF_RESOURCE.to_string()]);
        }
        if let Some(uri) = &self.jobmanager_file {
            commands.extend(["--jobmanager-file".to_string(), uri.clone()]);
        }
        commands.extend([
            "1><LOG_DIR>/taskmanager.out".to_string(),
            "2><LOG_DIR>/taskmanager.log".to_string(),
        ]);
        // The secret goes in the environment: a command line is visible to every user of the host.
        let mut environment = BTreeMap::from([(role::ENV_SECRET.to_string(), self.secret.clone())]);
        if let Ok(filter) = std::env::var("RUST_LOG") {
            environment.insert("RUST_LOG".to_string(), filter);
        }
        let launch = ContainerLaunchContext {
            commands,
            environment,
            local_resources: self.resources.clone(),
            tokens: None,
        };
        let result = self.nm(&container.node_id).and_then(|nm| {
            nm.start_container(&container, &launch)
                .map_err(|e| anyhow!("{e}"))
        });
        match result {
            Ok(()) => {
                info!(container = %container.id, node = %container.node_id, "started a TaskManager");
                self.running.insert(container.id, container);
            }
            Err(e) => {
                warn!(container = %container.id, "cannot start a TaskManager: {e:#}");
                self.failed += 1;
                self.releases.push(container.id);
            }
        }
    }

    fn nm(&mut self, node: &NodeId) -> Result<&NmClient> {
        if !self.nms.contains_key(node) {
            let token = self
                .am
                .nm_token(node)
                .ok_or_else(|| anyhow!("no NMToken for {node}"))?;
            let nm = NmClient::connect(node, token).map_err(|e| anyhow!("{e}"))?;
            self.nms.insert(node.clone(), nm);
        }
        self.nms
            .get(node)
            .ok_or_else(|| anyhow!("no NodeManager client for {node}"))
    }

    fn stop_containers(&mut self) {
        let running = std::mem::take(&mut self.running);
        for c in running.values() {
            if let Ok(nm) = self.nm(&c.node_id) {
                if let Err(e) = nm.stop_container(c.id) {
                    warn!(container = %c.id, "cannot stop: {e}");
                }
            }
        }
    }
}

/// The application's staging directory in HDFS.
fn staging_dir(am: &AmRmClient) -> Result<spate_yarn::Staging> {
    let app = am
        .attempt_id()
        .ok_or_else(|| anyhow!("the AMRMToken names no application attempt"))?
        .application;
    let yarn = spate_yarn::YarnConf::from_env().map_err(|e| anyhow!("{e}"))?;
    let user = spate_hadoop_ipc::namenode::current_user();
    spate_yarn::Staging::create(yarn.hadoop(), &user, app).map_err(|e| anyhow!("{e}"))
}

/// `<fs.defaultFS>/user/<user>/.spate/checkpoints`: where jobs of a YARN application keep their
/// checkpoints by default (each in `<job-id>/`; it outlives the application, so that a failed or
/// cancelled job can be resumed with `--from-savepoint`).
fn default_checkpoint_dir() -> Result<String> {
    let yarn = spate_yarn::YarnConf::from_env().map_err(|e| anyhow!("{e}"))?;
    let user = spate_hadoop_ipc::namenode::current_user();
    let fs = yarn
        .hadoop()
        .get("fs.defaultFS")
        .filter(|f| f.starts_with("hdfs://"))
        .ok_or_else(|| anyhow!("fs.defaultFS is not an hdfs:// URI"))?;
    Ok(format!(
        "{}/user/{user}/.spate/checkpoints",
        fs.trim_end_matches('/')
    ))
}

/// Name of the job store in the staging directory (`high-availability.storageDir`).
const JOB_STORE: &str = "jobs";

/// Name of the file in the staging directory holding the JobManager's RPC address.
const JOBMANAGER_FILE: &str = "jobmanager-address";

/// Sleeps `d`, waking early when `stopped` is set.
fn sleep_unless(stopped: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < d && !stopped.load(Ordering::SeqCst) {
        std::thread::sleep(step);
        slept += step;
    }
}
