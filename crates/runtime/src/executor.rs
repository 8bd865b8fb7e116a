//! The embedded executor: an in-process cluster with a number of task slots.
//!
//! `submit` plans the job, prepares sinks, creates every consumer channel and split enumerator,
//! then starts a job thread (`spate-job <name>`) that schedules subtasks into slots:
//! - **streaming**: every subtask runs at once; with slot sharing one slot holds one subtask of
//!   each vertex, so the job needs as many slots as its highest parallelism.
//! - **batch**: a vertex becomes ready when every producer of its inputs has finished (its blocking
//!   partitions are complete); ready subtasks take free slots one each, so a job runs with fewer
//!   slots than its total parallelism.
//!
//! The first failure cancels the job: every subtask sees the cancel flag within
//! [`CANCEL_POLL`](crate::channel) and ends; the job then reports the failure with the operator's
//! name and message.

use crate::checkpoint::coordinator::{CheckpointCoordinator, StateWriter, TaskAck};
use crate::checkpoint::storage::RestoredCheckpoint;
use crate::checkpoint::{CheckpointConfig, CheckpointId, TaskCheckpoints};
use crate::code::{ChannelSpec, ErasedEnumerator, ErasedRx, ErasedSplit, JobCode, NodeCode, SplitProvider};
use crate::context::{JobControl, TaskContext};
use crate::error::{Error, Result, TaskFailure};
use crate::metrics::{JobResult, JobStatus, OperatorCounters, OperatorMetrics};
use crate::source::SplitAssignment;
use crate::task::{run_subtask, ChannelTable, SubtaskEnd, SubtaskInputs};
use spate_common::config::{keys, Configuration};
use spate_common::ids::{JobId, OperatorId, VertexId};
use spate_common::task::spawn_named;
use spate_graph::planner::automatic_mode;
use spate_graph::{plan, ExecutionMode, JobGraph, StreamGraph};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long a cancelled job waits for its subtasks before it gives up on them.
const CANCEL_GRACE: Duration = Duration::from_secs(30);

/// A job ready to run: its graph, its code and its configuration.
pub struct JobSubmission {
    /// Job name.
    pub name: String,
    /// Logical graph.
    pub graph: StreamGraph,
    /// Code by id.
    pub code: JobCode,
    /// Configuration.
    pub config: Configuration,
}

/// The execution mode a configuration and graph resolve to.
pub fn resolve_mode(config: &Configuration, graph: &StreamGraph) -> ExecutionMode {
    match config.get(&keys::RUNTIME_MODE).as_str() {
        "STREAMING" => ExecutionMode::Streaming,
        "BATCH" => ExecutionMode::Batch,
        _ => automatic_mode(graph),
    }
}

/// Plans a submission: its execution mode and job graph.
pub fn plan_submission(sub: &JobSubmission) -> Result<(ExecutionMode, JobGraph)> {
    let mode = resolve_mode(&sub.config, &sub.graph);
    let max_parallelism = sub.config.get(&keys::MAX_PARALLELISM) as u32;
    Ok((mode, plan(&sub.graph, mode, max_parallelism)?))
}

/// A running job.
pub struct JobHandle {
    /// Job id.
    pub job_id: JobId,
    control: Arc<JobControl>,
    thread: JoinHandle<Result<JobResult>>,
}

impl JobHandle {
    /// Asks the job to stop; `wait` then returns [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// Waits for the job's end.
    pub fn wait(self) -> Result<JobResult> {
        self.thread.join().unwrap_or_else(|p| {
            Err(Error::Internal(format!(
                "job thread panicked: {}",
                crate::failure::payload_message(&*p)
            )))
        })
    }
}

/// Runs jobs inside this process.
#[derive(Debug, Default)]
pub struct LocalExecutor;

/// A source's enumerator, shared by its readers. `trigger` is the job's checkpoint trigger: a
/// reader that has not yet injected the barrier of the checkpoint being started waits for its
/// next split (see [`SplitProvider::assign`]).
struct EnumeratorProvider {
    enumerator: Mutex<(Box<dyn ErasedEnumerator>, CheckpointId)>,
}

