//! The JobManager's answers to the REST API.

use super::{JobEntry, JobManager, TaskStatus};
use crate::rest::model::{
    JobDetails, JobOverview, Overview, Plan, PlanInput, PlanNode, SplitLocality, TaskCounts, TaskManagerInfo,
    VertexDetails, VertexMetrics,
};
use crate::rest::RestBackend;
use spate_graph::{ExchangeMode, Partitioning};
use std::sync::Arc;

/// The REST view of a JobManager.
pub(crate) struct Backend(pub Arc<JobManager>);

fn counts<'a>(states: impl Iterator<Item = &'a str>) -> TaskCounts {
    let mut c = TaskCounts::default();
    for s in states {
        c.total += 1;
        match s {
            "CREATED" => c.created += 1,
            "SCHEDULED" => c.scheduled += 1,
            "DEPLOYING" => c.deploying += 1,
            "RUNNING" => c.running += 1,
            "FINISHED" => c.finished += 1,
            "CANCELING" => c.canceling += 1,
            "CANCELED" => c.canceled += 1,
            "FAILED" => c.failed += 1,
            _ => {}
        }
    }
    c
}

fn ship_strategy(p: Partitioning) -> &'static str {
    match p {
        Partitioning::Default | Partitioning::Rebalance => "REBALANCE",
        Partitioning::Forward => "FORWARD",
        Partitioning::Rescale => "RESCALE",
        Partitioning::Shuffle => "SHUFFLE",
        Partitioning::Broadcast => "BROADCAST",
        Partitioning::Hash => "HASH",
        Partitioning::Custom => "CUSTOM",
    }
}

fn end_time(job: &JobEntry) -> i64 {
    job.lock().end_ms.map_or(-1, |t| t as i64)
}

fn overview_of(job: &JobEntry) -> JobOverview {
    let rt = job.lock();
    let total: u32 = job.spec.graph.vertices.iter().map(|v| v.parallelism).sum();
    let mut tasks = counts(rt.tasks.values().map(|t| t.state.as_str()));
    tasks.created += total.saturating_sub(tasks.total);
    tasks.total = total;
    drop(rt);
    JobOverview {
        jid: job.spec.id.clone(),
        name: job.spec.name.clone(),
        state: job.state(),
        start_time: job.spec.submitted_ms as i64,
        end_time: end_time(job),
        duration: job.duration_ms() as i64,
        tasks,
    }
}

