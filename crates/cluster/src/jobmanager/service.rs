//! The JobManager's gRPC service.

use super::{now_ms, JobEntry, JobEvent, JobManager, TaskManagerEntry, WorkerEntry};
use crate::coordinator::{stats_from_wire, stats_to_wire, CoordReply, CoordRequest};
use crate::pb;
use sha2::{Digest as _, Sha256};
use spate_graph::JobGraph;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use tracing::{info, warn};

/// The service (a handle on the JobManager).
pub(crate) struct Service(pub Arc<JobManager>);

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Largest accepted job binary.
const MAX_BINARY: u64 = 4 << 30;

fn job_info(job: &JobEntry) -> pb::JobInfo {
    let (state, failure, restarts, stats) = {
        let rt = job.lock();
        (
            rt.state.clone(),
            rt.failure.clone().unwrap_or_default(),
            rt.restarts,
            rt.split_stats,
        )
    };
    pb::JobInfo {
        job_id: job.spec.id.clone(),
        name: job.spec.name.clone(),
        state,
        failure,
        duration_ms: job.duration_ms(),
        operators: job.operator_totals(),
        split_stats_json: serde_json::to_string(&stats.map(stats_to_wire)).unwrap_or_default(),
        restarts,
    }
}

#[tonic::async_trait]
impl pb::job_manager_server::JobManager for Service {
    async fn register_task_manager(
        &self,
        request: Request<pb::RegisterTaskManagerRequest>,
    ) -> Result<Response<pb::RegisterTaskManagerResponse>, Status> {
        let r = request.into_inner();
        if r.slots == 0 {
            return Err(Status::invalid_argument("a TaskManager needs at least one slot"));
        }
        let n = self.0.next_tm.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("tm-{n}-{}", r.host);
        info!(taskmanager = %id, host = %r.host, slots = r.slots, pid = r.pid, "TaskManager registered");
        self.0.tms().insert(
            id.clone(),
            TaskManagerEntry {
                id: id.clone(),
                host: r.host,
                address: r.address,
                slots: r.slots,
                used: 0,
                last_heartbeat: Instant::now(),
                commands: None,
                stream_generation: 0,
                resource_id: r.resource_id,
            },
        );
        self.0.slots_changed.notify_waiters();
        Ok(Response::new(pb::RegisterTaskManagerResponse {
            taskmanager_id: id,
            heartbeat_interval_ms: self.0.heartbeat_interval.as_millis() as u64,
            heartbeat_timeout_ms: self.0.heartbeat_timeout.as_millis() as u64,
        }))
    }

    type CommandsStream = Stream_<pb::TaskManagerCommand>;