impl SplitProvider for EnumeratorProvider {
    fn assign(&self, subtask: u32, host: Option<&str>, barrier: u64) -> SplitAssignment<ErasedSplit> {
        match self.enumerator.lock() {
            // The enumerator's snapshot of a checkpoint was taken (the valve) but this reader has
            // not injected that checkpoint's barrier: a split now would be in both snapshots.
            Ok(e) if barrier < e.1 => SplitAssignment::Wait,
            Ok(mut e) => e.0.assign(subtask, host),
            Err(_) => SplitAssignment::NoMoreSplits,
        }
    }
}

impl EnumeratorProvider {
    fn stats(&self) -> Option<crate::source::SplitStats> {
        self.enumerator.lock().ok()?.0.assignment_stats()
    }
    /// The unassigned splits for checkpoint `id`; from now on readers before its barrier wait.
    fn snapshot(&self, id: CheckpointId) -> Result<Vec<Vec<u8>>> {
        match self.enumerator.lock() {
            Ok(mut e) => {
                let s = e.0.snapshot()?;
                e.1 = e.1.max(id);
                Ok(s)
            }
            Err(_) => Err(Error::Internal("split enumerator poisoned".into())),
        }
    }
}

/// Checkpointing of a running embedded job.
struct Checkpointing {
    /// `None` when the job restores state but takes no checkpoints.
    coordinator: Option<(CheckpointCoordinator, StateWriter)>,
    trigger: Arc<AtomicU64>,
    mode: crate::checkpoint::CheckpointingMode,
    restored: Option<RestoredCheckpoint>,
}

impl Checkpointing {
    fn responder(&self, v: VertexId) -> Arc<dyn crate::checkpoint::CheckpointResponder> {
        match &self.coordinator {
            Some((_, w)) => w.responder(v),
            None => Arc::new(crate::checkpoint::NoCheckpoints),
        }
    }
}

struct Shared {
    job: JobGraph,
    code: JobCode,
    channels: ChannelTable,
    metrics: BTreeMap<OperatorId, OperatorMetrics>,
}

impl LocalExecutor {
    /// Runs a job to its end.
    pub fn execute(&self, submission: JobSubmission) -> Result<JobResult> {
        self.submit(submission)?.wait()
    }

