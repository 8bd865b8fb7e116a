//! Drives one job through its attempts (see the module doc of [`super`]).

use super::{now_ms, totals_of, CoordinatorProcess, JobEntry, JobEvent, JobManager, TaskStatus};
use crate::coordinator::{CoordReply, CoordRequest};
use crate::pb;
use spate_common::config::keys;
use spate_graph::ExecutionMode;
use spate_runtime::checkpoint::coordinator::CheckpointCoordinator;
use spate_runtime::checkpoint::CheckpointConfig;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{error, info, warn};

/// How long a job waits for its workers to attach.
const WORKER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a cancelled attempt waits for its subtasks to stop.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(30);

/// How an attempt ended.
enum Outcome {
    Finished,
    Failed(String),
    Cancelled,
    /// Stopped with a savepoint: the job ends FINISHED, output staged after it is discarded.
    Stopped,
}

/// Checkpointing of a job on the cluster.
struct Checkpoints {
    coordinator: CheckpointCoordinator,
    allow_non_restored: bool,
    /// Savepoints asked for, by checkpoint id: target directory, stop after, reply.
    savepoints: HashMap<u64, (String, bool, SavepointReply)>,
}

/// Where the answer to a savepoint request goes: its path, or why it failed.
type SavepointReply = tokio::sync::oneshot::Sender<Result<String, String>>;

/// One attempt of a job on its slots.
struct Attempt<'a> {
    number: u32,
    slots: &'a [String],
    /// The checkpoint or savepoint it starts from.
    restore: Option<String>,
}

/// The restart strategy of a job.
struct Restarts {
    kind: String,
    attempts: u64,
    delay: Duration,
    max_delay: Duration,
    multiplier: u64,
}

impl Restarts {
    fn of(config: &spate_common::config::Configuration) -> Restarts {
        let kind = config.get(&keys::RESTART_STRATEGY).to_lowercase();
        let exponential = kind.starts_with("exponential");
        Restarts {
            attempts: if exponential {
                config.get(&keys::RESTART_EXP_ATTEMPTS)
            } else {
                config.get(&keys::RESTART_ATTEMPTS)
            },
            delay: if exponential {
                config.get(&keys::RESTART_INITIAL_BACKOFF)
            } else {
                config.get(&keys::RESTART_DELAY)
            },
            max_delay: config.get(&keys::RESTART_MAX_BACKOFF),
            multiplier: config.get(&keys::RESTART_BACKOFF_MULTIPLIER),
            kind,
        }
    }

    /// The wait before restart number `n` (from 1), or `None` when no restart is left.
    fn next(&self, n: u32) -> Option<Duration> {
        match self.kind.as_str() {
            "none" | "disable" | "off" => None,
            k if k.starts_with("exponential") => (u64::from(n) <= self.attempts).then(|| {
                let factor = self.multiplier.saturating_pow(n.saturating_sub(1)) as u32;
                self.delay.saturating_mul(factor.max(1)).min(self.max_delay)
            }),
            _ => (u64::from(n) <= self.attempts).then_some(self.delay),
        }
    }
}

/// Cluster-wide settings of the JobManager, overridden by the job's own.
fn effective_config(jm: &JobManager, job: &JobEntry) -> spate_common::config::Configuration {
    let mut conf = jm.config.clone();
    conf.merge(&job.spec.config);
    conf
}

