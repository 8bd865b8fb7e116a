//! Checkpoints: asynchronous barrier snapshots, as Flink takes them.
//!
//! The coordinator ([`coordinator::CheckpointCoordinator`], on the JobManager or the embedded
//! job thread) decides when a checkpoint starts and tells the source subtasks through a shared
//! trigger ([`TaskCheckpoints::trigger`]). A source snapshots its reader's splits (with their
//! progress) and sends a [`StreamEvent::Barrier`](crate::time::StreamEvent::Barrier) down its
//! outputs behind the records emitted before it. A channel with several producers *aligns*: a
//! producer whose barrier arrived is held back (its later envelopes are buffered) until the
//! barrier arrived from every producer (exactly-once), or is not held back (at-least-once). Then
//! the barrier passes through the chain: every operator snapshots its state
//! ([`Operator::snapshot_state`](crate::Operator::snapshot_state)) and forwards the barrier.
//! When the barrier has passed the whole chain, the subtask hands its snapshots to a
//! [`CheckpointResponder`], which writes them to checkpoint storage on another thread (processing
//! goes on meanwhile) and acknowledges to the coordinator. When every subtask acknowledged, the
//! coordinator writes the checkpoint's metadata file — last, so a half-written checkpoint is
//! never mistaken for a complete one — and sinks commit what they staged for it.
//!
//! Keyed state is snapshotted per key group, so a job restored at another parallelism gives each
//! subtask the key groups it now owns ([`storage`]).

pub mod coordinator;
pub mod storage;

use crate::error::{Error, Result};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use spate_common::config::{keys, Configuration};
use spate_common::ids::{OperatorId, VertexId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Identifies a checkpoint of a job (1, 2, …; never reused within a job's checkpoint directory).
pub type CheckpointId = u64;

/// What one operator of one subtask stored in a checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSnapshot {
    /// Keyed state per key group: `(key group, bytes)`. On restore a subtask gets the groups it
    /// owns at its (possibly new) parallelism.
    pub keyed: Vec<(u32, Vec<u8>)>,
    /// Operator state as a list of items (e.g. a source's splits). On restore at the same
    /// parallelism each subtask gets its own items back; at another, items are dealt round-robin.
    pub operator: Vec<Vec<u8>>,
    /// What a sink staged for this checkpoint (e.g. pending part files). Not restored into the
    /// operator: the coordinator hands it to the sink's commit when the checkpoint completes (and
    /// again when a job restores the checkpoint, so commits must be idempotent).
    pub committables: Vec<Vec<u8>>,
}

impl OperatorSnapshot {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.operator.is_empty() && self.committables.is_empty()
    }
}

/// Serializes a piece of state.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| Error::Codec(format!("cannot encode state: {e}")))
}

/// Reads a piece of state written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Codec(format!("cannot decode state: {e}")))
}

/// Exactly-once (barriers aligned) or at-least-once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointingMode {
    /// A channel holds back producers whose barrier arrived until all arrived.
    ExactlyOnce,
    /// No alignment: records after a barrier may be counted in the checkpoint's state.
    AtLeastOnce,
}

/// The checkpoint settings of a job (`execution.checkpointing.*`, `state.checkpoints.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Time between checkpoint starts; `None`: none periodically (savepoints only).
    pub interval: Option<Duration>,
    /// A checkpoint not complete after this is discarded.
    pub timeout: Duration,
    /// Least time between the end of one checkpoint and the start of the next.
    pub min_pause: Duration,
    /// Checkpoints in progress at once.
    pub max_concurrent: usize,
    /// Exactly-once or at-least-once.
    pub mode: CheckpointingMode,
    /// Directory URI of the checkpoints (`file://…`, `hdfs://…` or a local path).
    pub dir: String,
    /// Completed checkpoints kept.
    pub retained: usize,
}