    /// Plans and starts a job; returns at once.
    pub fn submit(&self, sub: JobSubmission) -> Result<JobHandle> {
        let start = Instant::now();
        let job_id = JobId::generate();
        let config = Arc::new(sub.config);
        let mode = resolve_mode(&config, &sub.graph);
        let max_parallelism = config.get(&keys::MAX_PARALLELISM) as u32;
        let job = plan(&sub.graph, mode, max_parallelism)?;
        let slots = config
            .get_opt(&keys::TASK_SLOTS)
            .map(|s| s as u32)
            .unwrap_or_else(|| job.max_parallelism());
        if mode == ExecutionMode::Streaming && slots < job.max_parallelism() {
            return Err(Error::Resources(format!(
                "a streaming job needs {} task slots (its highest parallelism) but only {slots} are configured (taskmanager.numberOfTaskSlots)",
                job.max_parallelism()
            )));
        }
        let spill_dir = match config.get_opt(&keys::TMP_DIRS).filter(|d| !d.is_empty()) {
            Some(d) => {
                let p = PathBuf::from(d);
                if !p.is_dir() {
                    return Err(Error::Other(format!(
                        "io.tmp.dirs: '{}' is not a directory",
                        p.display()
                    )));
                }
                p
            }
            None => std::env::temp_dir(),
        };

        // Counters for every operator that runs.
        let mut metrics = BTreeMap::new();
        for v in &job.vertices {
            for op in &v.operators {
                metrics.insert(
                    op.operator,
                    OperatorMetrics {
                        id: op.operator,
                        name: op.name.clone(),
                        subtasks: (0..v.parallelism)
                            .map(|_| Arc::new(OperatorCounters::default()))
                            .collect(),
                    },
                );
            }
        }

        // Checkpoints (streaming only), and the checkpoint or savepoint the job starts from.
        let checkpoint_cfg = match mode {
            ExecutionMode::Streaming => CheckpointConfig::from_config(&config)?,
            ExecutionMode::Batch => None,
        };
        let restored = match config
            .get_opt(&keys::SAVEPOINT_PATH)
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) if mode == ExecutionMode::Streaming => {
                let path = crate::checkpoint::storage::resolve_restore_path(path.trim())?;
                let r = crate::checkpoint::load_for_job(
                    &path,
                    &job,
                    max_parallelism,
                    config.get(&keys::SAVEPOINT_IGNORE_UNCLAIMED),
                )?;
                info!(job = %sub.name, "restoring from {}", r.dir);
                Some(r)
            }
            Some(_) => {
                return Err(Error::Other(
                    "execution.savepoint.path: only streaming jobs start from a savepoint".into(),
                ))
            }
            None => None,
        };
        let trigger = Arc::new(AtomicU64::new(0));

        // Sinks prepare their destinations (or recover them to the restored checkpoint); sources
        // create their enumerators (or restore them).
        let enumerators: HashMap<VertexId, Arc<EnumeratorProvider>> =
            crate::checkpoint::prepare_job(&job, &sub.code, &config, restored.as_ref())?
                .into_iter()
                .map(|(v, e)| {
                    let provider = EnumeratorProvider {
                        enumerator: Mutex::new((e, 0)),
                    };
                    (v, Arc::new(provider))
                })
                .collect();

        // One channel per consumer subtask.
        let buffers_per_channel = config.get(&keys::BUFFERS_PER_CHANNEL) as usize;
        let memory_budget = config.get(&keys::BLOCKING_SHUFFLE_MEMORY).0;
        let mut channels = ChannelTable::new();
        let mut receivers: HashMap<(VertexId, u32), ErasedRx> = HashMap::new();
        for v in &job.vertices {
            let Some(mode) = job.inputs_of(v.id).next().map(|e| e.mode) else {
                continue;
            };
            let NodeCode::Operator(c) = sub.code.node(v.head())? else {
                return Err(Error::Internal(format!(
                    "vertex {} has inputs but its head is not an operator",
                    v.name
                )));
            };
            for j in 0..v.parallelism {
                let producers = job.producers_of(v.id, j);
                let spec = ChannelSpec {
                    mode,
                    capacity: buffers_per_channel * producers.max(1) as usize,
                    producers,
                    memory_budget,
                    spill_dir: spill_dir.clone(),
                };
                let (tx, rx) = c.input().channel(&spec);
                channels.insert((v.id, j), tx);
                receivers.insert((v.id, j), rx);
            }
        }

        info!(job = %sub.name, id = %job_id, ?mode, slots, subtasks = job.total_subtasks(), "job submitted");
        for v in &job.vertices {
            info!(job = %sub.name, "  vertex {} (parallelism {})", v.name, v.parallelism);
        }
        let control = Arc::new(JobControl::default());
        let (events_tx, events_rx) = crossbeam_channel::unbounded::<Event>();
        let checkpointing = match checkpoint_cfg {
            Some(cfg) => {
                let mode = cfg.mode;
                let dir = cfg.dir.clone();
                let mut coordinator = CheckpointCoordinator::new(
                    cfg,
                    &job_id.to_string(),
                    max_parallelism,
                    crate::checkpoint::vertex_specs(&job),
                )?;
                if let Some(r) = &restored {
                    coordinator.set_restored(&r.dir);
                }
                let acks = events_tx.clone();
                let writer = StateWriter::start(
                    &dir,
                    &job_id.to_string(),
                    Arc::new(move |id, ack| {
                        let _ = acks.send(Event::Ack(id, Box::new(ack)));
                    }),
                )?;
                Some(Checkpointing {
                    coordinator: Some((coordinator, writer)),
                    trigger: trigger.clone(),
                    mode,
                    restored,
                })
            }
            None => restored.map(|r| Checkpointing {
                coordinator: None,
                trigger: trigger.clone(),
                mode: crate::checkpoint::CheckpointingMode::ExactlyOnce,
                restored: Some(r),
            }),
        };
        let shared = Arc::new(Shared {
            job,
            code: sub.code,
            channels,
            metrics,
        });
        let host = config.get_opt(&keys::TASKMANAGER_HOST).filter(|h| !h.is_empty());
        let driver = Driver {
            name: sub.name.clone(),
            host: host.unwrap_or_else(local_host_name),
            job_id,
            mode,
            slots,
            config,
            control: control.clone(),
            shared,
            receivers,
            enumerators,
            checkpointing,
            events: (events_tx, events_rx),
            start,
        };
        let thread = spawn_named(format!("spate-job {}", sub.name), move || driver.run())
            .map_err(|e| Error::io("cannot start the job thread", e))?;
        Ok(JobHandle {
            job_id,
            control,
            thread,
        })
    }
}