/// The REST name of a reported task state; `live` for a task still going.
fn state_name(state: pb::TaskState, live: &'static str) -> &'static str {
    match state {
        pb::TaskState::Finished => "FINISHED",
        pb::TaskState::Failed => "FAILED",
        pb::TaskState::Canceled => "CANCELED",
        _ => live,
    }
}

fn set_state(job: &JobEntry, state: &str) {
    let mut rt = job.lock();
    if rt.state != state {
        info!(job = %job.spec.name, id = %job.spec.id, "job switched to {state}");
        rt.state = state.to_string();
    }
}

/// Runs the job to its end.
pub(crate) async fn drive(jm: Arc<JobManager>, job: Arc<JobEntry>, mut events: UnboundedReceiver<JobEvent>) {
    let fingerprint = match crate::fingerprint(&job.spec.graph) {
        Ok(f) => f,
        Err(e) => return finish(&jm, &job, "FAILED", Some(format!("{e:#}"))).await,
    };
    let start = {
        let (binary, args, lines, dir, cwd) = (
            job.spec.binary.clone(),
            job.spec.args.clone(),
            job.spec.config_lines.clone(),
            job.dir.clone(),
            job.spec.working_dir.clone(),
        );
        tokio::task::spawn_blocking(move || {
            CoordinatorProcess::start(&binary, &args, &lines, &dir, &cwd, &fingerprint)
        })
        .await
    };
    let coordinator = match start {
        Ok(Ok(c)) => Arc::new(c),
        Ok(Err(e)) => {
            return finish(
                &jm,
                &job,
                "FAILED",
                Some(format!("cannot start the job coordinator: {e:#}")),
            )
            .await
        }
        Err(e) => return finish(&jm, &job, "FAILED", Some(e.to_string())).await,
    };
    job.lock().coordinator = Some(coordinator.clone());
    let config = effective_config(&jm, &job);
    let restarts = Restarts::of(&config);
    // Checkpoints (streaming jobs), and the savepoint the job starts from.
    let mut checkpoints = match job.spec.mode {
        ExecutionMode::Streaming => match CheckpointConfig::from_config(&config).and_then(|c| {
            c.map(|c| {
                CheckpointCoordinator::new(
                    c,
                    &job.spec.id,
                    config.get(&keys::MAX_PARALLELISM) as u32,
                    spate_runtime::checkpoint::vertex_specs(&job.spec.graph),
                )
            })
            .transpose()
        }) {
            Ok(c) => c,
            Err(e) => return finish(&jm, &job, "FAILED", Some(e.to_string())).await,
        },
        ExecutionMode::Batch => None,
    }
    .map(|coordinator| Checkpoints {
        coordinator,
        allow_non_restored: config.get(&keys::SAVEPOINT_IGNORE_UNCLAIMED),
        savepoints: HashMap::new(),
    });
    let initial_restore = match config
        .get_opt(&keys::SAVEPOINT_PATH)
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
    {
        Some(p) => match tokio::task::spawn_blocking(move || {
            spate_runtime::checkpoint::storage::resolve_restore_path(&p)
        })
        .await
        {
            Ok(Ok(dir)) => Some(dir),
            Ok(Err(e)) => return finish(&jm, &job, "FAILED", Some(format!("cannot restore: {e}"))).await,
            Err(e) => return finish(&jm, &job, "FAILED", Some(e.to_string())).await,
        },
        None => None,
    };
    let mut attempt = 0u32;
    let outcome = loop {
        attempt += 1;
        {
            let mut rt = job.lock();
            rt.attempt = attempt;
            rt.tasks.clear();
        }
        // An attempt starts from the latest completed checkpoint, else from the savepoint given.
        let restore = {
            let latest = match &checkpoints {
                Some(c) => {
                    let storage = c.coordinator.storage().clone();
                    tokio::task::spawn_blocking(move || storage.latest().map(|r| r.dir))
                        .await
                        .ok()
                        .flatten()
                }
                None => None,
            };
            latest.or_else(|| initial_restore.clone())
        };
        if let (Some(c), Some(dir)) = (&mut checkpoints, &restore) {
            c.coordinator.set_restored(dir);
            info!(job = %job.spec.name, attempt, "restoring from {dir}");
        }
        let result = run_attempt(
            &jm,
            &job,
            &coordinator,
            attempt,
            restore,
            &mut checkpoints,
            &mut events,
        )
        .await;
        if let Some(c) = &mut checkpoints {
            c.coordinator.abort_all("the attempt ended");
            for (_, (_, _, reply)) in c.savepoints.drain() {
                let _ = reply.send(Err("the job attempt ended before the savepoint completed".into()));
            }
            job.lock().checkpoints = Some(c.coordinator.counts());
        }
        match result {
            Outcome::Finished => break Outcome::Finished,
            Outcome::Stopped => break Outcome::Stopped,
            Outcome::Cancelled => break Outcome::Cancelled,
            Outcome::Failed(msg) => {
                job.record_failure(msg.trim_start_matches(NO_RESTART));
                let n = job.lock().restarts + 1;
                match restarts.next(n) {
                    Some(delay) if !msg.starts_with(NO_RESTART) => {
                        warn!(job = %job.spec.name, "attempt {attempt} failed: {msg}; restart {n} in {delay:?}");
                        {
                            let mut rt = job.lock();
                            rt.restarts = n;
                            rt.failure = Some(msg);
                        }
                        set_state(&job, "RESTARTING");
                        // A cancel during the wait ends the job.
                        let cancelled = tokio::time::timeout(delay, async {
                            while let Some(e) = events.recv().await {
                                if matches!(e, JobEvent::Cancel) {
                                    return true;
                                }
                            }
                            false
                        })
                        .await
                        .unwrap_or(false);
                        if cancelled {
                            break Outcome::Cancelled;
                        }
                    }
                    _ => break Outcome::Failed(msg.trim_start_matches(NO_RESTART).to_string()),
                }
            }
        }
    };
    // A finished (or stopped, its savepoint copied) job's checkpoints are of no further use.
    if let Some(mut c) = checkpoints.take() {
        if matches!(outcome, Outcome::Finished | Outcome::Stopped) {
            let _ = tokio::task::spawn_blocking(move || c.coordinator.discard_all()).await;
        }
    }
    // Sinks commit or clean up; split statistics for the result. A job stopped with a savepoint
    // discards what it staged after the savepoint (a job restored from it produces that again).
    let success = matches!(outcome, Outcome::Finished);
    let coord = coordinator.clone();
    let finalized = tokio::task::spawn_blocking(move || {
        let stats = match coord.request(&CoordRequest::Stats) {
            Ok(CoordReply::Stats(s)) => s,
            _ => None,
        };
        (coord.call(&CoordRequest::Finalize { success }), stats)
    })
    .await;
    let (commit, stats) = match finalized {
        Ok((c, s)) => (c.map_err(|e| format!("{e:#}")), s),
        Err(e) => (Err(e.to_string()), None),
    };
    job.lock().split_stats = stats.map(crate::coordinator::stats_from_wire);
    match (outcome, commit) {
        (Outcome::Finished, Ok(())) => finish(&jm, &job, "FINISHED", None).await,
        (Outcome::Finished, Err(e)) => {
            finish(
                &jm,
                &job,
                "FAILED",
                Some(format!("cannot commit the output: {e}")),
            )
            .await
        }
        (Outcome::Cancelled, _) => finish(&jm, &job, "CANCELED", None).await,
        (Outcome::Stopped, _) => finish(&jm, &job, "FINISHED", None).await,
        (Outcome::Failed(msg), c) => {
            if let Err(e) = c {
                warn!(job = %job.spec.name, "cannot clean up the output: {e}");
            }
            finish(&jm, &job, "FAILED", Some(msg)).await
        }
    }
}

/// Prefix of a failure that no restart can mend (e.g. not enough slots).
const NO_RESTART: &str = "\u{0}";

async fn finish(jm: &JobManager, job: &JobEntry, state: &str, failure: Option<String>) {
    if let Some(f) = &failure {
        let recorded = job.lock().exceptions.last().is_some_and(|(_, m)| m == f);
        if !recorded {
            job.record_failure(f);
        }
    }
    let (workers, coordinator) = {
        let mut rt = job.lock();
        rt.final_totals = Some(totals_of(&job.spec.graph, &rt));
        if failure.is_some() {
            rt.failure = failure.clone();
        } else if state == "FINISHED" {
            rt.failure = None;
        }
        rt.end_ms = Some(now_ms());
        let workers: Vec<String> = rt.workers.keys().cloned().collect();
        for w in rt.workers.values() {
            let _ = w.commands.send(Ok(pb::WorkerCommand {
                command: Some(pb::worker_command::Command::Shutdown(pb::Shutdown {})),
            }));
        }
        rt.workers.clear();
        (workers, rt.coordinator.take())
    };
    for tm in workers {
        if let Some(t) = jm.tms().get(&tm) {
            if let Some(c) = &t.commands {
                let _ = c.send(Ok(pb::TaskManagerCommand {
                    command: Some(pb::task_manager_command::Command::StopWorker(pb::StopWorker {
                        job_id: job.spec.id.clone(),
                    })),
                }));
            }
        }
    }
    if let Some(c) = coordinator {
        let _ = tokio::task::spawn_blocking(move || drop(c)).await;
    }
    // An ended job is not run again by a later JobManager.
    jm.unstore_job(&job.spec.id).await;
    match &failure {
        Some(f) => error!(job = %job.spec.name, id = %job.spec.id, "job {state}: {f}"),
        None => {
            info!(job = %job.spec.name, id = %job.spec.id, seconds = job.duration_ms() as f64 / 1000.0, "job {state}")
        }
    }
    set_state(job, state);
}

/// Takes up to `max` (at least `min`) free slots; returns the TaskManager of each shared slot.
/// TaskManagers on hosts that store the job's input come first (most bytes first), so that its
/// sources read locally; among equals, the one with the most free slots, so that a job spreads
/// over machines.
fn take_slots(jm: &JobManager, min: u32, max: u32, input_hosts: &[(String, u64)]) -> Option<Vec<String>> {
    take_from(&mut jm.tms(), min, max, input_hosts)
}

fn take_from(
    tms: &mut BTreeMap<String, super::TaskManagerEntry>,
    min: u32,
    max: u32,
    input_hosts: &[(String, u64)],
) -> Option<Vec<String>> {
    // A TaskManager takes commands once its command stream is open.
    let free: u32 = tms
        .values()
        .filter(|t| t.commands.is_some())
        .map(|t| t.slots - t.used)
        .sum();
    if free < min {
        return None;
    }
    let bytes_on = |host: &str| input_hosts.iter().find(|(h, _)| h == host).map_or(0, |(_, b)| *b);
    let n = free.min(max);
    let mut taken = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let tm = tms
            .values_mut()
            .filter(|t| t.used < t.slots && t.commands.is_some())
            .max_by_key(|t| {
                (
                    bytes_on(&t.host) > 0,
                    t.slots - t.used,
                    bytes_on(&t.host),
                    std::cmp::Reverse(t.id.clone()),
                )
            })?;
        tm.used += 1;
        taken.push(tm.id.clone());
    }
    Some(taken)
}

