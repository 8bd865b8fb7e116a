//! The job coordinator: a child process of the job binary that the JobManager starts next to
//! itself for each job. It holds what must exist once per job: the sources' split enumerators
//! (recreated for every attempt) and the sinks' `initialize`/`finalize`.
//!
//! Protocol with the JobManager, over a Unix socket the JobManager creates (path in
//! `SPATE_COORDINATOR_SOCKET`, in a directory only the JobManager's user can open): frames of a
//! little-endian `u32` length and a postcard body. The coordinator speaks first with
//! [`CoordReply::Hello`]; then the JobManager sends one [`CoordRequest`] at a time and reads one
//! reply. The coordinator exits when the socket or its stdin closes.
//!
//! A source subtask's request for work (gRPC `NextSplit` from its worker) becomes
//! [`CoordRequest::NextSplit`], answered with [`CoordReply::Split`] (a split, or none left, with
//! the job's split locality counters so far: the JobManager keeps them for the REST API while the
//! job runs) or [`CoordReply::Wait`] (a split waits for a reader on a host that stores it; the
//! worker asks again shortly).
//!
//! [`CoordRequest::PendingHosts`] asks where the splits left are stored (for a resource manager
//! that starts TaskManagers on those hosts, see `jobmanager::resources`).

use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};
use spate_common::config::Configuration;
use spate_common::ids::VertexId;
use spate_graph::JobGraph;
use spate_runtime::code::{ErasedEnumerator, JobCode, NodeCode};
use spate_runtime::executor::{plan_submission, JobSubmission};
use spate_runtime::source::{SplitAssignment, SplitStats};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 64 << 20;

/// What the JobManager asks.
#[derive(Debug, Serialize, Deserialize)]
pub enum CoordRequest {
    /// Start an attempt: sinks initialize, enumerators are created afresh; or, with `restore`
    /// (a checkpoint or savepoint directory), sinks recover to it and enumerators restore.
    Reset {
        attempt: u32,
        restore: Option<String>,
        allow_non_restored: bool,
    },
    /// Work for a source subtask: answered with [`CoordReply::Split`] or [`CoordReply::Wait`].
    /// `barrier` is the last checkpoint barrier the reader injected.
    NextSplit {
        vertex: u32,
        subtask: u32,
        host: Option<String>,
        barrier: u64,
    },
    /// Checkpoint `checkpoint` starts: the enumerators' unassigned splits, answered with
    /// [`CoordReply::Enumerators`]; from now on a reader that has not injected this checkpoint's
    /// barrier waits for new splits.
    SnapshotEnumerators { checkpoint: u64 },
    /// A checkpoint completed: sinks commit what they staged for it (by operator id).
    Commit { committables: Vec<(u32, Vec<Vec<u8>>)> },
    /// A source subtask runs again (batch failover): the splits it was given in this attempt
    /// are handed to it again, in the same order, before any new one.
    ReplaySplits { vertex: u32, subtask: u32 },
    /// The job ended: sinks commit (`success`) or clean up.
    Finalize { success: bool },
    /// Locality counts of the splits handed out.
    Stats,
    /// Where the splits not handed out yet are stored: answered with [`CoordReply::Hosts`].
    PendingHosts,
}

/// What the coordinator answers.
#[derive(Debug, Serialize, Deserialize)]
pub enum CoordReply {
    /// First message: the fingerprint of the planned graph.
    Hello { fingerprint: String },
    /// Done.
    Ok,
    /// Failed, with the message.
    Error(String),
    /// A postcard-encoded split, or none left for the subtask; with the job's split locality
    /// counts after this assignment (see [`stats_to_wire`]).
    Split {
        split: Option<Vec<u8>>,
        stats: Option<[u64; 4]>,
    },
    /// Local splits, remote splits, local bytes, remote bytes (see [`stats_to_wire`]).
    Stats(Option<[u64; 4]>),
    /// No split for the subtask yet (it waits for locality): ask again shortly.
    Wait,
    /// The unassigned splits of each source (by operator id), encoded.
    Enumerators(Vec<(u32, Vec<Vec<u8>>)>),
    /// The hosts of the splits left, with their bytes, summed over the job's sources; `None`
    /// before the first attempt created the enumerators.
    Hosts(Option<Vec<(String, u64)>>),
}

/// Split locality counts as they travel (to the JobManager, and on to the client as JSON):
/// `[local splits, remote splits, local bytes, remote bytes]`.
pub fn stats_to_wire(s: SplitStats) -> [u64; 4] {
    [s.local_splits, s.remote_splits, s.local_bytes, s.remote_bytes]
}