/// This machine's host name (`$HOSTNAME`, `/etc/hostname`, else `localhost`).
pub fn local_host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

struct Driver {
    name: String,
    host: String,
    job_id: JobId,
    mode: ExecutionMode,
    slots: u32,
    config: Arc<Configuration>,
    control: Arc<JobControl>,
    shared: Arc<Shared>,
    receivers: HashMap<(VertexId, u32), ErasedRx>,
    enumerators: HashMap<VertexId, Arc<EnumeratorProvider>>,
    checkpointing: Option<Checkpointing>,
    events: (
        crossbeam_channel::Sender<Event>,
        crossbeam_channel::Receiver<Event>,
    ),
    start: Instant,
}

enum Event {
    Ended(VertexId, u32, SubtaskEnd),
    Ack(CheckpointId, Box<TaskAck>),
}

impl Driver {
    fn run(mut self) -> Result<JobResult> {
        let job = &self.shared.job;
        let mut pending: VecDeque<(VertexId, u32)> = job
            .vertices
            .iter()
            .flat_map(|v| (0..v.parallelism).map(move |j| (v.id, j)))
            .collect();
        let mut finished: HashMap<VertexId, u32> = HashMap::new();
        let mut running = 0u32;
        let mut failure: Option<TaskFailure> = None;
        let mut cancelled_at: Option<Instant> = None;
        let (events_tx, events) = self.events.clone();
        let progress_every = self.config.get(&keys::PROGRESS_INTERVAL);
        let mut last_progress = (Instant::now(), 0u64);
        let mut threads = Vec::new();

        loop {
            if cancelled_at.is_none() && self.control.is_cancelled() {
                cancelled_at = Some(Instant::now());
            }
            // Launch what may run.
            while cancelled_at.is_none() {
                let pos = pending.iter().position(|(v, _)| self.ready(*v, &finished));
                let Some(pos) = pos else { break };
                if self.mode == ExecutionMode::Batch && running >= self.slots {
                    break;
                }
                let Some((v, j)) = pending.remove(pos) else { break };
                threads.push(self.launch(v, j, events_tx.clone())?);
                running += 1;
            }
            if running == 0 {
                if failure.is_some() || cancelled_at.is_some() || pending.is_empty() {
                    break;
                }
                return Err(Error::Internal("no subtask can run: scheduling deadlock".into()));
            }
            let wait = if progress_every.is_zero() {
                Duration::from_secs(1)
            } else {
                progress_every.min(Duration::from_secs(1))
            };
            let wait = match self.checkpointing.as_ref().and_then(|c| c.coordinator.as_ref()) {
                Some((c, _)) if c.config().interval.is_some() => wait.min(Duration::from_millis(20)),
                _ => wait,
            };
            if cancelled_at.is_none() && failure.is_none() {
                // Checkpoints run while every subtask runs (a finished source injects no barrier).
                let all_running = pending.is_empty() && finished.is_empty();
                if let Err(f) = self.checkpoint_tick(all_running) {
                    warn!(job = %self.name, "{f}; cancelling the job");
                    failure = Some(f);
                    self.control.cancel();
                }
            }
            match events.recv_timeout(wait) {
                Ok(Event::Ack(id, ack)) => {
                    if let Err(f) = self.acknowledged(id, *ack) {
                        if failure.is_none() {
                            warn!(job = %self.name, "{f}; cancelling the job");
                            failure = Some(f);
                            self.control.cancel();
                        }
                    }
                }
                Ok(Event::Ended(v, j, end)) => {
                    running -= 1;
                    if end == SubtaskEnd::Finished {
                        self.release_input(v, j);
                    }
                    match end {
                        SubtaskEnd::Finished => *finished.entry(v).or_default() += 1,
                        SubtaskEnd::Cancelled => {}
                        SubtaskEnd::Failed(f) => {
                            if failure.is_none() {
                                warn!(job = %self.name, "{f}; cancelling the job");
                                failure = Some(f);
                                self.control.cancel();
                            }
                        }
                    }
                }
                Err(_) => {
                    if let Some(at) = cancelled_at {
                        if at.elapsed() > CANCEL_GRACE {
                            warn!(job = %self.name, running, "subtasks did not stop within {CANCEL_GRACE:?}; abandoning them");
                            break;
                        }
                    }
                }
            }
            if !progress_every.is_zero() && last_progress.0.elapsed() >= progress_every {
                last_progress = self.log_progress(last_progress, running, &finished);
            }
        }
        for t in threads {
            if t.is_finished() {
                let _ = t.join();
            }
        }
        if let Some((c, _)) = self.checkpointing.as_mut().and_then(|c| c.coordinator.as_mut()) {
            if failure.is_none() && cancelled_at.is_none() {
                c.discard_all();
            } else {
                c.abort_all("the job ended");
            }
        }
        let mut status = if failure.is_some() {
            JobStatus::Failed
        } else if cancelled_at.is_some() {
            JobStatus::Cancelled
        } else {
            JobStatus::Finished
        };
        // Sinks commit (or discard) their output once every subtask has ended.
        for v in &self.shared.job.vertices {
            for op in &v.operators {
                let Ok(NodeCode::Operator(code)) = self.shared.code.node(op.operator) else {
                    continue;
                };
                if let Err(e) = code.finalize(status == JobStatus::Finished) {
                    if status == JobStatus::Finished {
                        status = JobStatus::Failed;
                        failure = Some(TaskFailure {
                            operator: op.name.clone(),
                            subtask: 0,
                            parallelism: v.parallelism,
                            message: format!("cannot commit the output: {e}"),
                        });
                    } else {
                        warn!(job = %self.name, operator = %op.name, "cannot clean up the output: {e}");
                    }
                }
            }
        }
        let result = JobResult {
            job_id: self.job_id,
            job_name: self.name.clone(),
            status,
            duration: self.start.elapsed(),
            operators: self.shared.metrics.values().map(OperatorMetrics::stats).collect(),
            splits: self
                .enumerators
                .values()
                .filter_map(|e| e.stats())
                .fold(None, |acc, s| {
                    let mut total: crate::source::SplitStats = acc.unwrap_or_default();
                    total.add(&s);
                    Some(total)
                }),
        };
        info!(job = %self.name, status = ?status, seconds = result.duration.as_secs_f64(), "job ended");
        match (failure, status) {
            (Some(failure), _) => Err(Error::JobFailed {
                failure,
                result: Box::new(result),
            }),
            (None, JobStatus::Cancelled) => Err(Error::Cancelled(self.name)),
            _ => Ok(result),
        }
    }