fn release_slots(jm: &JobManager, slots: &[String]) {
    let mut tms = jm.tms();
    for id in slots {
        if let Some(t) = tms.get_mut(id) {
            t.used = t.used.saturating_sub(1);
        }
    }
    drop(tms);
    jm.slots_changed.notify_waiters();
}

async fn run_attempt(
    jm: &Arc<JobManager>,
    job: &Arc<JobEntry>,
    coordinator: &Arc<CoordinatorProcess>,
    attempt: u32,
    restore: Option<String>,
    checkpoints: &mut Option<Checkpoints>,
    events: &mut UnboundedReceiver<JobEvent>,
) -> Outcome {
    // Fresh (or restored) enumerators, prepared (or recovered) sinks.
    let coord = coordinator.clone();
    let reset = CoordRequest::Reset {
        attempt,
        restore: restore.clone(),
        allow_non_restored: checkpoints.as_ref().is_some_and(|c| c.allow_non_restored),
    };
    match tokio::task::spawn_blocking(move || coord.call(&reset)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Outcome::Failed(format!("{e:#}")),
        Err(e) => return Outcome::Failed(e.to_string()),
    }

    // Where the input is (sources with located splits): slots there first.
    let coord = coordinator.clone();
    let input_hosts =
        match tokio::task::spawn_blocking(move || coord.request(&CoordRequest::PendingHosts)).await {
            Ok(Ok(crate::coordinator::CoordReply::Hosts(Some(h)))) => h,
            _ => Vec::new(),
        };

    // Slots.
    let graph = &job.spec.graph;
    let max_p = graph.vertices.iter().map(|v| v.parallelism).max().unwrap_or(1);
    let min_slots = match job.spec.mode {
        ExecutionMode::Streaming => max_p,
        ExecutionMode::Batch => 1,
    };
    let timeout = effective_config(jm, job).get(&keys::SLOT_REQUEST_TIMEOUT);
    let waiting_since = Instant::now();
    let slots = loop {
        let notified = jm.slots_changed.notified();
        // TaskManagers being started for this job (see `resources`) are waited for.
        if !jm.awaits_resources(max_p, waiting_since) {
            if let Some(s) = take_slots(jm, min_slots, max_p, &input_hosts) {
                break s;
            }
        }
        if waiting_since.elapsed() >= timeout {
            let (tms, total): (usize, u32) = {
                let t = jm.tms();
                (t.len(), t.values().map(|t| t.slots - t.used).sum())
            };
            return Outcome::Failed(format!(
                "{NO_RESTART}not enough task slots: the job needs {min_slots} but {total} are free on {tms} TaskManagers after waiting {timeout:?} (slot.request.timeout)"
            ));
        }
        set_state(job, if attempt == 1 { "CREATED" } else { "RESTARTING" });
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            e = events.recv() => if matches!(e, Some(JobEvent::Cancel) | None) { return Outcome::Cancelled },
        }
    };
    let at = Attempt {
        number: attempt,
        slots: &slots,
        restore,
    };
    job.lock().slots_held = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    let outcome = run_on_slots(jm, job, coordinator, at, checkpoints, events).await;
    job.lock().slots_held = 0;
    release_slots(jm, &slots);
    outcome
}