    async fn commands(
        &self,
        request: Request<pb::CommandsRequest>,
    ) -> Result<Response<Self::CommandsStream>, Status> {
        let id = request.into_inner().taskmanager_id;
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = {
            let mut tms = self.0.tms();
            let tm = tms
                .get_mut(&id)
                .ok_or_else(|| Status::not_found(format!("unknown TaskManager {id}: register first")))?;
            tm.stream_generation += 1;
            tm.commands = Some(tx.clone());
            tm.stream_generation
        };
        // Its slots can be taken now.
        self.0.slots_changed.notify_waiters();
        let jm = self.0.clone();
        tokio::spawn(async move {
            tx.closed().await;
            let current = jm.tms().get(&id).map(|t| t.stream_generation);
            if current == Some(generation) {
                jm.lose_taskmanager(&id, "its connection closed");
            }
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let known = match self.0.tms().get_mut(&r.taskmanager_id) {
            Some(tm) => {
                tm.last_heartbeat = Instant::now();
                true
            }
            None => false,
        };
        for exit in r.exited {
            if let Some(job) = self.0.job(&exit.job_id) {
                let _ = job.events.send(JobEvent::WorkerGone {
                    tm: r.taskmanager_id.clone(),
                    reason: exit.reason,
                });
            }
        }
        Ok(Response::new(pb::HeartbeatResponse { known }))
    }

    async fn has_binary(
        &self,
        request: Request<pb::HasBinaryRequest>,
    ) -> Result<Response<pb::HasBinaryResponse>, Status> {
        let path = self.0.blob_path(&request.into_inner().sha256)?;
        Ok(Response::new(pb::HasBinaryResponse {
            present: path.exists(),
        }))
    }

    async fn submit_job(
        &self,
        request: Request<Streaming<pb::SubmitChunk>>,
    ) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let mut stream = request.into_inner();
        let header = match stream.message().await? {
            Some(pb::SubmitChunk {
                part: Some(pb::submit_chunk::Part::Header(h)),
            }) => h,
            _ => return Err(Status::invalid_argument("a submission starts with its header")),
        };
        if header.protocol != crate::PROTOCOL {
            return Err(Status::failed_precondition(format!(
                "the job binary speaks cluster protocol {} but this JobManager speaks {}: build the job against the Spate version the cluster runs",
                header.protocol,
                crate::PROTOCOL
            )));
        }
        if header.binary_size > MAX_BINARY {
            return Err(Status::invalid_argument(format!(
                "job binary of {} bytes is larger than {MAX_BINARY}",
                header.binary_size
            )));
        }
        let graph: JobGraph = serde_json::from_str(&header.job_graph_json)
            .map_err(|e| Status::invalid_argument(format!("bad job graph: {e}")))?;
        let (config, config_lines) =
            super::job_config(&self.0.config, &header.config).map_err(Status::invalid_argument)?;
        let mode = super::parse_mode(&header.mode).map_err(Status::invalid_argument)?;
        let job_id = spate_common::ids::JobId::generate().to_string();
        let blob = |e: std::io::Error| Status::internal(format!("blob store: {e}"));
        let binary = self.0.blob_path(&header.binary_sha256)?;
        let mut next = stream.message().await?;
        if next.is_none() && !binary.exists() {
            return Err(Status::failed_precondition(
                "the blob store does not have this job binary; upload it",
            ));
        }
        if next.is_some() {
            let part = binary.with_extension(format!("part-{job_id}"));
            let mut file = std::fs::File::create(&part).map_err(blob)?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = next.take() {
                let Some(pb::submit_chunk::Part::Binary(bytes)) = chunk.part else {
                    let _ = std::fs::remove_file(&part);
                    return Err(Status::invalid_argument("a second header in one submission"));
                };
                size += bytes.len() as u64;
                if size > header.binary_size {
                    let _ = std::fs::remove_file(&part);
                    return Err(Status::invalid_argument("more binary bytes than announced"));
                }
                hasher.update(&bytes);
                file.write_all(&bytes).map_err(blob)?;
                next = stream.message().await?;
            }
            drop(file);
            let sha = hex::encode(hasher.finalize());
            if size != header.binary_size || sha != header.binary_sha256 {
                let _ = std::fs::remove_file(&part);
                return Err(Status::data_loss(
                    "the job binary arrived damaged (size or SHA-256 differ); submit again",
                ));
            }
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755)).map_err(blob)?;
            std::fs::rename(&part, &binary).map_err(blob)?;
        }
        let new = super::JobSpec {
            id: job_id.clone(),
            name: header.name,
            mode,
            graph,
            config,
            config_lines,
            args: header.args,
            working_dir: header.working_dir,
            sha256: header.binary_sha256.to_ascii_lowercase(),
            binary,
            submitted_ms: now_ms(),
        };
        // An accepted job survives this JobManager (when there is a job store).
        self.0.store_job(&new).await.map_err(|e| {
            warn!(job = %new.name, "cannot store the job: {e}");
            Status::unavailable(format!(
                "cannot keep the job in the job store (high-availability.storageDir): {e}"
            ))
        })?;
        let job = self.0.start_job(new).map_err(blob)?;
        info!(job = %job.spec.name, id = %job_id, mode = ?mode, vertices = job.spec.graph.vertices.len(), "job submitted");
        Ok(Response::new(pb::SubmitJobResponse { job_id }))
    }

    async fn get_job(&self, request: Request<pb::JobRequest>) -> Result<Response<pb::JobInfo>, Status> {
        let id = request.into_inner().job_id;
        let job = self
            .0
            .job(&id)
            .ok_or_else(|| Status::not_found(format!("no job {id}")))?;
        Ok(Response::new(job_info(&job)))
    }

    async fn list_jobs(
        &self,
        _request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let jobs: Vec<_> = self.0.jobs().values().cloned().collect();
        Ok(Response::new(pb::ListJobsResponse {
            jobs: jobs.iter().map(|j| job_info(j)).collect(),
        }))
    }

    async fn cancel_job(
        &self,
        request: Request<pb::JobRequest>,
    ) -> Result<Response<pb::CancelJobResponse>, Status> {
        let id = request.into_inner().job_id;
        cancel(&self.0, &id).map_err(Status::failed_precondition)?;
        Ok(Response::new(pb::CancelJobResponse {}))
    }

    type FetchBinaryStream = Stream_<pb::BinaryChunk>;

    async fn fetch_binary(
        &self,
        request: Request<pb::FetchBinaryRequest>,
    ) -> Result<Response<Self::FetchBinaryStream>, Status> {
        let id = request.into_inner().job_id;
        let job = self
            .0
            .job(&id)
            .ok_or_else(|| Status::not_found(format!("no job {id}")))?;
        let mut file = tokio::fs::File::open(&job.spec.binary)
            .await
            .map_err(|e| Status::internal(format!("blob store: {e}")))?;
        // Streamed from the file a few chunks ahead of the network, never whole in memory.
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            loop {
                let mut buf = vec![0u8; crate::client::CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(pb::BinaryChunk { data: buf })).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(Status::internal(format!("blob store: {e}")))).await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    type AttachWorkerStream = Stream_<pb::WorkerCommand>;

    async fn attach_worker(
        &self,
        request: Request<pb::AttachWorkerRequest>,
    ) -> Result<Response<Self::AttachWorkerStream>, Status> {
        let r = request.into_inner();
        let job = self
            .0
            .job(&r.job_id)
            .ok_or_else(|| Status::not_found(format!("no job {}", r.job_id)))?;
        let expected = crate::fingerprint(&job.spec.graph).map_err(|e| Status::internal(e.to_string()))?;
        if r.graph_fingerprint != expected {
            let msg = "the job binary built a different job graph on a TaskManager than when it was submitted: a job must build its pipeline deterministically from its arguments and configuration";
            let _ = job.events.send(JobEvent::WorkerGone {
                tm: r.taskmanager_id.clone(),
                reason: msg.into(),
            });
            return Err(Status::failed_precondition(msg));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = {
            let mut rt = job.lock();
            rt.worker_generation += 1;
            let g = rt.worker_generation;
            rt.workers.insert(
                r.taskmanager_id.clone(),
                WorkerEntry {
                    data_address: r.data_address,
                    commands: tx.clone(),
                    generation: g,
                },
            );
            g
        };
        let _ = job.events.send(JobEvent::WorkerAttached {
            tm: r.taskmanager_id.clone(),
        });
        let tm = r.taskmanager_id;
        tokio::spawn(async move {
            tx.closed().await;
            let current = job.lock().workers.get(&tm).map(|w| w.generation);
            if current == Some(generation) {
                let _ = job.events.send(JobEvent::WorkerGone {
                    tm,
                    reason: "its connection closed".into(),
                });
            }
        });
        Ok(Response::new(Box::pin(UnboundedReceiverStream::new(rx))))
    }

    async fn report_tasks(&self, request: Request<pb::TaskReports>) -> Result<Response<pb::Ack>, Status> {
        let r = request.into_inner();
        if let Some(job) = self.0.job(&r.job_id) {
            for t in r.tasks {
                let _ = job.events.send(JobEvent::Report(t));
            }
        }
        Ok(Response::new(pb::Ack {}))
    }

    async fn acknowledge_checkpoint(
        &self,
        request: Request<pb::CheckpointAck>,
    ) -> Result<Response<pb::Ack>, Status> {
        let r = request.into_inner();
        let ack: spate_runtime::checkpoint::coordinator::TaskAck = postcard::from_bytes(&r.ack)
            .map_err(|e| Status::invalid_argument(format!("malformed checkpoint acknowledgement: {e}")))?;
        if let Some(job) = self.0.job(&r.job_id) {
            let _ = job.events.send(JobEvent::CheckpointAck {
                checkpoint: r.checkpoint,
                ack: Box::new(ack),
            });
        }
        Ok(Response::new(pb::Ack {}))
    }

    async fn next_split(
        &self,
        request: Request<pb::NextSplitRequest>,
    ) -> Result<Response<pb::NextSplitResponse>, Status> {
        let r = request.into_inner();
        let job = self
            .0
            .job(&r.job_id)
            .ok_or_else(|| Status::not_found(format!("no job {}", r.job_id)))?;
        let coord = {
            let rt = job.lock();
            if rt.attempt != r.attempt {
                return Ok(Response::new(pb::NextSplitResponse::default()));
            }
            rt.coordinator.clone()
        };
        let coord = coord.ok_or_else(|| Status::unavailable("the job has no coordinator"))?;
        let req = CoordRequest::NextSplit {
            vertex: r.vertex,
            subtask: r.subtask,
            host: (!r.host.is_empty()).then_some(r.host),
            barrier: r.barrier,
        };
        let reply = tokio::task::spawn_blocking(move || coord.request(&req))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(format!("{e:#}")))?;
        match reply {
            CoordReply::Split { split, stats } => {
                // The counters of the running attempt, for the REST API and the job result.
                let mut rt = job.lock();
                if rt.attempt == r.attempt {
                    rt.split_stats = stats.map(stats_from_wire);
                }
                drop(rt);
                Ok(Response::new(pb::NextSplitResponse {
                    has_split: split.is_some(),
                    split: split.unwrap_or_default(),
                    wait: false,
                }))
            }
            CoordReply::Wait => Ok(Response::new(pb::NextSplitResponse {
                wait: true,
                ..Default::default()
            })),
            CoordReply::Error(e) => Err(Status::internal(e)),
            other => Err(Status::internal(format!(
                "unexpected coordinator reply {other:?}"
            ))),
        }
    }
}

/// Cancels a job that is still running.
pub(crate) fn cancel(jm: &JobManager, id: &str) -> Result<(), String> {
    let job = jm.job(id).ok_or_else(|| format!("no job {id}"))?;
    let state = job.state();
    if crate::client::is_terminal(&state) {
        return Err(format!("job {id} already ended ({state})"));
    }
    if job.events.send(JobEvent::Cancel).is_err() {
        warn!(job = %id, "the job's driver is gone");
    }
    Ok(())
}
