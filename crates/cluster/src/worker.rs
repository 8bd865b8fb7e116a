//! The job worker: a child process of the job binary, started by a TaskManager, that runs the
//! subtasks the JobManager deploys to that TaskManager.
//!
//! Lifecycle: plan the graph (as `main()` built it), start the data plane, attach to the
//! JobManager with the graph's fingerprint and the data address, then follow the commands on the
//! attach stream:
//! - `StartAttempt`: the placement of every subtask for one attempt of the job. The worker
//!   creates the input channel of each consumer subtask placed here (registered with the data
//!   plane for producers elsewhere) and a remote link for each consumer placed elsewhere.
//! - `Deploy`: run one subtask on its own thread; its end (finished, failed, cancelled) is
//!   reported at once, and the counters of running subtasks every second.
//! - `CancelAttempt`: cancel the attempt's subtasks. `Shutdown`: exit.
//!
//! The worker exits when its TaskManager dies (its stdin closes), when the JobManager's stream
//! ends, or on `Shutdown`; a crash of the worker never takes down the TaskManager.

use crate::client::{self, Client};
use crate::net::{self, ChannelKey, DataPlane, Secret};
use crate::pb;
use crate::role::{self, required_env};
use anyhow::{anyhow, Context as _, Result};
use spate_common::config::keys;
use spate_common::ids::{OperatorId, VertexId};
use spate_common::task::spawn_named;
use spate_graph::{ExchangeMode, ExecutionMode, JobGraph};
use spate_runtime::channel::WasCancelled;
use spate_runtime::checkpoint::coordinator::StateWriter;
use spate_runtime::checkpoint::storage::RestoredCheckpoint;
use spate_runtime::checkpoint::{CheckpointConfig, CheckpointingMode, TaskCheckpoints};
use spate_runtime::code::{ChannelSpec, ErasedRx, ErasedSplit, JobCode, NodeCode, SplitProvider};
use spate_runtime::context::{JobControl, TaskContext};
use spate_runtime::executor::{plan_submission, JobSubmission};
use spate_runtime::metrics::OperatorCounters;
use spate_runtime::remote::{FrameKind, RemoteInbox, RemoteLink, TaskIo};
use spate_runtime::source::SplitAssignment;
use spate_runtime::task::{run_subtask, ChannelTable, SubtaskEnd, SubtaskInputs};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// Runs the worker; returns only on error (the caller exits with it).
pub fn run(sub: JobSubmission) -> Result<()> {
    let job_id = required_env(role::ENV_JOB_ID).map_err(|e| anyhow!(e))?;
    let tm_id = required_env(role::ENV_TASKMANAGER_ID).map_err(|e| anyhow!(e))?;
    let jm = required_env(role::ENV_JOBMANAGER).map_err(|e| anyhow!(e))?;
    let secret = Secret::from_hex(&required_env(role::ENV_SECRET).map_err(|e| anyhow!(e))?)
        .map_err(|e| anyhow!("{}: {e}", role::ENV_SECRET))?;
    let host = std::env::var(role::ENV_TASKMANAGER_HOST).unwrap_or_else(|_| "127.0.0.1".into());
    crate::exit_when_stdin_closes();

    let (mode, job) = plan_submission(&sub)?;
    let fingerprint = crate::fingerprint(&job)?;
    let config = Arc::new(sub.config.clone());
    let credits = config.get(&keys::BUFFERS_PER_CHANNEL) as u32;
    let data_port = config.get(&keys::TASKMANAGER_DATA_PORT) as u16;
    let bind_ip = crate::resolve_ip(&host).unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    let plane = DataPlane::start(SocketAddr::new(bind_ip, data_port), secret.clone(), credits)
        .or_else(|_| DataPlane::start(SocketAddr::new(bind_ip, 0), secret.clone(), credits))
        .map_err(|e| anyhow!("cannot start the data plane on {bind_ip}: {e}"))?;
    let data_address = plane.local_addr().to_string();

    let rt = client::runtime()?;
    let mut jm_client = rt.block_on(client::connect(&jm, &secret))?;
    let mut stream = rt
        .block_on(jm_client.attach_worker(pb::AttachWorkerRequest {
            job_id: job_id.clone(),
            taskmanager_id: tm_id.clone(),
            data_address: data_address.clone(),
            graph_fingerprint: fingerprint,
        }))
        .map_err(|s| client::status_error("the JobManager refused this worker", s))?
        .into_inner();
    info!(job = %sub.name, %job_id, data = %data_address, "worker attached");

    let job_key = crate::job_key(&job_id);
    // Checkpoints: snapshots are written by this process's state writer, acknowledged over RPC.
    let checkpoints = match mode {
        ExecutionMode::Streaming => CheckpointConfig::from_config(&config)?,
        ExecutionMode::Batch => None,
    };
    let writer = match &checkpoints {
        Some(cfg) => {
            let (client, handle, job) = (jm_client.clone(), rt.handle().clone(), job_id.clone());
            Some(StateWriter::start(
                &cfg.dir,
                &job_id,
                Arc::new(move |id, ack| {
                    let Ok(bytes) = postcard::to_allocvec(&ack) else {
                        return;
                    };
                    let mut client = client.clone();
                    let req = pb::CheckpointAck {
                        job_id: job.clone(),
                        attempt: 0,
                        checkpoint: id,
                        ack: bytes,
                    };
                    if let Err(s) = handle.block_on(client.acknowledge_checkpoint(req)) {
                        warn!(
                            checkpoint = id,
                            "cannot acknowledge the checkpoint: {}",
                            s.message()
                        );
                    }
                }),
            )?)
        }
        None => None,
    };
    let worker = Arc::new(Worker {
        checkpoint_mode: checkpoints.as_ref().map(|c| c.mode),
        writer,
        name: sub.name.clone(),
        job_id,
        tm_id,
        job_key,
        host,
        mode,
        job: Arc::new(job),
        code: Arc::new(sub.code),
        config,
        plane: plane.clone(),
        client: jm_client,
        handle: rt.handle().clone(),
        state: Mutex::new(AttemptState::default()),
    });
    let reporter = worker.clone();
    spawn_named("spate-worker-metrics", move || reporter.report_loop())
        .context("cannot start the metrics thread")?;

    loop {
        let next = rt.block_on(stream.message());
        let cmd = match next {
            Ok(Some(cmd)) => cmd,
            Ok(None) => {
                info!("the JobManager closed the stream; exiting");
                break;
            }
            Err(s) => {
                warn!("lost the JobManager: {}", s.message());
                break;
            }
        };
        match cmd.command {
            Some(pb::worker_command::Command::StartAttempt(a)) => {
                if let Err(e) = worker.start_attempt(&a) {
                    error!("cannot prepare attempt {}: {e:#}", a.attempt);
                    worker.report_now(vec![pb::TaskReport {
                        attempt: a.attempt,
                        // No subtask: the whole attempt failed here.
                        vertex: u32::MAX,
                        state: pb::TaskState::Failed as i32,
                        failure: format!("worker on {}: {e:#}", worker.host),
                        ..Default::default()
                    }]);
                }
            }
            Some(pb::worker_command::Command::Deploy(d)) => worker.deploy(&d),
            Some(pb::worker_command::Command::CancelAttempt(c)) => worker.cancel(c.attempt),
            Some(pb::worker_command::Command::TriggerCheckpoint(t)) => {
                let st = worker.lock();
                if st.attempt == t.attempt {
                    st.trigger.store(t.checkpoint, Ordering::Release);
                }
            }
            Some(pb::worker_command::Command::Shutdown(_)) => break,
            None => {}
        }
    }
    worker.cancel(u32::MAX);
    plane.shutdown();
    Ok(())
}