async fn run_on_slots(
    jm: &Arc<JobManager>,
    job: &Arc<JobEntry>,
    coordinator: &Arc<CoordinatorProcess>,
    at: Attempt<'_>,
    checkpoints: &mut Option<Checkpoints>,
    events: &mut UnboundedReceiver<JobEvent>,
) -> Outcome {
    let Attempt {
        number: attempt,
        slots,
        restore,
    } = at;
    let graph = &job.spec.graph;
    let n = slots.len() as u32;
    let slot_of = |j: u32| j % n;
    let involved: HashSet<String> = slots.iter().cloned().collect();
    info!(job = %job.spec.name, attempt, slots = n, taskmanagers = involved.len(), "scheduling");

    // Workers: start one on every involved TaskManager that has none.
    let mut pending: HashSet<String> = HashSet::new();
    {
        let rt = job.lock();
        let tms = jm.tms();
        for tm in &involved {
            if rt.workers.contains_key(tm) {
                continue;
            }
            let Some(entry) = tms.get(tm) else {
                return Outcome::Failed(format!("TaskManager {tm} vanished"));
            };
            let Some(commands) = &entry.commands else {
                return Outcome::Failed(format!("TaskManager {tm} has no command stream"));
            };
            let _ = commands.send(Ok(pb::TaskManagerCommand {
                command: Some(pb::task_manager_command::Command::StartWorker(pb::StartWorker {
                    job_id: job.spec.id.clone(),
                    binary_sha256: job.spec.sha256.clone(),
                    args: job.spec.args.clone(),
                    config: job.spec.config_lines.clone(),
                    working_dir: job.spec.working_dir.clone(),
                })),
            }));
            pending.insert(tm.clone());
        }
    }
    let deadline = tokio::time::Instant::now() + WORKER_START_TIMEOUT;
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                return Outcome::Failed(format!(
                    "workers on {} did not start within {WORKER_START_TIMEOUT:?}",
                    pending.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
            }
            Ok(None) | Ok(Some(JobEvent::Cancel)) => return Outcome::Cancelled,
            Ok(Some(JobEvent::WorkerAttached { tm })) => {
                pending.remove(&tm);
            }
            Ok(Some(JobEvent::WorkerGone { tm, reason }))
            | Ok(Some(JobEvent::TaskManagerLost { tm, reason }))
                if involved.contains(&tm) =>
            {
                job.lock().workers.remove(&tm);
                return Outcome::Failed(format!("the worker on {tm} failed to start: {reason}"));
            }
            Ok(Some(_)) => {}
        }
    }

    // Placement and the attempt's start.
    let (placements, commands) = {
        let rt = job.lock();
        let mut placements = Vec::new();
        let mut task_tm = HashMap::new();
        for v in &graph.vertices {
            for j in 0..v.parallelism {
                let tm = &slots[slot_of(j) as usize];
                let Some(w) = rt.workers.get(tm) else {
                    return Outcome::Failed(format!("no worker on {tm}"));
                };
                placements.push(pb::Placement {
                    vertex: v.id.0,
                    subtask: j,
                    data_address: w.data_address.clone(),
                });
                task_tm.insert((v.id.0, j), tm.clone());
            }
        }
        let commands: HashMap<String, super::WorkerCommands> = involved
            .iter()
            .filter_map(|tm| rt.workers.get(tm).map(|w| (tm.clone(), w.commands.clone())))
            .collect();
        drop(rt);
        let mut rt = job.lock();
        for ((v, j), tm) in task_tm {
            rt.tasks.insert(
                (v, j),
                TaskStatus {
                    state: "CREATED".into(),
                    tm,
                    latest: None,
                    previous: None,
                },
            );
        }
        (placements, commands)
    };
    for c in commands.values() {
        let _ = c.send(Ok(pb::WorkerCommand {
            command: Some(pb::worker_command::Command::StartAttempt(pb::StartAttempt {
                attempt,
                placements: placements.clone(),
                restore_dir: restore.clone().unwrap_or_default(),
                checkpoint_base: 0,
            })),
        }));
    }
    set_state(job, "RUNNING");

    // Deployment and reports.
    let mut finished: BTreeMap<u32, u32> = BTreeMap::new();
    let mut done = 0u32;
    let total: u32 = graph.vertices.iter().map(|v| v.parallelism).sum();
    let mut waiting: Vec<(u32, u32)> = graph
        .vertices
        .iter()
        .flat_map(|v| (0..v.parallelism).map(move |j| (v.id.0, j)))
        .collect();
    let mut busy_slots: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut deployed: HashSet<(u32, u32)> = HashSet::new();
    let mut executions: HashMap<(u32, u32), u32> = HashMap::new();
    let deploy = |job: &JobEntry, v: u32, j: u32, execution: u32| {
        let tm = &slots[slot_of(j) as usize];
        if let Some(c) = commands.get(tm) {
            let _ = c.send(Ok(pb::WorkerCommand {
                command: Some(pb::worker_command::Command::Deploy(pb::Deploy {
                    attempt,
                    vertex: v,
                    subtask: j,
                    execution,
                })),
            }));
        }
        if let Some(t) = job.lock().tasks.get_mut(&(v, j)) {
            t.state = "DEPLOYING".into();
        }
    };
    let outcome = loop {
        // Deploy what may run.
        let mut still = Vec::new();
        for (v, j) in waiting.drain(..) {
            let ready = match job.spec.mode {
                ExecutionMode::Streaming => true,
                ExecutionMode::Batch => {
                    let inputs_done = graph.edges.iter().filter(|e| e.target.0 == v).all(|e| {
                        finished.get(&e.source.0).copied().unwrap_or(0) == graph.vertex(e.source).parallelism
                    });
                    inputs_done && !busy_slots.contains_key(&slot_of(j))
                }
            };
            if ready {
                if job.spec.mode == ExecutionMode::Batch {
                    busy_slots.insert(slot_of(j), (v, j));
                }
                deployed.insert((v, j));
                deploy(job, v, j, 0);
            } else {
                still.push((v, j));
            }
        }
        waiting = still;
        if done == total {
            break Outcome::Finished;
        }
        let tick = checkpoints
            .as_ref()
            .and_then(|c| c.coordinator.config().interval)
            .map_or(Duration::from_secs(3600), |i| i.min(Duration::from_millis(200)));
        let event = tokio::select! {
            e = events.recv() => e,
            () = tokio::time::sleep(tick) => {
                if let Some(c) = checkpoints.as_mut() {
                    let now = Instant::now();
                    c.coordinator.expire(now);
                    answer_aborted_savepoints(c);
                    // A finished subtask injects no barrier: checkpoints stop once one finished.
                    if done == 0 && c.coordinator.is_due(now) {
                        trigger_checkpoint(job, coordinator, c, attempt, &commands).await;
                    }
                }
                continue;
            }
        };
        let Some(event) = event else {
            break Outcome::Cancelled;
        };
        match event {
            JobEvent::Cancel => break Outcome::Cancelled,
            JobEvent::Savepoint { dir, stop, reply } => {
                let Some(c) = checkpoints.as_mut() else {
                    let _ = reply.send(Err(
                        "the job takes no checkpoints: savepoints need state.checkpoints.dir".into(),
                    ));
                    continue;
                };
                if done > 0 {
                    let _ = reply.send(Err(
                        "part of the job has finished: no savepoint can be taken".into()
                    ));
                    continue;
                }
                if let Some(id) = trigger_checkpoint(job, coordinator, c, attempt, &commands).await {
                    c.savepoints.insert(id, (dir, stop, reply));
                } else {
                    let _ = reply.send(Err(
                        "the savepoint could not start (see the JobManager log)".into()
                    ));
                }
            }
            JobEvent::CheckpointAck { checkpoint, ack, .. } => {
                let Some(c) = checkpoints.as_mut() else { continue };
                let done_ckpt = match c.coordinator.acknowledge(checkpoint, *ack) {
                    Ok(Some(d)) => d,
                    Ok(None) => {
                        answer_aborted_savepoints(c);
                        continue;
                    }
                    Err(e) => {
                        warn!(job = %job.spec.name, checkpoint, "checkpoint failed: {e}");
                        answer_aborted_savepoints(c);
                        continue;
                    }
                };
                job.lock().checkpoints = Some(c.coordinator.counts());
                let committables = done_ckpt
                    .committables
                    .iter()
                    .map(|(op, staged)| (op.0, staged.clone()))
                    .collect::<Vec<_>>();
                if !committables.is_empty() {
                    let coord = coordinator.clone();
                    let commit = CoordRequest::Commit { committables };
                    match tokio::task::spawn_blocking(move || coord.call(&commit)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => break Outcome::Failed(format!("checkpoint {checkpoint}: {e:#}")),
                        Err(e) => break Outcome::Failed(e.to_string()),
                    }
                }
                if let Some((target, stop, reply)) = c.savepoints.remove(&checkpoint) {
                    let target = format!(
                        "{}/savepoint-{}-{checkpoint}",
                        target.trim_end_matches('/'),
                        &job.spec.id[..job.spec.id.len().min(8)]
                    );
                    let src = done_ckpt.dir.clone();
                    let copied = tokio::task::spawn_blocking(move || {
                        CheckpointCoordinator::copy_to_savepoint(&src, &target)
                    })
                    .await;
                    let result = match copied {
                        Ok(Ok(path)) => Ok(path),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    let ok = result.is_ok();
                    if let Ok(p) = &result {
                        info!(job = %job.spec.name, "savepoint written to {p}");
                    }
                    let _ = reply.send(result);
                    if ok && stop {
                        break Outcome::Stopped;
                    }
                }
            }
            JobEvent::WorkerAttached { .. } => {}
            JobEvent::WorkerGone { tm, reason } => {
                let mut rt = job.lock();
                if involved.contains(&tm) || rt.workers.contains_key(&tm) {
                    rt.workers.remove(&tm);
                    let host = tm.clone();
                    break Outcome::Failed(format!("the job's worker on {host} exited: {reason}"));
                }
            }
            JobEvent::TaskManagerLost { tm, reason } => {
                let mut rt = job.lock();
                rt.workers.remove(&tm);
                if involved.contains(&tm) {
                    break Outcome::Failed(reason);
                }
            }
            JobEvent::Report(r) => {
                if r.attempt != attempt {
                    continue;
                }
                let state = pb::TaskState::try_from(r.state).unwrap_or(pb::TaskState::Unspecified);
                let key = (r.vertex, r.subtask);
                let failure = r.failure.clone();
                {
                    let mut rt = job.lock();
                    if let Some(t) = rt.tasks.get_mut(&key) {
                        let terminal_before = matches!(t.state.as_str(), "FINISHED" | "FAILED" | "CANCELED");
                        if !terminal_before {
                            t.previous = t.latest.take();
                            t.latest = Some((Instant::now(), r));
                            t.state = state_name(state, "RUNNING").into();
                        }
                    }
                }
                match state {
                    pb::TaskState::Finished if deployed.contains(&key) => {
                        deployed.remove(&key);
                        done += 1;
                        *finished.entry(key.0).or_default() += 1;
                        if busy_slots.get(&slot_of(key.1)) == Some(&key) {
                            busy_slots.remove(&slot_of(key.1));
                        }
                    }
                    pb::TaskState::Failed
                        if job.spec.mode == ExecutionMode::Batch && deployed.contains(&key) =>
                    {
                        // Batch failover: the subtask's input partition is still there and nothing
                        // downstream has started, so only this subtask runs again (its new run
                        // voids what the failed one wrote). The restart strategy decides whether.
                        let n = job.lock().restarts + 1;
                        let Some(delay) = Restarts::of(&effective_config(jm, job)).next(n) else {
                            break Outcome::Failed(failure);
                        };
                        job.record_failure(&failure);
                        warn!(job = %job.spec.name, "{failure}; running subtask {} of vertex {} again in {delay:?} (restart {n})", key.1 + 1, key.0);
                        {
                            let mut rt = job.lock();
                            rt.restarts = n;
                            rt.failure = Some(failure);
                        }
                        tokio::time::sleep(delay).await;
                        if graph.vertices.get(key.0 as usize).is_some_and(|v| v.is_source) {
                            let coord = coordinator.clone();
                            let replay = CoordRequest::ReplaySplits {
                                vertex: key.0,
                                subtask: key.1,
                            };
                            match tokio::task::spawn_blocking(move || coord.call(&replay)).await {
                                Ok(Ok(())) => {}
                                Ok(Err(e)) => break Outcome::Failed(format!("{e:#}")),
                                Err(e) => break Outcome::Failed(e.to_string()),
                            }
                        }
                        let execution = executions.entry(key).or_default();
                        *execution += 1;
                        let execution = *execution;
                        if let Some(t) = job.lock().tasks.get_mut(&key) {
                            t.state = "CREATED".into();
                        }
                        deploy(job, key.0, key.1, execution);
                    }
                    pb::TaskState::Failed => break Outcome::Failed(failure),
                    pb::TaskState::Canceled => {
                        break Outcome::Failed(format!(
                        "subtask {} of vertex {} stopped unexpectedly (its input or output connection broke)",
                        key.1 + 1,
                        key.0
                    ))
                    }
                    _ => {}
                }
            }
        }
    };
    if matches!(outcome, Outcome::Finished) {
        return outcome;
    }
    let stopped = matches!(outcome, Outcome::Stopped);
    // Cancel the attempt and wait for its subtasks to stop.
    set_state(
        job,
        if matches!(outcome, Outcome::Cancelled) || stopped {
            "CANCELLING"
        } else {
            "FAILING"
        },
    );
    for c in commands.values() {
        let _ = c.send(Ok(pb::WorkerCommand {
            command: Some(pb::worker_command::Command::CancelAttempt(pb::CancelAttempt {
                attempt,
            })),
        }));
    }
    let deadline = tokio::time::Instant::now() + CANCEL_TIMEOUT;
    let mut gone: HashSet<String> = HashSet::new();
    loop {
        let remaining: Vec<(u32, u32)> = {
            let rt = job.lock();
            deployed
                .iter()
                .filter(|k| {
                    rt.tasks.get(k).is_some_and(|t| {
                        !matches!(t.state.as_str(), "FINISHED" | "FAILED" | "CANCELED")
                            && !gone.contains(&t.tm)
                            && rt.workers.contains_key(&t.tm)
                    })
                })
                .copied()
                .collect()
        };
        if remaining.is_empty() {
            break;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                warn!(job = %job.spec.name, "{} subtasks did not stop within {CANCEL_TIMEOUT:?}", remaining.len());
                break;
            }
            Ok(None) => break,
            Ok(Some(JobEvent::Report(r))) if r.attempt == attempt => {
                let state = pb::TaskState::try_from(r.state).unwrap_or(pb::TaskState::Unspecified);
                let mut rt = job.lock();
                if let Some(t) = rt.tasks.get_mut(&(r.vertex, r.subtask)) {
                    t.state = state_name(state, "CANCELING").into();
                    t.previous = t.latest.take();
                    t.latest = Some((Instant::now(), r));
                }
            }
            Ok(Some(JobEvent::WorkerGone { tm, .. })) | Ok(Some(JobEvent::TaskManagerLost { tm, .. })) => {
                job.lock().workers.remove(&tm);
                gone.insert(tm);
            }
            Ok(Some(_)) => {}
        }
    }
    outcome
}