/// Per-second rates and ratios of one subtask from its last two reports.
fn rates(t: &TaskStatus, head: u32, tails: &[u32]) -> (f64, f64, f64, f64) {
    let (Some((t1, r1)), Some((t0, r0))) = (&t.latest, &t.previous) else {
        return (0.0, 0.0, 0.0, 0.0);
    };
    let secs = t1.duration_since(*t0).as_secs_f64();
    if secs <= 0.0 || t.state != "RUNNING" {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let count = |r: &crate::pb::TaskReport, op: u32, inp: bool| {
        r.operators.iter().find(|c| c.operator_id == op).map_or(0, |c| {
            if inp {
                c.records_in
            } else {
                c.records_out
            }
        })
    };
    let rin = count(r1, head, true).saturating_sub(count(r0, head, true)) as f64 / secs;
    let rout: u64 = tails
        .iter()
        .map(|&op| count(r1, op, false).saturating_sub(count(r0, op, false)))
        .sum();
    let ms = (r1.running_ms.saturating_sub(r0.running_ms)).max(1) as f64;
    let idle = (r1.idle_ms.saturating_sub(r0.idle_ms) as f64 / ms).min(1.0);
    let bp = (r1.backpressured_ms.saturating_sub(r0.backpressured_ms) as f64 / ms).min(1.0);
    (rin, rout as f64 / secs, idle, bp)
}

impl RestBackend for Backend {
    fn overview(&self) -> Overview {
        let (taskmanagers, total, used) = {
            let tms = self.0.tms();
            (
                tms.len() as u32,
                tms.values().map(|t| t.slots).sum::<u32>(),
                tms.values().map(|t| t.used).sum::<u32>(),
            )
        };
        let mut o = Overview {
            taskmanagers,
            slots_total: total,
            slots_available: total.saturating_sub(used),
            jobs_running: 0,
            jobs_finished: 0,
            jobs_cancelled: 0,
            jobs_failed: 0,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        let jobs: Vec<Arc<JobEntry>> = self.0.jobs().values().cloned().collect();
        for j in jobs {
            match j.state().as_str() {
                "FINISHED" => o.jobs_finished += 1,
                "CANCELED" => o.jobs_cancelled += 1,
                "FAILED" => o.jobs_failed += 1,
                _ => o.jobs_running += 1,
            }
        }
        o
    }

    fn jobs(&self) -> Vec<JobOverview> {
        let jobs: Vec<Arc<JobEntry>> = self.0.jobs().values().cloned().collect();
        let mut out: Vec<JobOverview> = jobs.iter().map(|j| overview_of(j)).collect();
        out.sort_by_key(|j| std::cmp::Reverse(j.start_time));
        out
    }

    fn job(&self, id: &str) -> Option<JobDetails> {
        let job = self.0.job(id)?;
        let overview = overview_of(&job);
        let rt = job.lock();
        let mut vertices = Vec::new();
        let mut nodes = Vec::new();
        for v in &job.spec.graph.vertices {
            let head = v.head().0;
            let tails: Vec<u32> = v
                .operators
                .iter()
                .filter(|o| !o.exchange_outputs.is_empty())
                .map(|o| o.operator.0)
                .collect();
            let subtasks: Vec<&TaskStatus> = (0..v.parallelism)
                .filter_map(|j| rt.tasks.get(&(v.id.0, j)))
                .collect();
            let mut tasks = counts(subtasks.iter().map(|t| t.state.as_str()));
            tasks.created += v.parallelism.saturating_sub(tasks.total);
            tasks.total = v.parallelism;
            let mut m = VertexMetrics::default();
            let (mut rin, mut rout, mut idle, mut bp) = (0.0, 0.0, 0.0, 0.0);
            for t in &subtasks {
                if let Some((_, r)) = &t.latest {
                    for c in &r.operators {
                        if c.operator_id == head {
                            m.read_records += c.records_in;
                        }
                        if tails.contains(&c.operator_id) {
                            m.write_records += c.records_out;
                        }
                    }
                    m.read_bytes += r.bytes_in;
                    m.write_bytes += r.bytes_out;
                }
                let (a, b, c, d) = rates(t, head, &tails);
                rin += a;
                rout += b;
                idle += c;
                bp += d;
            }
            let running = subtasks.iter().filter(|t| t.state == "RUNNING").count();
            let (idle, bp) = (idle / running.max(1) as f64, bp / running.max(1) as f64);
            let status = if tasks.failed > 0 {
                "FAILED"
            } else if tasks.running > 0 {
                "RUNNING"
            } else if tasks.finished == tasks.total {
                "FINISHED"
            } else if tasks.canceled > 0 {
                "CANCELED"
            } else if tasks.deploying > 0 {
                "DEPLOYING"
            } else {
                "CREATED"
            };
            vertices.push(VertexDetails {
                id: v.id.to_string(),
                name: v.name.clone(),
                parallelism: v.parallelism,
                status: status.to_string(),
                tasks,
                metrics: m,
                records_in_per_second: rin,
                records_out_per_second: rout,
                backpressure_level: if bp > 0.5 {
                    "high"
                } else if bp > 0.1 {
                    "low"
                } else {
                    "ok"
                }
                .to_string(),
                busy_ratio: if running == 0 {
                    0.0
                } else {
                    (1.0 - idle - bp).max(0.0)
                },
                idle_ratio: idle,
                backpressured_ratio: bp,
            });
            nodes.push(PlanNode {
                id: v.id.to_string(),
                description: v.name.clone(),
                parallelism: v.parallelism,
                inputs: job
                    .spec
                    .graph
                    .inputs_of(v.id)
                    .map(|e| PlanInput {
                        id: e.source.to_string(),
                        ship_strategy: ship_strategy(e.partitioning).to_string(),
                        exchange: match e.mode {
                            ExchangeMode::Pipelined => "pipelined",
                            ExchangeMode::Blocking => "blocking",
                        }
                        .to_string(),
                    })
                    .collect(),
            });
        }
        let restarts = rt.restarts;
        let failure = rt.failure.clone();
        let exceptions = rt
            .exceptions
            .iter()
            .map(|(t, m)| crate::rest::model::ExceptionEntry {
                exception: m.clone(),
                timestamp: *t as i64,
            })
            .collect();
        let splits = rt.split_stats.map(|s| SplitLocality {
            local_splits: s.local_splits,
            remote_splits: s.remote_splits,
            local_bytes: s.local_bytes,
            remote_bytes: s.remote_bytes,
        });
        drop(rt);
        Some(JobDetails {
            jid: job.spec.id.clone(),
            name: job.spec.name.clone(),
            state: overview.state,
            start_time: overview.start_time,
            end_time: overview.end_time,
            duration: overview.duration,
            now: super::now_ms() as i64,
            restarts,
            failure,
            exceptions,
            vertices,
            plan: Plan {
                jid: job.spec.id.clone(),
                name: job.spec.name.clone(),
                nodes,
            },
            splits,
        })
    }

    fn cancel(&self, id: &str) -> Result<(), String> {
        super::service::cancel(&self.0, id)
    }

    fn savepoint(
        &self,
        id: &str,
        dir: Option<String>,
        stop: bool,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<String, String>>, String> {
        let job = self.0.job(id).ok_or_else(|| format!("no job {id}"))?;
        let mut conf = self.0.config.clone();
        conf.merge(&job.spec.config);
        let dir = dir
            .filter(|d| !d.trim().is_empty())
            .or_else(|| conf.get_opt(&spate_common::config::keys::SAVEPOINTS_DIR))
            .filter(|d| !d.trim().is_empty())
            .ok_or("no savepoint directory: give one, or set state.savepoints.dir")?;
        if job.lock().state != "RUNNING" {
            return Err(format!("job {id} is not running"));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        job.events
            .send(super::JobEvent::Savepoint {
                dir: dir.trim().to_string(),
                stop,
                reply: tx,
            })
            .map_err(|_| format!("job {id} has ended"))?;
        Ok(rx)
    }

    fn checkpoints(&self, id: &str) -> Option<serde_json::Value> {
        let job = self.0.job(id)?;
        let c = job.lock().checkpoints.clone()?;
        Some(serde_json::json!({
            "counts": {"completed": c.completed, "failed": c.failed, "in_progress": c.in_progress},
            "latest": {
                "completed": c.latest.map(|(id, ms, bytes, path)| serde_json::json!({
                    "id": id, "end_to_end_duration": ms, "state_size": bytes, "external_path": path,
                })),
                "restored": c.restored.map(|p| serde_json::json!({"external_path": p})),
            },
        }))
    }

    fn taskmanagers(&self) -> Vec<TaskManagerInfo> {
        self.0
            .tms()
            .values()
            .map(|t| TaskManagerInfo {
                id: t.id.clone(),
                path: t.address.clone(),
                data_port: 0,
                host: t.host.clone(),
                slots_number: t.slots,
                free_slots: t.slots.saturating_sub(t.used),
                time_since_last_heartbeat: t.last_heartbeat.elapsed().as_millis() as i64,
            })
            .collect()
    }

    fn config(&self) -> Vec<(String, String)> {
        self.0
            .config
            .iter()
            .filter(|(k, _)| *k != spate_common::config::keys::CLUSTER_SECRET.spec.name)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
