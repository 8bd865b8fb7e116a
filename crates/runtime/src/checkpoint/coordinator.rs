//! The checkpoint coordinator's bookkeeping (when to start a checkpoint, which subtasks
//! acknowledged, writing the metadata when all did, retention), and the subtask side's
//! asynchronous state writer. Both executors (embedded and the cluster's JobManager) drive it.

use super::storage::{CheckpointMetadata, CheckpointStorage, OperatorState, RestoredCheckpoint, StateFile};
use super::{CheckpointConfig, CheckpointId, CheckpointResponder, OperatorSnapshot};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use spate_common::ids::{OperatorId, VertexId};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// What a subtask reports once its snapshots are stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAck {
    /// The subtask's vertex.
    pub vertex: VertexId,
    /// The subtask.
    pub subtask: u32,
    /// The file holding its operators' state (none when no operator had any).
    pub file: Option<StateFile>,
    /// Operators with state in the file.
    pub stateful: Vec<OperatorId>,
    /// What each sink operator staged for this checkpoint.
    pub committables: Vec<(OperatorId, Vec<Vec<u8>>)>,
    /// Set when the subtask could not take its snapshot.
    pub declined: Option<String>,
}

/// The operators of one vertex, as the coordinator expects acknowledgements from it.
#[derive(Clone, Debug)]
pub struct VertexSpec {
    /// The vertex.
    pub vertex: VertexId,
    /// Its parallelism.
    pub parallelism: u32,
    /// Its operators (id, name).
    pub operators: Vec<(OperatorId, String)>,
}

/// A checkpoint that completed.
#[derive(Clone, Debug)]
pub struct CompletedCheckpoint {
    /// Its id.
    pub id: CheckpointId,
    /// Its directory.
    pub dir: String,
    /// What sinks staged, to commit now.
    pub committables: Vec<(OperatorId, Vec<Vec<u8>>)>,
    /// Time from start to completion.
    pub duration: Duration,
    /// Bytes of state written.
    pub state_bytes: u64,
}

struct Pending {
    started: Instant,
    timestamp_ms: i64,
    enumerators: Vec<(OperatorId, Vec<Vec<u8>>)>,
    acks: HashMap<(VertexId, u32), TaskAck>,
}

/// Counters for the REST API and logs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckpointCounts {
    /// Completed checkpoints.
    pub completed: u64,
    /// Failed (declined, timed out, aborted) checkpoints.
    pub failed: u64,
    /// In progress now.
    pub in_progress: u64,
    /// The latest completed checkpoint: id, duration (ms), state size (bytes), directory.
    pub latest: Option<(CheckpointId, u64, u64, String)>,
    /// The checkpoint the job was restored from, if any.
    pub restored: Option<String>,
}

/// Decides when checkpoints start, collects acknowledgements, completes and retains them.
pub struct CheckpointCoordinator {
    cfg: CheckpointConfig,
    storage: CheckpointStorage,
    job: String,
    max_parallelism: u32,
    vertices: Vec<VertexSpec>,
    next_id: CheckpointId,
    pending: BTreeMap<CheckpointId, Pending>,
    last_trigger: Option<Instant>,
    last_completion: Option<Instant>,
    retained: VecDeque<CheckpointId>,
    counts: CheckpointCounts,
}

impl CheckpointCoordinator {
    /// A coordinator for job `job` (its checkpoints go to `<dir>/<job>/`), numbering after the
    /// checkpoints already in that directory.
    pub fn new(
        cfg: CheckpointConfig,
        job: &str,
        max_parallelism: u32,
        vertices: Vec<VertexSpec>,
    ) -> Result<Self> {
        let storage = CheckpointStorage::for_job(&cfg.dir, job)?;
        let existing = storage.list();
        let next_id = existing.first().map_or(1, |n| n + 1);
        Ok(CheckpointCoordinator {
            cfg,
            storage,
            job: job.to_string(),
            max_parallelism,
            vertices,
            next_id,
            pending: BTreeMap::new(),
            last_trigger: None,
            last_completion: None,
            retained: existing.into_iter().rev().collect(),
            counts: CheckpointCounts::default(),
        })
    }