/// Starts a checkpoint: the enumerators' states first (the coordinator then holds back readers
/// that have not injected its barrier), then the sources of every worker are told.
async fn trigger_checkpoint(
    job: &JobEntry,
    coordinator: &Arc<CoordinatorProcess>,
    c: &mut Checkpoints,
    attempt: u32,
    commands: &HashMap<String, super::WorkerCommands>,
) -> Option<u64> {
    let id = c.coordinator.begin();
    let coord = coordinator.clone();
    let req = CoordRequest::SnapshotEnumerators { checkpoint: id };
    let reply = match tokio::task::spawn_blocking(move || coord.request(&req)).await {
        Ok(r) => r.map_err(|e| format!("{e:#}")),
        Err(e) => Err(e.to_string()),
    };
    let started = match reply {
        Ok(CoordReply::Enumerators(states)) => {
            let states = states
                .into_iter()
                .map(|(op, s)| (spate_common::ids::OperatorId(op), s))
                .collect();
            c.coordinator.set_enumerators(id, states);
            true
        }
        Ok(CoordReply::Error(e)) | Err(e) => {
            c.coordinator.abort(id, &e);
            false
        }
        Ok(other) => {
            c.coordinator.abort(id, &format!("unexpected reply {other:?}"));
            false
        }
    };
    // Even an aborted checkpoint is injected: readers held back by the valve go on past it.
    for w in commands.values() {
        let _ = w.send(Ok(pb::WorkerCommand {
            command: Some(pb::worker_command::Command::TriggerCheckpoint(
                pb::TriggerCheckpoint {
                    attempt,
                    checkpoint: id,
                },
            )),
        }));
    }
    job.lock().checkpoints = Some(c.coordinator.counts());
    started.then_some(id)
}