    /// Starts a checkpoint if one is due; expires old ones.
    fn checkpoint_tick(&mut self, all_running: bool) -> std::result::Result<(), TaskFailure> {
        let Some(c) = &mut self.checkpointing else {
            return Ok(());
        };
        let trigger = c.trigger.clone();
        let Some((coordinator, _)) = &mut c.coordinator else {
            return Ok(());
        };
        let now = Instant::now();
        coordinator.expire(now);
        if !all_running || !coordinator.is_due(now) {
            return Ok(());
        }
        let id = coordinator.begin();
        // The enumerators' states first (readers that have not injected this barrier get no new
        // split from then on), then the sources inject the barrier.
        let mut states = Vec::new();
        for v in &self.shared.job.vertices {
            if let Some(e) = self.enumerators.get(&v.id) {
                match e.snapshot(id) {
                    Ok(s) => states.push((v.head(), s)),
                    Err(e) => {
                        coordinator.abort(id, &format!("source '{}': {e}", v.name));
                        // Readers held back by a valve already closed go on past this barrier.
                        trigger.store(id, Ordering::Release);
                        return Ok(());
                    }
                }
            }
        }
        coordinator.set_enumerators(id, states);
        trigger.store(id, Ordering::Release);
        Ok(())
    }

    /// A subtask stored its snapshot; a completed checkpoint is committed by the sinks.
    fn acknowledged(&mut self, id: CheckpointId, ack: TaskAck) -> std::result::Result<(), TaskFailure> {
        let Some((coordinator, _)) = self.checkpointing.as_mut().and_then(|c| c.coordinator.as_mut()) else {
            return Ok(());
        };
        let done = match coordinator.acknowledge(id, ack) {
            Ok(Some(done)) => done,
            Ok(None) => return Ok(()),
            Err(e) => {
                warn!(job = %self.name, checkpoint = id, "checkpoint failed: {e}");
                return Ok(());
            }
        };
        for (op, staged) in done.committables {
            let Ok(NodeCode::Operator(code)) = self.shared.code.node(op) else {
                continue;
            };
            if let Err(e) = code.commit(staged) {
                let name = self
                    .shared
                    .metrics
                    .get(&op)
                    .map_or_else(|| op.to_string(), |m| m.name.clone());
                return Err(TaskFailure {
                    operator: name,
                    subtask: 0,
                    parallelism: 1,
                    message: format!("cannot commit checkpoint {id}: {e}"),
                });
            }
        }
        Ok(())
    }

