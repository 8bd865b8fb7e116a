//! What a resource manager (the YARN ApplicationMaster) needs from the JobManager to start and
//! stop TaskManagers on demand, the role of Flink's `ResourceManagerDriver` seen from the
//! JobManager's side.
//!
//! The resource manager holds a [`JobManagerHandle`] (given to [`super::serve_with`]) and, on its
//! own thread, polls:
//! - [`JobManagerHandle::demand`]: the slots the jobs that have not ended want (the slots a
//!   running attempt holds, else the job's highest parallelism), and for the jobs waiting for slots the hosts that store their input not yet
//!   read (asked from each job's coordinator, which owns the split enumerators);
//! - [`JobManagerHandle::taskmanagers`]: the registered TaskManagers (with the resource id they
//!   registered with, e.g. their YARN container id), their slots in use and how long they have
//!   been idle.
//!
//! It tells the JobManager how many slots are on their way ([`JobManagerHandle::set_pending_slots`];
//! a lost TaskManager that registered with a resource id counts as on its way until then):
//! while some are, a job that wants more slots than are free waits for them (at most
//! [`RESOURCE_WAIT`]) instead of starting with fewer, so a batch job runs at its parallelism and
//! on the hosts of its input. [`JobManagerHandle::retire`] removes an idle TaskManager before the
//! resource manager stops it, so no job takes its slots meanwhile.

use super::{JobManager, TaskManagerEntry};
use crate::coordinator::{CoordReply, CoordRequest};
use spate_common::config::keys;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Longest time a job waits for TaskManagers that are being started before it takes the free
/// slots there are (also at most half of `slot.request.timeout`).
pub const RESOURCE_WAIT: Duration = Duration::from_secs(60);

/// What the jobs of a JobManager want.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceDemand {
    /// Slots wanted by the jobs that have not ended (each its highest parallelism).
    pub slots: u32,
    /// Jobs waiting for slots.
    pub waiting_jobs: usize,
    /// Waiting jobs whose input locations are not known yet (their coordinator is starting).
    pub preparing_jobs: usize,
    /// Hosts that store the waiting jobs' input not read yet, with its bytes, most first.
    pub hosts: Vec<(String, u64)>,
}

/// A registered TaskManager as a resource manager sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskManagerUsage {
    pub id: String,
    pub host: String,
    /// The id it registered with (`spate taskmanager --resource-id`), or empty.
    pub resource_id: String,
    pub slots: u32,
    pub used: u32,
    /// How long all its slots have been free (measured between calls of
    /// [`JobManagerHandle::taskmanagers`]); `None` while a job holds one.
    pub idle_for: Option<Duration>,
}

/// A job as a resource manager sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSummary {
    pub id: String,
    pub name: String,
    /// As in the REST API: CREATED, RUNNING, RESTARTING, ..., FINISHED, FAILED, CANCELED.
    pub state: String,
    /// The last failure, if any.
    pub failure: Option<String>,
}

/// The JobManager's part of the resource bookkeeping.
#[derive(Debug, Default)]
pub(crate) struct ResourceState {
    /// Slots of TaskManagers a resource manager is starting.
    pending_slots: AtomicU32,
    /// Since when each TaskManager has had no slot in use.
    idle_since: Mutex<HashMap<String, Instant>>,
}

/// A resource manager's handle on a JobManager; cheap to clone. Until the JobManager started
/// (see [`super::serve_with`]) it reports no demand and no TaskManagers.
#[derive(Clone, Debug, Default)]
pub struct JobManagerHandle(Arc<OnceLock<Arc<JobManager>>>);

impl JobManagerHandle {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn attach(&self, jm: Arc<JobManager>) {
        let _ = self.0.set(jm);
    }

    /// The jobs' demand. Blocking (it asks the coordinators of waiting jobs): call it from a
    /// thread of your own, not from an async task.
    pub fn demand(&self) -> ResourceDemand {
        let Some(jm) = self.0.get() else {
            return ResourceDemand::default();
        };
        let jobs: Vec<_> = jm.jobs().values().cloned().collect();
        let mut demand = ResourceDemand::default();
        let mut hosts: BTreeMap<String, u64> = BTreeMap::new();
        for job in jobs {
            let (state, coordinator, held) = {
                let rt = job.lock();
                (rt.state.clone(), rt.coordinator.clone(), rt.slots_held)
            };
            if matches!(state.as_str(), "FINISHED" | "FAILED" | "CANCELED") {
                continue;
            }
            // A job running holds the slots it got (a batch job may have started on fewer than
            // its parallelism, and keeps them until its attempt ends); one waiting wants its
            // highest parallelism.
            let wanted = if held > 0 {
                held
            } else {
                job.spec
                    .graph
                    .vertices
                    .iter()
                    .map(|v| v.parallelism)
                    .max()
                    .unwrap_or(1)
            };
            demand.slots += wanted;
            if !matches!(state.as_str(), "CREATED" | "RESTARTING") {
                continue;
            }
            demand.waiting_jobs += 1;
            let reply = coordinator.map(|c| c.request(&CoordRequest::PendingHosts));
            match reply {
                Some(Ok(CoordReply::Hosts(Some(h)))) => {
                    for (host, bytes) in h {
                        *hosts.entry(host).or_default() += bytes;
                    }
                }
                // Not started, not reset yet, or a coordinator of another version: unknown.
                Some(Ok(CoordReply::Hosts(None))) | None => demand.preparing_jobs += 1,
                Some(_) => {}
            }
        }
        demand.hosts = hosts.into_iter().collect();
        demand
            .hosts
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        demand
    }