/// The record counters of each operator of one subtask's chain.
type ChainCounters = Vec<(OperatorId, Arc<OperatorCounters>)>;

#[derive(Default)]
struct AttemptState {
    attempt: u32,
    control: Arc<JobControl>,
    channels: Arc<ChannelTable>,
    receivers: HashMap<(VertexId, u32), ErasedRx>,
    io: HashMap<(VertexId, u32), Arc<TaskIo>>,
    counters: HashMap<(VertexId, u32), ChainCounters>,
    running: HashMap<(VertexId, u32), Instant>,
    /// The attempt's checkpoint trigger (the latest checkpoint its sources are to inject).
    trigger: Arc<AtomicU64>,
    /// The checkpoint or savepoint the attempt starts from.
    restored: Option<Arc<RestoredCheckpoint>>,
}

struct Worker {
    /// Set when the job takes checkpoints.
    checkpoint_mode: Option<CheckpointingMode>,
    writer: Option<StateWriter>,
    name: String,
    job_id: String,
    tm_id: String,
    job_key: u64,
    host: String,
    mode: ExecutionMode,
    job: Arc<JobGraph>,
    code: Arc<JobCode>,
    config: Arc<spate_common::config::Configuration>,
    plane: Arc<DataPlane>,
    client: Client,
    handle: tokio::runtime::Handle,
    state: Mutex<AttemptState>,
}