/// The inverse of [`stats_to_wire`].
pub fn stats_from_wire([local_splits, remote_splits, local_bytes, remote_bytes]: [u64; 4]) -> SplitStats {
    SplitStats {
        local_splits,
        remote_splits,
        local_bytes,
        remote_bytes,
    }
}

/// Writes one frame.
pub fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<()> {
    let body = postcard::to_allocvec(msg).context("cannot encode a coordinator message")?;
    w.write_all(&(body.len() as u32).to_le_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame; errors on truncated, oversized or undecodable input.
pub fn read_frame<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> Result<T> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)
        .context("the coordinator connection closed")?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(anyhow!(
            "coordinator frame of {len} bytes is larger than {MAX_FRAME}"
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).context("truncated coordinator frame")?;
    postcard::from_bytes(&body).map_err(|e| anyhow!("garbage coordinator frame: {e}"))
}

/// Runs the coordinator until the JobManager hangs up.
pub fn run(sub: JobSubmission) -> Result<()> {
    let path = crate::role::required_env(crate::role::ENV_COORDINATOR_SOCKET).map_err(|e| anyhow!(e))?;
    crate::exit_when_stdin_closes();
    let (_, job) = plan_submission(&sub)?;
    let mut stream =
        UnixStream::connect(&path).with_context(|| format!("cannot connect to the JobManager at {path}"))?;
    write_frame(
        &mut stream,
        &CoordReply::Hello {
            fingerprint: crate::fingerprint(&job)?,
        },
    )?;
    let mut coord = Coordinator {
        job,
        code: sub.code,
        config: sub.config,
        enumerators: HashMap::new(),
        handed: HashMap::new(),
        replay: HashMap::new(),
        valve: 0,
        reset_once: false,
    };
    loop {
        let req: CoordRequest = match read_frame(&mut stream) {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let reply = coord.handle(req);
        write_frame(&mut stream, &reply)?;
    }
}

struct Coordinator {
    job: JobGraph,
    code: JobCode,
    config: Configuration,
    enumerators: HashMap<VertexId, Box<dyn ErasedEnumerator>>,
    /// Splits handed to each (vertex, subtask) in this attempt, encoded.
    handed: HashMap<(u32, u32), Vec<Vec<u8>>>,
    /// Splits to hand again to a subtask that runs again.
    replay: HashMap<(u32, u32), std::collections::VecDeque<Vec<u8>>>,
    /// The checkpoint whose enumerator snapshot was taken last: readers that have not injected
    /// its barrier get no new split (it would be both in that snapshot and in theirs).
    valve: u64,
    /// An attempt created the enumerators.
    reset_once: bool,
}

impl Coordinator {
    fn handle(&mut self, req: CoordRequest) -> CoordReply {
        match req {
            CoordRequest::Reset {
                restore,
                allow_non_restored,
                ..
            } => match self.reset(restore.as_deref(), allow_non_restored) {
                Ok(()) => CoordReply::Ok,
                Err(e) => CoordReply::Error(e.to_string()),
            },
            CoordRequest::SnapshotEnumerators { checkpoint } => {
                let mut states = Vec::new();
                for v in &self.job.vertices {
                    if let Some(e) = self.enumerators.get(&v.id) {
                        match e.snapshot() {
                            Ok(s) => states.push((v.head().0, s)),
                            Err(e) => return CoordReply::Error(format!("source '{}': {e}", v.name)),
                        }
                    }
                }
                self.valve = self.valve.max(checkpoint);
                CoordReply::Enumerators(states)
            }
            CoordRequest::Commit { committables } => {
                for (op, staged) in committables {
                    match self.code.node(spate_common::ids::OperatorId(op)) {
                        Ok(NodeCode::Operator(c)) => {
                            if let Err(e) = c.commit(staged) {
                                return CoordReply::Error(format!("cannot commit the output of {op}: {e}"));
                            }
                        }
                        _ => {
                            return CoordReply::Error(format!("operator {op} of a checkpoint is not a sink"))
                        }
                    }
                }
                CoordReply::Ok
            }
            CoordRequest::ReplaySplits { vertex, subtask } => {
                let handed = self.handed.remove(&(vertex, subtask)).unwrap_or_default();
                self.replay.insert((vertex, subtask), handed.into());
                CoordReply::Ok
            }
            CoordRequest::NextSplit {
                vertex,
                subtask,
                host,
                barrier,
            } => {
                if barrier < self.valve {
                    return CoordReply::Wait;
                }
                if let Some(bytes) = self
                    .replay
                    .get_mut(&(vertex, subtask))
                    .and_then(|q| q.pop_front())
                {
                    self.handed
                        .entry((vertex, subtask))
                        .or_default()
                        .push(bytes.clone());
                    return CoordReply::Split {
                        split: Some(bytes),
                        stats: self.stats(),
                    };
                }
                let v = VertexId(vertex);
                let Some(e) = self.enumerators.get_mut(&v) else {
                    return CoordReply::Error(format!("vertex {vertex} has no split enumerator"));
                };
                let split = match e.assign(subtask, host.as_deref()) {
                    SplitAssignment::Split(split) => split,
                    SplitAssignment::Wait => return CoordReply::Wait,
                    SplitAssignment::NoMoreSplits => {
                        return CoordReply::Split {
                            split: None,
                            stats: self.stats(),
                        }
                    }
                };
                let Some(vx) = self.job.vertices.get(vertex as usize) else {
                    return CoordReply::Error(format!("no vertex {vertex}"));
                };
                match self.code.node(vx.head()) {
                    Ok(NodeCode::Source(src)) => match src.encode_split(split) {
                        Ok(bytes) => {
                            self.handed
                                .entry((vertex, subtask))
                                .or_default()
                                .push(bytes.clone());
                            CoordReply::Split {
                                split: Some(bytes),
                                stats: self.stats(),
                            }
                        }
                        Err(e) => CoordReply::Error(e.to_string()),
                    },
                    _ => CoordReply::Error(format!("vertex {vertex} is not a source")),
                }
            }
            CoordRequest::Finalize { success } => {
                let mut first_error = None;
                for v in &self.job.vertices {
                    for op in &v.operators {
                        if let Ok(NodeCode::Operator(c)) = self.code.node(op.operator) {
                            if let Err(e) = c.finalize(success) {
                                first_error.get_or_insert(format!("operator '{}': {e}", op.name));
                            }
                        }
                    }
                }
                first_error.map_or(CoordReply::Ok, CoordReply::Error)
            }
            CoordRequest::Stats => CoordReply::Stats(self.stats()),
            CoordRequest::PendingHosts => CoordReply::Hosts(self.reset_once.then(|| self.pending_hosts())),
        }
    }

    /// Bytes of the splits left per host over every source, most bytes first.
    fn pending_hosts(&self) -> Vec<(String, u64)> {
        let mut bytes: HashMap<String, u64> = HashMap::new();
        for e in self.enumerators.values() {
            for (host, b) in e.pending_split_hosts() {
                *bytes.entry(host).or_default() += b;
            }
        }
        let mut out: Vec<(String, u64)> = bytes.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// The locality counts of every source that knows them, summed.
    fn stats(&self) -> Option<[u64; 4]> {
        let mut total: Option<SplitStats> = None;
        for e in self.enumerators.values() {
            if let Some(s) = e.assignment_stats() {
                total.get_or_insert_with(Default::default).add(&s);
            }
        }
        total.map(stats_to_wire)
    }

    fn reset(&mut self, restore: Option<&str>, allow_non_restored: bool) -> spate_runtime::Result<()> {
        self.reset_once = true;
        self.enumerators.clear();
        self.handed.clear();
        self.replay.clear();
        self.valve = 0;
        let restored = match restore {
            Some(dir) => {
                let max = self.config.get(&spate_common::config::keys::MAX_PARALLELISM) as u32;
                Some(spate_runtime::checkpoint::load_for_job(
                    dir,
                    &self.job,
                    max,
                    allow_non_restored,
                )?)
            }
            None => None,
        };
        self.enumerators =
            spate_runtime::checkpoint::prepare_job(&self.job, &self.code, &self.config, restored.as_ref())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_bad_input() {
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &CoordRequest::Reset {
                attempt: 3,
                restore: None,
                allow_non_restored: false,
            },
        )
        .unwrap();
        let back: CoordRequest = read_frame(&mut buf.as_slice()).unwrap();
        assert!(matches!(back, CoordRequest::Reset { attempt: 3, .. }));
        // Truncated.
        assert!(read_frame::<CoordRequest>(&mut &buf[..buf.len() - 1]).is_err());
        assert!(read_frame::<CoordRequest>(&mut &buf[..2]).is_err());
        // Oversized length.
        let big = (u32::MAX).to_le_bytes();
        assert!(read_frame::<CoordRequest>(&mut big.as_slice()).is_err());
        // Garbage body.
        let mut garbage = 3u32.to_le_bytes().to_vec();
        garbage.extend([0xff, 0xff, 0xff]);
        assert!(read_frame::<CoordRequest>(&mut garbage.as_slice()).is_err());
    }
}