impl CheckpointConfig {
    /// The settings, or `None` when checkpointing is off (neither an interval nor a directory
    /// configured); an error names a missing key.
    pub fn from_config(config: &Configuration) -> Result<Option<CheckpointConfig>> {
        let interval = config
            .get_opt(&keys::CHECKPOINTING_INTERVAL)
            .filter(|i| !i.is_zero());
        let mut dir = config.get(&keys::CHECKPOINTS_DIR);
        if dir.trim().is_empty() {
            if interval.is_none() {
                return Ok(None);
            }
            // Without a directory: the local temporary directory, which serves one machine (an
            // embedded job, or a cluster on one host); a cluster over several hosts needs a
            // shared one (hdfs://).
            let tmp = config
                .get_opt(&keys::TMP_DIRS)
                .filter(|d| !d.trim().is_empty())
                .map(std::path::PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            dir = tmp.join("spate-checkpoints").display().to_string();
        }
        let mode = if config.get(&keys::CHECKPOINTING_MODE) == "AT_LEAST_ONCE" {
            CheckpointingMode::AtLeastOnce
        } else {
            CheckpointingMode::ExactlyOnce
        };
        Ok(Some(CheckpointConfig {
            interval,
            timeout: config.get(&keys::CHECKPOINTING_TIMEOUT),
            min_pause: config.get(&keys::CHECKPOINTING_MIN_PAUSE),
            max_concurrent: config.get(&keys::CHECKPOINTING_MAX_CONCURRENT).max(1) as usize,
            mode,
            dir: dir.trim().to_string(),
            retained: config.get(&keys::CHECKPOINTS_RETAINED).max(1) as usize,
        }))
    }
}

/// Receives the snapshots of a subtask once a barrier has passed its whole chain.
pub trait CheckpointResponder: Send + Sync {
    /// The subtask's operators' snapshots for `checkpoint` (operators without state included,
    /// with empty snapshots). Must not block for long: writing happens elsewhere.
    fn acknowledge(
        &self,
        checkpoint: CheckpointId,
        subtask: u32,
        snapshots: Vec<(OperatorId, OperatorSnapshot)>,
    );
    /// The subtask could not snapshot (an operator failed to); the checkpoint is aborted.
    fn decline(&self, checkpoint: CheckpointId, subtask: u32, reason: String);
}

/// What a subtask of a checkpointed job holds: the trigger, its restored state and where its
/// snapshots go. Shared by the subtask's threads through [`TaskContext`](crate::TaskContext).
pub struct TaskCheckpoints {
    /// The subtask's vertex.
    pub vertex: VertexId,
    /// The latest checkpoint the coordinator started; a source injects a barrier for it when it
    /// has not yet done so. Shared by every source subtask of the job.
    pub trigger: Arc<AtomicU64>,
    /// Alignment mode.
    pub mode: CheckpointingMode,
    /// This subtask's share of the state it starts from, by operator.
    pub restored: HashMap<OperatorId, OperatorSnapshot>,
    /// Where snapshots go.
    pub responder: Arc<dyn CheckpointResponder>,
}

impl std::fmt::Debug for TaskCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskCheckpoints")
            .field("vertex", &self.vertex)
            .field("trigger", &self.trigger.load(Ordering::Relaxed))
            .field("mode", &self.mode)
            .field("restored", &self.restored.len())
            .finish()
    }
}

impl TaskCheckpoints {
    /// The checkpoint a source should inject now, if the coordinator started one newer than
    /// `last_injected`.
    pub fn due(&self, last_injected: CheckpointId) -> Option<CheckpointId> {
        let t = self.trigger.load(Ordering::Acquire);
        (t > last_injected).then_some(t)
    }
    /// The restored state of `operator` in this subtask, taken (each is used once).
    pub fn take_restored(&self, operator: OperatorId) -> Option<OperatorSnapshot> {
        self.restored.get(&operator).cloned()
    }
}