impl Worker {
    fn lock(&self) -> std::sync::MutexGuard<'_, AttemptState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn start_attempt(&self, a: &pb::StartAttempt) -> Result<()> {
        let mut placed: HashMap<(VertexId, u32), SocketAddr> = HashMap::new();
        for p in &a.placements {
            let addr: SocketAddr = p
                .data_address
                .parse()
                .map_err(|e| anyhow!("bad data address '{}': {e}", p.data_address))?;
            placed.insert((VertexId(p.vertex), p.subtask), addr);
        }
        let me = self.plane.local_addr();
        let restored = match a.restore_dir.as_str() {
            "" => None,
            dir => Some(Arc::new(
                RestoredCheckpoint::load(dir).map_err(|e| anyhow!("cannot restore from {dir}: {e}"))?,
            )),
        };
        let control = Arc::new(JobControl::default());
        let buffers = self.config.get(&keys::BUFFERS_PER_CHANNEL) as usize;
        let memory_budget = self.config.get(&keys::BLOCKING_SHUFFLE_MEMORY).0;
        let spill_dir = match self.config.get_opt(&keys::TMP_DIRS).filter(|d| !d.is_empty()) {
            Some(d) => std::path::PathBuf::from(d),
            None => std::env::temp_dir(),
        };
        let mut channels = ChannelTable::new();
        let mut receivers = HashMap::new();
        let mut io = HashMap::new();
        let mut counters = HashMap::new();
        for v in &self.job.vertices {
            for j in 0..v.parallelism {
                let here = placed.get(&(v.id, j)) == Some(&me);
                if here {
                    io.insert((v.id, j), Arc::new(TaskIo::default()));
                    counters.insert(
                        (v.id, j),
                        v.operators
                            .iter()
                            .map(|o| (o.operator, Arc::new(OperatorCounters::default())))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            let Some(mode) = self.job.inputs_of(v.id).next().map(|e| e.mode) else {
                continue;
            };
            let NodeCode::Operator(c) = self.code.node(v.head())? else {
                return Err(anyhow!(
                    "vertex {} has inputs but its head is not an operator",
                    v.name
                ));
            };
            for j in 0..v.parallelism {
                let key = ChannelKey {
                    job: self.job_key,
                    attempt: a.attempt,
                    vertex: v.id.0,
                    subtask: j,
                };
                let Some(&addr) = placed.get(&(v.id, j)) else {
                    return Err(anyhow!("subtask {j} of {} has no place", v.name));
                };
                if addr == me {
                    let producers = self.job.producers_of(v.id, j);
                    let spec = ChannelSpec {
                        mode,
                        capacity: buffers * producers.max(1) as usize,
                        producers,
                        memory_budget,
                        spill_dir: spill_dir.clone(),
                    };
                    let (tx, rx) = c.input().channel(&spec);
                    let inbox = c.input().inbox(&tx, control.clone())?;
                    let task_io = io.get(&(v.id, j)).cloned().unwrap_or_default();
                    self.plane.register(
                        key,
                        Arc::new(InboxAdapter {
                            inbox,
                            io: task_io,
                            control: control.clone(),
                        }),
                    );
                    channels.insert((v.id, j), tx);
                    receivers.insert((v.id, j), rx);
                } else {
                    let link = Arc::new(Link {
                        plane: self.plane.clone(),
                        peer: addr,
                        key,
                        senders: Mutex::new(HashMap::new()),
                    });
                    channels.insert((v.id, j), c.input().remote_tx(link));
                }
            }
            let _ = mode == ExchangeMode::Blocking;
        }
        let mut st = self.lock();
        st.control.cancel();
        if st.attempt != a.attempt {
            self.plane.release(self.job_key, st.attempt);
        }
        *st = AttemptState {
            attempt: a.attempt,
            control,
            channels: Arc::new(channels),
            receivers,
            io,
            counters,
            running: HashMap::new(),
            trigger: Arc::new(AtomicU64::new(0)),
            restored,
        };
        info!(job = %self.name, attempt = a.attempt, "attempt prepared");
        Ok(())
    }

    fn deploy(self: &Arc<Self>, d: &pb::Deploy) {
        let v = VertexId(d.vertex);
        let j = d.subtask;
        let (ctx, inputs, channels, counters) = {
            let mut st = self.lock();
            if st.attempt != d.attempt {
                return;
            }
            let Some(vertex) = self.job.vertices.get(v.0 as usize) else {
                return;
            };
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
                control: st.control.clone(),
                execution: d.execution,
                checkpoints: (self.checkpoint_mode.is_some() || st.restored.is_some()).then(|| {
                    Arc::new(TaskCheckpoints {
                        vertex: v,
                        trigger: st.trigger.clone(),
                        mode: self.checkpoint_mode.unwrap_or(CheckpointingMode::ExactlyOnce),
                        restored: spate_runtime::checkpoint::restored_for(st.restored.as_deref(), vertex, j),
                        responder: match &self.writer {
                            Some(w) => w.responder(v),
                            None => Arc::new(spate_runtime::checkpoint::NoCheckpoints),
                        },
                    })
                }),
            };
            let splits: Option<Arc<dyn SplitProvider>> = vertex.is_source.then(|| {
                Arc::new(RemoteSplits {
                    worker: self.clone(),
                    attempt: d.attempt,
                    vertex: v,
                }) as Arc<dyn SplitProvider>
            });
            // A blocking input stays here until the subtask finished, so that a failed run can
            // read it again.
            let input = match self.code.node(vertex.head()) {
                Ok(NodeCode::Operator(c)) => Some(c.input()),
                _ => None,
            };
            let rx = match (st.receivers.get(&(v, j)), input) {
                (Some(rx), Some(input)) => input.reopen(rx),
                _ => None,
            }
            .or_else(|| st.receivers.remove(&(v, j)));
            if d.execution > 0 {
                // Counters start again with the run.
                for (_, c) in st.counters.get_mut(&(v, j)).into_iter().flatten() {
                    *c = Arc::default();
                }
            }
            let inputs = SubtaskInputs {
                ctx: ctx.clone(),
                vertex: v,
                rx,
                splits,
                io: st.io.get(&(v, j)).cloned().unwrap_or_default(),
            };
            st.running.insert((v, j), Instant::now());
            let counters = st.counters.get(&(v, j)).cloned().unwrap_or_default();
            (ctx, inputs, st.channels.clone(), counters)
        };
        let me = self.clone();
        let attempt = d.attempt;
        let name = format!("spate-task {} ({}/{})", ctx.task_name, j + 1, ctx.parallelism);
        let job = self.job.clone();
        let code = self.code.clone();
        let spawned = spawn_named(name, move || {
            let lookup = |op: OperatorId, _s: u32| {
                counters
                    .iter()
                    .find(|(o, _)| *o == op)
                    .map(|(_, c)| c.clone())
                    .unwrap_or_default()
            };
            let end = run_subtask(&job, &code, &channels, &lookup, inputs);
            me.ended(attempt, v, j, end);
        });
        if let Err(e) = spawned {
            self.ended(
                attempt,
                v,
                j,
                SubtaskEnd::Failed(spate_runtime::error::TaskFailure {
                    operator: ctx.task_name.clone(),
                    subtask: j,
                    parallelism: ctx.parallelism,
                    message: format!("cannot start a task thread: {e}"),
                }),
            );
        }
    }

    fn ended(&self, attempt: u32, v: VertexId, j: u32, end: SubtaskEnd) {
        let finished = matches!(end, SubtaskEnd::Finished);
        let (state, failure) = match end {
            SubtaskEnd::Finished => (pb::TaskState::Finished, String::new()),
            SubtaskEnd::Cancelled => (pb::TaskState::Canceled, String::new()),
            SubtaskEnd::Failed(f) => (pb::TaskState::Failed, format!("{f} (on {})", self.host)),
        };
        let report = {
            let mut st = self.lock();
            if finished && st.attempt == attempt {
                // Its input is consumed for good.
                st.receivers.remove(&(v, j));
                let head = self.job.vertices.get(v.0 as usize).map(|x| x.head());
                if let (Some(tx), Some(Ok(NodeCode::Operator(c)))) =
                    (st.channels.get(&(v, j)), head.map(|h| self.code.node(h)))
                {
                    c.input().release(tx);
                }
            }
            let mut r = self.task_report(&st, v, j, attempt);
            st.running.remove(&(v, j));
            r.state = state as i32;
            r.failure = failure;
            r
        };
        self.report_now(vec![report]);
    }

    fn task_report(&self, st: &AttemptState, v: VertexId, j: u32, attempt: u32) -> pb::TaskReport {
        let io = st.io.get(&(v, j));
        let load = |f: fn(&TaskIo) -> &std::sync::atomic::AtomicU64| {
            io.map_or(0, |io| f(io).load(Ordering::Relaxed))
        };
        pb::TaskReport {
            attempt,
            vertex: v.0,
            subtask: j,
            state: pb::TaskState::Running as i32,
            failure: String::new(),
            operators: st
                .counters
                .get(&(v, j))
                .map(|cs| {
                    cs.iter()
                        .map(|(op, c)| pb::OperatorCount {
                            operator_id: op.0,
                            records_in: c.records_in.load(Ordering::Relaxed),
                            records_out: c.records_out.load(Ordering::Relaxed),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            bytes_in: load(|io| &io.bytes_in),
            bytes_out: load(|io| &io.bytes_out),
            idle_ms: load(|io| &io.idle_ns) / 1_000_000,
            backpressured_ms: load(|io| &io.backpressured_ns) / 1_000_000,
            running_ms: st
                .running
                .get(&(v, j))
                .map_or(0, |t| t.elapsed().as_millis() as u64),
        }
    }

    fn report_now(&self, tasks: Vec<pb::TaskReport>) {
        let mut client = self.client.clone();
        let req = pb::TaskReports {
            job_id: self.job_id.clone(),
            taskmanager_id: self.tm_id.clone(),
            tasks,
        };
        if let Err(s) = self.handle.block_on(client.report_tasks(req)) {
            warn!("cannot report to the JobManager: {}", s.message());
        }
    }

    fn report_loop(&self) {
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let tasks: Vec<pb::TaskReport> = {
                let st = self.lock();
                st.running
                    .keys()
                    .map(|&(v, j)| self.task_report(&st, v, j, st.attempt))
                    .collect()
            };
            if !tasks.is_empty() {
                self.report_now(tasks);
            }
        }
    }

    fn cancel(&self, attempt: u32) {
        let st = self.lock();
        if attempt == u32::MAX || st.attempt == attempt {
            st.control.cancel();
        }
    }

    fn next_split(
        &self,
        attempt: u32,
        vertex: VertexId,
        subtask: u32,
        host: Option<&str>,
        barrier: u64,
    ) -> SplitAssignment<ErasedSplit> {
        let mut client = self.client.clone();
        let req = pb::NextSplitRequest {
            job_id: self.job_id.clone(),
            attempt,
            vertex: vertex.0,
            subtask,
            host: host.unwrap_or_default().to_string(),
            barrier,
        };
        let reply = match self.handle.block_on(client.next_split(req)) {
            Ok(r) => r.into_inner(),
            Err(s) => spate_runtime::failure::fail(format!(
                "cannot get a split from the JobManager: {}",
                s.message()
            )),
        };
        if reply.wait {
            return SplitAssignment::Wait;
        }
        if !reply.has_split {
            return SplitAssignment::NoMoreSplits;
        }
        let Some(vx) = self.job.vertices.get(vertex.0 as usize) else {
            spate_runtime::failure::fail("split for an unknown vertex")
        };
        match self.code.node(vx.head()) {
            Ok(NodeCode::Source(src)) => match src.decode_split(&reply.split) {
                Ok(s) => SplitAssignment::Split(s),
                Err(e) => spate_runtime::failure::fail(e.to_string()),
            },
            _ => spate_runtime::failure::fail("split for a vertex that is not a source"),
        }
    }
}

struct RemoteSplits {
    worker: Arc<Worker>,
    attempt: u32,
    vertex: VertexId,
}

impl SplitProvider for RemoteSplits {
    fn assign(&self, subtask: u32, host: Option<&str>, barrier: u64) -> SplitAssignment<ErasedSplit> {
        self.worker
            .next_split(self.attempt, self.vertex, subtask, host, barrier)
    }
}

/// The producer side of a consumer channel in another worker.
struct Link {
    plane: Arc<DataPlane>,
    peer: SocketAddr,
    key: ChannelKey,
    senders: Mutex<HashMap<u32, Arc<net::RemoteSender>>>,
}

impl Link {
    fn sender(&self, slot: u32) -> spate_runtime::Result<Arc<net::RemoteSender>> {
        let mut senders = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = senders.get(&slot) {
            return Ok(s.clone());
        }
        let s =
            Arc::new(self.plane.sender(self.peer, self.key, slot).map_err(|e| {
                spate_runtime::Error::Other(format!("data connection to {}: {e}", self.peer))
            })?);
        senders.insert(slot, s.clone());
        Ok(s)
    }
}

impl RemoteLink for Link {
    fn send(
        &self,
        slot: u32,
        kind: FrameKind,
        payload: Vec<u8>,
        control: &JobControl,
    ) -> std::result::Result<spate_runtime::Result<()>, WasCancelled> {
        let sender = match self.sender(slot) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let len = payload.len() as u64;
        let start = Instant::now();
        let sent = sender.send(kind, bytes::Bytes::from(payload), &|| control.is_cancelled());
        TaskIo::backpressured_since(start);
        TaskIo::with_current(|io| {
            io.bytes_out.fetch_add(len, Ordering::Relaxed);
        });
        match sent {
            Ok(()) => Ok(Ok(())),
            Err(net::SendError::Cancelled) => Err(WasCancelled),
            Err(net::SendError::Broken(m)) => Ok(Err(spate_runtime::Error::Other(format!(
                "data connection to {} broke: {m}",
                self.peer
            )))),
        }
    }

    fn finish(
        &self,
        slot: u32,
        control: &JobControl,
    ) -> std::result::Result<spate_runtime::Result<()>, WasCancelled> {
        let sender = match self.sender(slot) {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        match sender.finish(&|| control.is_cancelled()) {
            Ok(()) => Ok(Ok(())),
            Err(net::SendError::Cancelled) => Err(WasCancelled),
            Err(net::SendError::Broken(m)) => Ok(Err(spate_runtime::Error::Other(format!(
                "data connection to {} broke: {m}",
                self.peer
            )))),
        }
    }
}

/// Delivers frames from the data plane into a local channel.
struct InboxAdapter {
    inbox: Arc<dyn RemoteInbox>,
    io: Arc<TaskIo>,
    control: Arc<JobControl>,
}

impl net::Inbox for InboxAdapter {
    fn deliver(&self, producer_slot: u32, kind: FrameKind, payload: bytes::Bytes) {
        self.io
            .bytes_in
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        if let Err(e) = self.inbox.deliver(producer_slot, kind, &payload) {
            error!("dropping a corrupt frame and cancelling the attempt: {e}");
            self.control.cancel();
        }
    }
}