    /// A finished consumer's blocking partition is freed at once (not at the end of the job).
    fn release_input(&self, v: VertexId, j: u32) {
        let vertex = self.shared.job.vertex(v);
        if let (Some(tx), Ok(NodeCode::Operator(c))) = (
            self.shared.channels.get(&(v, j)),
            self.shared.code.node(vertex.head()),
        ) {
            c.input().release(tx);
        }
    }

    fn ready(&self, v: VertexId, finished: &HashMap<VertexId, u32>) -> bool {
        match self.mode {
            ExecutionMode::Streaming => true,
            ExecutionMode::Batch => self.shared.job.inputs_of(v).all(|e| {
                finished.get(&e.source).copied().unwrap_or(0) == self.shared.job.vertex(e.source).parallelism
            }),
        }
    }

    fn launch(
        &mut self,
        v: VertexId,
        j: u32,
        events: crossbeam_channel::Sender<Event>,
    ) -> Result<JoinHandle<()>> {
        let vertex = self.shared.job.vertex(v);
        let ctx = TaskContext {
            job_name: self.name.clone(),
            task_name: vertex.name.clone(),
            subtask: j,
            parallelism: vertex.parallelism,
            max_parallelism: self.config.get(&keys::MAX_PARALLELISM) as u32,
            mode: self.mode,
            batch_size: self.config.get(&keys::RECORDS_PER_BATCH) as usize,
            buffer_timeout: self.config.get(&keys::BUFFER_TIMEOUT),
            host: Some(self.host.clone()),
            config: self.config.clone(),
            control: self.control.clone(),
            execution: 0,
            checkpoints: self.checkpointing.as_ref().map(|c| {
                Arc::new(TaskCheckpoints {
                    vertex: v,
                    trigger: c.trigger.clone(),
                    mode: c.mode,
                    restored: crate::checkpoint::restored_for(c.restored.as_ref(), vertex, j),
                    responder: c.responder(v),
                })
            }),
        };
        let inputs = SubtaskInputs {
            ctx,
            vertex: v,
            rx: self.receivers.remove(&(v, j)),
            splits: self
                .enumerators
                .get(&v)
                .map(|e| e.clone() as Arc<dyn SplitProvider>),
            io: Arc::default(),
        };
        let shared = self.shared.clone();
        let name = format!("spate-task {} ({}/{})", vertex.name, j + 1, vertex.parallelism);
        spawn_named(name, move || {
            let counters = |op: OperatorId, s: u32| {
                shared
                    .metrics
                    .get(&op)
                    .and_then(|m| m.subtasks.get(s as usize).cloned())
                    .unwrap_or_default()
            };
            let end = run_subtask(&shared.job, &shared.code, &shared.channels, &counters, inputs);
            let _ = events.send(Event::Ended(v, j, end));
        })
        .map_err(|e| Error::io("cannot start a task thread", e))
    }

    fn log_progress(
        &self,
        last: (Instant, u64),
        running: u32,
        finished: &HashMap<VertexId, u32>,
    ) -> (Instant, u64) {
        let job = &self.shared.job;
        let read: u64 = job
            .vertices
            .iter()
            .filter(|v| v.is_source)
            .filter_map(|v| self.shared.metrics.get(&v.head()))
            .map(|m| m.stats().records_out)
            .sum();
        let secs = last.0.elapsed().as_secs_f64().max(1e-3);
        let rate = (read.saturating_sub(last.1)) as f64 / secs;
        let done: u32 = finished.values().sum();
        info!(
            job = %self.name,
            "RUNNING: {running} subtasks running, {done}/{} finished; sources emitted {read} records ({rate:.0} records/s)",
            job.total_subtasks()
        );
        (Instant::now(), read)
    }
}
