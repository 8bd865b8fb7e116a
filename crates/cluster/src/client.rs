//! Talking to a JobManager: submit a job with its binary, follow it, list and cancel jobs.

use crate::auth::AddSecret;
use crate::net::Secret;
use crate::pb;
use crate::pb::job_manager_client::JobManagerClient;
use anyhow::{anyhow, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::path::Path;
use std::time::Duration;
use tonic::codegen::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// A connected client.
pub type Client = JobManagerClient<InterceptedService<Channel, AddSecret>>;

/// Chunk size of uploads and downloads.
pub const CHUNK: usize = 1 << 20;

/// Connects to the JobManager at `address` (`host:port`).
pub async fn connect(address: &str, secret: &Secret) -> Result<Client> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| anyhow!("'{address}' is not a JobManager address (host:port): {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| anyhow!("cannot reach the JobManager at {address}: {}", error_chain(&e)))?;
    Ok(
        JobManagerClient::with_interceptor(channel, AddSecret::new(secret)?)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20),
    )
}

/// The message of an error and its causes, on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// A gRPC status as a one-line error.
pub fn status_error(what: &str, s: tonic::Status) -> anyhow::Error {
    anyhow!("{what}: {}", s.message())
}

/// SHA-256 of a file, as hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Uploads `binary` (unless the blob store has it already) with the job's header; returns the
/// job id.
pub async fn submit(client: &mut Client, mut header: pb::SubmitHeader, binary: &Path) -> Result<String> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("cannot read the job binary {}", binary.display()))?
        .len();
    let path = binary.to_path_buf();
    header.binary_sha256 = tokio::task::spawn_blocking(move || sha256_file(&path)).await??;
    header.binary_size = size;
    let present = client
        .has_binary(pb::HasBinaryRequest {
            sha256: header.binary_sha256.clone(),
        })
        .await
        .map_err(|s| status_error("the JobManager refused the job", s))?
        .into_inner()
        .present;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let _ = tx
        .send(pb::SubmitChunk {
            part: Some(pb::submit_chunk::Part::Header(header)),
        })
        .await;
    if !present {
        let mut file = tokio::fs::File::open(binary)
            .await
            .with_context(|| format!("cannot read the job binary {}", binary.display()))?;
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt as _;
            loop {
                let mut buf = vec![0u8; CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        let chunk = pb::SubmitChunk {
                            part: Some(pb::submit_chunk::Part::Binary(buf)),
                        };
                        if tx.send(chunk).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    } else {
        drop(tx);
    }
    let reply = client
        .submit_job(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|s| status_error("the JobManager refused the job", s))?;
    Ok(reply.into_inner().job_id)
}

/// The job's current state.
pub async fn job(client: &mut Client, job_id: &str) -> Result<pb::JobInfo> {
    client
        .get_job(pb::JobRequest {
            job_id: job_id.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| status_error(&format!("job {job_id}"), s))
}

/// Whether a state is final.
pub fn is_terminal(state: &str) -> bool {
    matches!(state, "FINISHED" | "FAILED" | "CANCELED")
}

/// Polls until the job ends, logging its state changes.
pub async fn wait(client: &mut Client, job_id: &str) -> Result<pb::JobInfo> {
    let mut last = String::new();
    loop {
        let info = job(client, job_id).await?;
        if info.state != last {
            tracing::info!(job = %info.name, id = %job_id, "job is {}", info.state);
            last = info.state.clone();
        }
        if is_terminal(&info.state) {
            return Ok(info);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every job the JobManager knows.
pub async fn list(client: &mut Client) -> Result<Vec<pb::JobInfo>> {
    client
        .list_jobs(pb::ListJobsRequest {})
        .await
        .map(|r| r.into_inner().jobs)
        .map_err(|s| status_error("cannot list jobs", s))
}

/// Cancels a job.
pub async fn cancel(client: &mut Client, job_id: &str) -> Result<()> {
    client
        .cancel_job(pb::JobRequest {
            job_id: job_id.to_string(),
        })
        .await
        .map(|_| ())
        .map_err(|s| status_error(&format!("cannot cancel job {job_id}"), s))
}

/// A small tokio runtime for blocking callers.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("spate-rpc")
        .enable_all()
        .build()
        .context("cannot start the RPC runtime")
}