    /// The job's checkpoint storage.
    pub fn storage(&self) -> &CheckpointStorage {
        &self.storage
    }

    /// The settings.
    pub fn config(&self) -> &CheckpointConfig {
        &self.cfg
    }

    /// Counters.
    pub fn counts(&self) -> CheckpointCounts {
        let mut c = self.counts.clone();
        c.in_progress = self.pending.len() as u64;
        c
    }

    /// Notes the checkpoint a job (attempt) was restored from.
    pub fn set_restored(&mut self, dir: &str) {
        self.counts.restored = Some(dir.to_string());
    }

    /// Whether a periodic checkpoint is due at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        let Some(interval) = self.cfg.interval else {
            return false;
        };
        if self.pending.len() >= self.cfg.max_concurrent {
            return false;
        }
        let since = |t: Option<Instant>, d: Duration| t.is_none_or(|t| now.duration_since(t) >= d);
        since(self.last_trigger, interval) && since(self.last_completion, self.cfg.min_pause)
    }

    /// Starts a checkpoint; returns its id. The caller then tells the sources and records the
    /// enumerators' states ([`set_enumerators`](Self::set_enumerators)).
    pub fn begin(&mut self) -> CheckpointId {
        let id = self.next_id;
        self.next_id += 1;
        self.last_trigger = Some(Instant::now());
        self.pending.insert(
            id,
            Pending {
                started: Instant::now(),
                timestamp_ms: crate::time::now_ms(),
                enumerators: Vec::new(),
                acks: HashMap::new(),
            },
        );
        id
    }

    /// The unassigned splits of the sources' enumerators when checkpoint `id` started.
    pub fn set_enumerators(&mut self, id: CheckpointId, enumerators: Vec<(OperatorId, Vec<Vec<u8>>)>) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.enumerators = enumerators;
        }
    }

    fn expected(&self) -> usize {
        self.vertices.iter().map(|v| v.parallelism as usize).sum()
    }

    /// A subtask's acknowledgement. Returns the checkpoint if it is now complete (its metadata
    /// written); a decline aborts it.
    pub fn acknowledge(&mut self, id: CheckpointId, ack: TaskAck) -> Result<Option<CompletedCheckpoint>> {
        if let Some(reason) = &ack.declined {
            self.abort(
                id,
                &format!("{} subtask {} declined: {reason}", ack.vertex, ack.subtask + 1),
            );
            return Ok(None);
        }
        let Some(p) = self.pending.get_mut(&id) else {
            return Ok(None); // late acknowledgement of an aborted checkpoint
        };
        p.acks.insert((ack.vertex, ack.subtask), ack);
        if p.acks.len() < self.expected() {
            return Ok(None);
        }
        let Some(p) = self.pending.remove(&id) else {
            return Ok(None);
        };
        match self.complete(id, p) {
            Ok(done) => Ok(Some(done)),
            Err(e) => {
                self.counts.failed += 1;
                self.storage.discard(id);
                Err(e)
            }
        }
    }

    fn complete(&mut self, id: CheckpointId, p: Pending) -> Result<CompletedCheckpoint> {
        let mut operators = Vec::new();
        let mut committables = Vec::new();
        let mut state_bytes = 0;
        for v in &self.vertices {
            for (op, name) in &v.operators {
                let mut subtasks = Vec::new();
                let mut staged = Vec::new();
                for j in 0..v.parallelism {
                    let ack = p
                        .acks
                        .get(&(v.vertex, j))
                        .ok_or_else(|| Error::Internal(format!("no acknowledgement of {} {j}", v.vertex)))?;
                    subtasks.push(ack.file.clone().filter(|_| ack.stateful.contains(op)));
                    if let Some((_, c)) = ack.committables.iter().find(|(o, _)| o == op) {
                        staged.extend(c.iter().cloned());
                    }
                }
                if subtasks.iter().all(Option::is_none) && staged.is_empty() {
                    continue;
                }
                if !staged.is_empty() {
                    committables.push((*op, staged.clone()));
                }
                operators.push(OperatorState {
                    operator: *op,
                    name: name.clone(),
                    parallelism: v.parallelism,
                    subtasks,
                    committables: staged,
                });
            }
        }
        state_bytes += p
            .acks
            .values()
            .filter_map(|a| a.file.as_ref())
            .map(|f| f.len)
            .sum::<u64>();
        let meta = CheckpointMetadata {
            job: self.job.clone(),
            checkpoint: id,
            savepoint: false,
            timestamp_ms: p.timestamp_ms,
            max_parallelism: self.max_parallelism,
            operators,
            enumerators: p.enumerators,
        };
        let dir = self.storage.checkpoint_dir(id).to_string();
        CheckpointStorage::write_metadata(&dir, &meta)?;
        let duration = p.started.elapsed();
        self.last_completion = Some(Instant::now());
        self.counts.completed += 1;
        self.counts.latest = Some((id, duration.as_millis() as u64, state_bytes, dir.clone()));
        // Older pending checkpoints can no longer complete usefully (Flink subsumes them).
        let older: Vec<CheckpointId> = self.pending.range(..id).map(|(k, _)| *k).collect();
        for o in older {
            self.abort(o, "subsumed by a newer checkpoint");
        }
        self.retained.push_back(id);
        while self.retained.len() > self.cfg.retained {
            if let Some(old) = self.retained.pop_front() {
                self.storage.discard(old);
            }
        }
        info!(job = %self.job, checkpoint = id, ms = duration.as_millis() as u64, bytes = state_bytes, "checkpoint completed");
        Ok(CompletedCheckpoint {
            id,
            dir,
            committables,
            duration,
            state_bytes,
        })
    }

    /// The job finished: its checkpoints are of no further use and are removed (a failed or
    /// cancelled job keeps them, to be resumed with `--from-savepoint`).
    pub fn discard_all(&mut self) {
        let ids: Vec<CheckpointId> = self.pending.keys().copied().chain(self.storage.list()).collect();
        self.pending.clear();
        for id in ids {
            self.storage.discard(id);
        }
        self.storage.remove_job_dir();
        self.retained.clear();
    }

    /// Whether checkpoint `id` is in progress.
    pub fn is_pending(&self, id: CheckpointId) -> bool {
        self.pending.contains_key(&id)
    }

    /// Aborts checkpoint `id` (its files are removed).
    pub fn abort(&mut self, id: CheckpointId, reason: &str) {
        if self.pending.remove(&id).is_some() {
            warn!(job = %self.job, checkpoint = id, "checkpoint aborted: {reason}");
            self.counts.failed += 1;
            self.storage.discard(id);
        }
    }

    /// Aborts every checkpoint in progress (the job fails over or ends).
    pub fn abort_all(&mut self, reason: &str) {
        let ids: Vec<CheckpointId> = self.pending.keys().copied().collect();
        for id in ids {
            self.abort(id, reason);
        }
    }

    /// Aborts checkpoints that ran longer than the timeout.
    pub fn expire(&mut self, now: Instant) {
        let timeout = self.cfg.timeout;
        let late: Vec<CheckpointId> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.started) > timeout)
            .map(|(k, _)| *k)
            .collect();
        for id in late {
            self.abort(id, &format!("not complete after {timeout:?}"));
        }
    }

    /// The newest intact checkpoint of this job, if any.
    pub fn latest(&self) -> Option<RestoredCheckpoint> {
        self.storage.latest()
    }

    /// Copies completed checkpoint `dir` into `target` as a self-contained savepoint.
    pub fn copy_to_savepoint(dir: &str, target: &str) -> Result<String> {
        let restored = RestoredCheckpoint::load(dir)?;
        let (fs, src) = spate_fs::resolve(dir).map_err(|e| Error::Other(format!("{dir}: {e}")))?;
        let (tfs, dst) = spate_fs::resolve(target)
            .map_err(|e| Error::Other(format!("savepoint directory {target}: {e}")))?;
        tfs.mkdirs(&dst)
            .map_err(|e| Error::Other(format!("cannot create savepoint directory {dst}: {e}")))?;
        let mut copied = std::collections::HashSet::new();
        for op in &restored.meta.operators {
            for f in op.subtasks.iter().flatten() {
                if !copied.insert(f.name.clone()) {
                    continue;
                }
                let mut r = fs
                    .open(&src.join(&f.name), 0)
                    .map_err(|e| Error::Other(format!("cannot read {}: {e}", src.join(&f.name))))?;
                let mut w = tfs
                    .create(&dst.join(&f.name), true)
                    .map_err(|e| Error::Other(format!("cannot write {}: {e}", dst.join(&f.name))))?;
                std::io::copy(&mut r, &mut w)
                    .map_err(|e| Error::Other(format!("cannot copy {} to {dst}: {e}", f.name)))?;
                w.close()
                    .map_err(|e| Error::Other(format!("cannot write {}: {e}", dst.join(&f.name))))?;
            }
        }
        let mut meta = restored.meta.clone();
        meta.savepoint = true;
        CheckpointStorage::write_metadata(&dst.to_string(), &meta)?;
        Ok(dst.to_string())
    }
}