    /// The jobs, in submission order.
    pub fn jobs(&self) -> Vec<JobSummary> {
        let Some(jm) = self.0.get() else {
            return Vec::new();
        };
        let mut jobs: Vec<_> = jm.jobs().values().cloned().collect();
        jobs.sort_by_key(|j| j.submitted_at);
        jobs.iter()
            .map(|j| {
                let rt = j.lock();
                JobSummary {
                    id: j.spec.id.clone(),
                    name: j.spec.name.clone(),
                    state: rt.state.clone(),
                    failure: rt.failure.clone(),
                }
            })
            .collect()
    }

    /// The registered TaskManagers, by id.
    pub fn taskmanagers(&self) -> Vec<TaskManagerUsage> {
        let Some(jm) = self.0.get() else {
            return Vec::new();
        };
        let now = Instant::now();
        let tms = jm.tms();
        let mut idle = jm.resources.idle();
        idle.retain(|id, _| tms.contains_key(id));
        tms.values()
            .map(|t| {
                let idle_for = if t.used == 0 {
                    Some(now.saturating_duration_since(*idle.entry(t.id.clone()).or_insert(now)))
                } else {
                    idle.remove(&t.id);
                    None
                };
                usage(t, idle_for)
            })
            .collect()
    }

    /// Slots of the TaskManagers being started (0 when none is).
    pub fn set_pending_slots(&self, slots: u32) {
        if let Some(jm) = self.0.get() {
            jm.resources.pending_slots.store(slots, Ordering::SeqCst);
        }
    }

    /// Removes TaskManager `id` if no job holds a slot of it (the caller then stops it); false
    /// when it is busy or unknown.
    pub fn retire(&self, id: &str, reason: &str) -> bool {
        let Some(jm) = self.0.get() else {
            return false;
        };
        let removed = {
            let mut tms = jm.tms();
            match tms.get(id) {
                Some(t) if t.used == 0 => tms.remove(id),
                _ => None,
            }
        };
        match removed {
            Some(tm) => {
                jm.forget_taskmanager(tm, reason);
                true
            }
            None => false,
        }
    }
}

fn usage(t: &TaskManagerEntry, idle_for: Option<Duration>) -> TaskManagerUsage {
    TaskManagerUsage {
        id: t.id.clone(),
        host: t.host.clone(),
        resource_id: t.resource_id.clone(),
        slots: t.slots,
        used: t.used,
        idle_for,
    }
}

impl ResourceState {
    /// A TaskManager the resource manager started was lost: count its slots as on their way
    /// until the resource manager reports again.
    pub(crate) fn replacing(&self, slots: u32) {
        self.pending_slots.fetch_add(slots, Ordering::SeqCst);
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.idle_since.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl JobManager {
    /// Whether a job that wants `wanted` slots, waiting since `since`, should wait on for the
    /// TaskManagers a resource manager is starting rather than take the free slots now.
    pub(crate) fn awaits_resources(&self, wanted: u32, since: Instant) -> bool {
        if self.resources.pending_slots.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let free: u32 = self
            .tms()
            .values()
            .filter(|t| t.commands.is_some())
            .map(|t| t.slots.saturating_sub(t.used))
            .sum();
        let limit = RESOURCE_WAIT.min(self.config.get(&keys::SLOT_REQUEST_TIMEOUT) / 2);
        free < wanted && since.elapsed() < limit
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JobEntry, JobRuntime, JobSpec};
    use super::*;
    use spate_graph::{ExecutionMode, JobGraph, JobVertex};

    fn jobmanager(dir: &std::path::Path) -> Arc<JobManager> {
        Arc::new(JobManager {
            config: Default::default(),
            secret: Arc::new(crate::net::Secret::generate()),
            blob_dir: dir.to_path_buf(),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(10),
            tms: Mutex::default(),
            jobs: Mutex::default(),
            next_tm: Default::default(),
            slots_changed: tokio::sync::Notify::new(),
            resources: ResourceState::default(),
            job_store: None,
            stopping: Default::default(),
        })
    }

    fn add_job(jm: &JobManager, id: &str, parallelism: u32, state: &str, held: u32) {
        let vertex = JobVertex {
            id: spate_common::ids::VertexId(0),
            name: "v".into(),
            parallelism,
            operators: Vec::new(),
            is_source: true,
            bounded: true,
        };
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        let job = JobEntry {
            spec: JobSpec {
                id: id.into(),
                name: id.into(),
                mode: ExecutionMode::Batch,
                graph: JobGraph {
                    vertices: vec![vertex],
                    edges: Vec::new(),
                },
                config: Default::default(),
                config_lines: String::new(),
                args: Vec::new(),
                working_dir: String::new(),
                sha256: String::new(),
                binary: Default::default(),
                submitted_ms: 0,
            },
            dir: Default::default(),
            submitted_at: Instant::now(),
            events,
            rt: Mutex::new(JobRuntime {
                state: state.into(),
                slots_held: held,
                ..Default::default()
            }),
        };
        jm.jobs().insert(id.into(), Arc::new(job));
    }

    #[test]
    fn running_jobs_want_the_slots_they_hold_and_waiting_ones_their_parallelism() {
        let dir = tempfile::tempdir().unwrap();
        let jm = jobmanager(dir.path());
        let handle = JobManagerHandle::new();
        handle.attach(jm.clone());
        // A batch job of parallelism 4 that started on 2 slots wants no more.
        add_job(&jm, "a", 4, "RUNNING", 2);
        assert_eq!(handle.demand().slots, 2);
        // One waiting for slots wants its parallelism; an ended one nothing.
        add_job(&jm, "b", 3, "CREATED", 0);
        add_job(&jm, "c", 5, "FINISHED", 0);
        let demand = handle.demand();
        assert_eq!(demand.slots, 5);
        assert_eq!(demand.waiting_jobs, 1);
    }
}