thread_local! {
    /// Snapshots taken on this thread while a barrier passes through the chain.
    static TAKEN: RefCell<Vec<(OperatorId, OperatorSnapshot)>> = const { RefCell::new(Vec::new()) };
    /// The first snapshot failure while a barrier passes.
    static FAILED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records the snapshot of `operator` for the barrier passing on this thread.
pub fn record_snapshot(operator: OperatorId, snapshot: OperatorSnapshot) {
    TAKEN.with(|t| t.borrow_mut().push((operator, snapshot)));
}

/// Records that an operator could not snapshot for the barrier passing on this thread.
pub fn record_failure(operator: &str, reason: String) {
    FAILED.with(|f| {
        let mut f = f.borrow_mut();
        if f.is_none() {
            *f = Some(format!("operator '{operator}': {reason}"));
        }
    });
}

/// After a barrier passed the chain: hands what its operators recorded to the responder.
pub fn complete_barrier(ctx: &crate::TaskContext, checkpoint: CheckpointId) {
    let taken = TAKEN.with(|t| std::mem::take(&mut *t.borrow_mut()));
    let failed = FAILED.with(|f| f.borrow_mut().take());
    let Some(c) = &ctx.checkpoints else { return };
    match failed {
        Some(reason) => c.responder.decline(checkpoint, ctx.subtask, reason),
        None => c.responder.acknowledge(checkpoint, ctx.subtask, taken),
    }
}

/// The vertices of `job` as the coordinator expects acknowledgements from them.
pub fn vertex_specs(job: &spate_graph::JobGraph) -> Vec<coordinator::VertexSpec> {
    job.vertices
        .iter()
        .map(|v| coordinator::VertexSpec {
            vertex: v.id,
            parallelism: v.parallelism,
            operators: v.operators.iter().map(|o| (o.operator, o.name.clone())).collect(),
        })
        .collect()
}

/// Checks that a checkpoint or savepoint fits `job`: every operator with state in it must
/// exist in the job, unless `allow_non_restored` (`--allow-non-restored-state`).
pub fn check_restore(
    restored: &storage::RestoredCheckpoint,
    job: &spate_graph::JobGraph,
    max_parallelism: u32,
    allow_non_restored: bool,
) -> Result<()> {
    if restored.meta.max_parallelism != max_parallelism {
        return Err(Error::Other(format!(
            "{}: it was taken with {} key groups (pipeline.max-parallelism) but the job has {}; keyed state cannot be redistributed",
            restored.dir,
            restored.meta.max_parallelism, max_parallelism
        )));
    }
    for op in &restored.meta.operators {
        let known = job
            .vertices
            .iter()
            .flat_map(|v| &v.operators)
            .any(|o| o.operator == op.operator);
        if !known && !allow_non_restored {
            return Err(Error::Other(format!(
                "{}: it holds state of operator '{}' ({}) which this job does not have (pass --allow-non-restored-state to skip it)",
                restored.dir, op.name, op.operator
            )));
        }
    }
    Ok(())
}

/// The restored state of every operator of subtask `subtask` of `vertex`.
pub fn restored_for(
    restored: Option<&storage::RestoredCheckpoint>,
    vertex: &spate_graph::JobVertex,
    subtask: u32,
) -> HashMap<OperatorId, OperatorSnapshot> {
    let Some(r) = restored else { return HashMap::new() };
    vertex
        .operators
        .iter()
        .filter_map(|o| Some((o.operator, r.state_for(o.operator, subtask, vertex.parallelism)?)))
        .collect()
}

/// The responder of a job that takes no checkpoints (it restored state only): never called,
/// since no barrier is ever injected.
pub struct NoCheckpoints;

impl CheckpointResponder for NoCheckpoints {
    fn acknowledge(&self, _: CheckpointId, _: u32, _: Vec<(OperatorId, OperatorSnapshot)>) {}
    fn decline(&self, _: CheckpointId, _: u32, _: String) {}
}

/// Reads the checkpoint or savepoint in `dir` for `job` and checks that it fits
/// ([`check_restore`]); an error names the directory.
pub fn load_for_job(
    dir: &str,
    job: &spate_graph::JobGraph,
    max_parallelism: u32,
    allow_non_restored: bool,
) -> Result<storage::RestoredCheckpoint> {
    let r = storage::RestoredCheckpoint::load(dir)
        .map_err(|e| Error::Other(format!("cannot restore from {dir}: {e}")))?;
    check_restore(&r, job, max_parallelism, allow_non_restored)?;
    Ok(r)
}

/// Readies a job's code for a run: every sink prepares its destination — or, when the run
/// starts from `restored`, recovers it to that checkpoint (commits what it staged for it,
/// discards anything later) — and every source's enumerator is created, or restored from the
/// splits it had not handed out. Returns the enumerators by vertex; an error names the operator.
pub fn prepare_job(
    job: &spate_graph::JobGraph,
    code: &crate::code::JobCode,
    config: &Configuration,
    restored: Option<&storage::RestoredCheckpoint>,
) -> Result<HashMap<VertexId, Box<dyn crate::code::ErasedEnumerator>>> {
    use crate::code::NodeCode;
    let named = |name: &str, e: Error| Error::Other(format!("operator '{name}': {e}"));
    let mut enumerators = HashMap::new();
    for v in &job.vertices {
        for op in &v.operators {
            match code.node(op.operator)? {
                NodeCode::Operator(c) => match restored {
                    Some(r) => {
                        let staged = r
                            .meta
                            .operator(op.operator)
                            .map(|o| o.committables.clone())
                            .unwrap_or_default();
                        c.recover(v.parallelism, staged).map_err(|e| named(&op.name, e))?
                    }
                    None => c.prepare(v.parallelism).map_err(|e| named(&op.name, e))?,
                },
                NodeCode::Source(s) => {
                    let e = match restored.and_then(|r| r.meta.enumerator(op.operator)) {
                        Some(splits) => s.restore_enumerator(v.parallelism, config, splits),
                        None => s.create_enumerator(v.parallelism, config),
                    }
                    .map_err(|e| named(&op.name, e))?;
                    enumerators.insert(v.id, e);
                }
                NodeCode::Virtual => {}
            }
        }
    }
    Ok(enumerators)
}