type Deliver = Arc<dyn Fn(CheckpointId, TaskAck) + Send + Sync>;

enum WriteJob {
    Ack {
        id: CheckpointId,
        vertex: VertexId,
        subtask: u32,
        snapshots: Vec<(OperatorId, OperatorSnapshot)>,
    },
    Decline {
        id: CheckpointId,
        vertex: VertexId,
        subtask: u32,
        reason: String,
    },
}

/// Writes subtasks' snapshots on its own thread (so processing continues while state is
/// written) and delivers the acknowledgements.
#[derive(Clone)]
pub struct StateWriter {
    jobs: crossbeam_channel::Sender<WriteJob>,
}

impl StateWriter {
    /// A writer into `<dir>/<job>/chk-<n>/`, delivering acknowledgements to `deliver`.
    pub fn start(dir: &str, job: &str, deliver: Deliver) -> Result<Self> {
        let storage = CheckpointStorage::for_job(dir, job)?;
        let (tx, rx) = crossbeam_channel::unbounded::<WriteJob>();
        spate_common::task::spawn_named("spate-checkpoint-writer", move || {
            for job in rx {
                match job {
                    WriteJob::Ack {
                        id,
                        vertex,
                        subtask,
                        snapshots,
                    } => deliver(id, write_ack(&storage, id, vertex, subtask, snapshots)),
                    WriteJob::Decline {
                        id,
                        vertex,
                        subtask,
                        reason,
                    } => deliver(
                        id,
                        TaskAck {
                            vertex,
                            subtask,
                            file: None,
                            stateful: Vec::new(),
                            committables: Vec::new(),
                            declined: Some(reason),
                        },
                    ),
                }
            }
        })
        .map_err(|e| Error::io("cannot start the checkpoint writer", e))?;
        Ok(StateWriter { jobs: tx })
    }