/// Savepoints whose checkpoint was aborted get their answer.
fn answer_aborted_savepoints(c: &mut Checkpoints) {
    let gone: Vec<u64> = c
        .savepoints
        .keys()
        .filter(|id| !c.coordinator.is_pending(**id))
        .copied()
        .collect();
    for id in gone {
        if let Some((_, _, reply)) = c.savepoints.remove(&id) {
            let _ = reply.send(Err(format!(
                "checkpoint {id} of the savepoint was aborted (see the JobManager log)"
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tms(spec: &[(&str, &str, u32)]) -> BTreeMap<String, super::super::TaskManagerEntry> {
        spec.iter()
            .map(|(id, host, slots)| {
                let (tx, _) = tokio::sync::mpsc::unbounded_channel();
                let tm = super::super::TaskManagerEntry {
                    id: id.to_string(),
                    host: host.to_string(),
                    address: String::new(),
                    slots: *slots,
                    used: 0,
                    last_heartbeat: Instant::now(),
                    commands: Some(tx),
                    stream_generation: 0,
                    resource_id: String::new(),
                };
                (id.to_string(), tm)
            })
            .collect()
    }

    #[test]
    fn slots_on_the_input_hosts_come_first_and_spread() {
        let mut t = tms(&[("a", "h1", 2), ("b", "h2", 2), ("c", "h3", 2), ("d", "h4", 2)]);
        let input = vec![("h3".to_string(), 300), ("h2".to_string(), 100)];
        let got = take_from(&mut t, 2, 2, &input).unwrap();
        assert_eq!(got, vec!["c", "b"]);
        // More slots than the data hosts have: theirs first, then the others, spread.
        let mut t = tms(&[("a", "h1", 2), ("b", "h2", 2), ("c", "h3", 2)]);
        let got = take_from(&mut t, 1, 5, &[("h2".to_string(), 10)]).unwrap();
        assert_eq!(got[..2], ["b", "b"]);
        assert_eq!(got.len(), 5);
        assert!(got[2..].contains(&"a".to_string()) && got[2..].contains(&"c".to_string()));
        // Without located input: spread over the TaskManagers with the most free slots.
        let mut t = tms(&[("a", "h1", 1), ("b", "h2", 3)]);
        assert_eq!(take_from(&mut t, 2, 2, &[]).unwrap(), vec!["b", "b"]);
        assert_eq!(take_from(&mut t, 3, 3, &[]), None);
    }
}