    /// The responder of subtasks of `vertex`.
    pub fn responder(&self, vertex: VertexId) -> Arc<dyn CheckpointResponder> {
        Arc::new(VertexResponder {
            vertex,
            jobs: self.jobs.clone(),
        })
    }
}

fn write_ack(
    storage: &CheckpointStorage,
    id: CheckpointId,
    vertex: VertexId,
    subtask: u32,
    mut snapshots: Vec<(OperatorId, OperatorSnapshot)>,
) -> TaskAck {
    let mut committables = Vec::new();
    for (op, s) in &mut snapshots {
        if !s.committables.is_empty() {
            committables.push((*op, std::mem::take(&mut s.committables)));
        }
    }
    snapshots.retain(|(_, s)| !s.is_empty());
    let stateful: Vec<OperatorId> = snapshots.iter().map(|(o, _)| *o).collect();
    let mut ack = TaskAck {
        vertex,
        subtask,
        file: None,
        stateful,
        committables,
        declined: None,
    };
    if snapshots.is_empty() {
        return ack;
    }
    let dir = storage.checkpoint_dir(id).to_string();
    match CheckpointStorage::write_task_state(&dir, vertex, subtask, &snapshots) {
        Ok(f) => ack.file = Some(f),
        Err(e) => ack.declined = Some(format!("cannot write state: {e}")),
    }
    ack
}

struct VertexResponder {
    vertex: VertexId,
    jobs: crossbeam_channel::Sender<WriteJob>,
}

impl CheckpointResponder for VertexResponder {
    fn acknowledge(
        &self,
        checkpoint: CheckpointId,
        subtask: u32,
        snapshots: Vec<(OperatorId, OperatorSnapshot)>,
    ) {
        let _ = self.jobs.send(WriteJob::Ack {
            id: checkpoint,
            vertex: self.vertex,
            subtask,
            snapshots,
        });
    }
    fn decline(&self, checkpoint: CheckpointId, subtask: u32, reason: String) {
        let _ = self.jobs.send(WriteJob::Decline {
            id: checkpoint,
            vertex: self.vertex,
            subtask,
            reason,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointingMode;

    fn cfg(dir: &str) -> CheckpointConfig {
        CheckpointConfig {
            interval: Some(Duration::from_millis(10)),
            timeout: Duration::from_secs(60),
            min_pause: Duration::ZERO,
            max_concurrent: 1,
            mode: CheckpointingMode::ExactlyOnce,
            dir: dir.into(),
            retained: 2,
        }
    }

    fn vertices() -> Vec<VertexSpec> {
        vec![VertexSpec {
            vertex: VertexId(0),
            parallelism: 2,
            operators: vec![(OperatorId(1), "src".into()), (OperatorId(2), "sink".into())],
        }]
    }

    fn ack(coord: &CheckpointCoordinator, id: CheckpointId, subtask: u32) -> TaskAck {
        let snaps = vec![
            (
                OperatorId(1),
                OperatorSnapshot {
                    operator: vec![vec![subtask as u8]],
                    ..Default::default()
                },
            ),
            (
                OperatorId(2),
                OperatorSnapshot {
                    committables: vec![format!("file-{subtask}").into_bytes()],
                    ..Default::default()
                },
            ),
        ];
        write_ack(coord.storage(), id, VertexId(0), subtask, snaps)
    }

    #[test]
    fn completes_when_all_acknowledged_and_keeps_the_retained_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().display().to_string();
        let mut c = CheckpointCoordinator::new(cfg(&dir), "job", 8, vertices()).unwrap();
        assert!(c.is_due(Instant::now()));
        let mut done = Vec::new();
        for _ in 0..3 {
            let id = c.begin();
            c.set_enumerators(id, vec![(OperatorId(1), vec![b"s".to_vec()])]);
            assert!(!c.is_due(Instant::now()), "max one in progress");
            let a0 = ack(&c, id, 0);
            assert!(c.acknowledge(id, a0).unwrap().is_none());
            let a1 = ack(&c, id, 1);
            let completed = c.acknowledge(id, a1).unwrap().unwrap();
            assert_eq!(completed.committables[0].1.len(), 2);
            done.push(id);
        }
        assert_eq!(c.storage().list(), vec![3, 2], "only two retained");
        let latest = c.latest().unwrap();
        assert_eq!(latest.meta.checkpoint, 3);
        assert_eq!(
            latest.state_for(OperatorId(1), 1, 2).unwrap().operator,
            vec![vec![1]]
        );
        assert_eq!(latest.meta.enumerator(OperatorId(1)).unwrap().len(), 1);
        // A new coordinator of the same job numbers on.
        let c2 = CheckpointCoordinator::new(cfg(&dir), "job", 8, vertices()).unwrap();
        assert_eq!(c2.next_id, 4);
    }

    #[test]
    fn a_decline_or_timeout_aborts_and_removes_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().display().to_string();
        let mut c = CheckpointCoordinator::new(cfg(&dir), "job", 8, vertices()).unwrap();
        let id = c.begin();
        let a0 = ack(&c, id, 0);
        c.acknowledge(id, a0).unwrap();
        let mut declined = ack(&c, id, 1);
        declined.declined = Some("no".into());
        assert!(c.acknowledge(id, declined).unwrap().is_none());
        assert_eq!(c.counts().failed, 1);
        assert!(c.storage().list().is_empty());
        let mut quick = cfg(&dir);
        quick.timeout = Duration::ZERO;
        let mut c = CheckpointCoordinator::new(quick, "job2", 8, vertices()).unwrap();
        c.begin();
        std::thread::sleep(Duration::from_millis(2));
        c.expire(Instant::now());
        assert_eq!(c.counts().in_progress, 0);
    }
}
