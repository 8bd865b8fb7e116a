//! Checkpoint storage: where snapshots live and how they come back.
//!
//! Layout under `state.checkpoints.dir` (any URI `spate_fs` opens: a local path, `file://`,
//! `hdfs://`):
//!
//! ```text
//! <dir>/<job-id>/chk-<n>/task-<vertex>-<subtask>   the snapshots of one subtask's operators
//! <dir>/<job-id>/chk-<n>/_metadata                 written last: what the checkpoint holds
//! ```
//!
//! A savepoint has the same layout in a directory of its own. Every file starts with a magic
//! number; the metadata lists each task file with its length and checksum, and a checkpoint is
//! used only if its metadata exists and every file it names is intact, so a half-written or
//! corrupted checkpoint is never restored (recovery falls back to an older one).

use super::{decode, encode, CheckpointId, OperatorSnapshot};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use spate_common::ids::{OperatorId, VertexId};
use spate_fs::{FileSystem, FsUri};
use spate_graph::partitioning::subtask_for_key_group;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;
use tracing::warn;

/// Name of the metadata file of a checkpoint.
pub const METADATA_FILE: &str = "_metadata";
const MAGIC_TASK: &[u8; 8] = b"SPATEST1";
const MAGIC_META: &[u8; 8] = b"SPATECM1";
/// Largest file this module reads back (guards against a corrupted length).
const MAX_FILE: u64 = 16 << 30;

/// A file of a checkpoint, as the metadata names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// File name inside the checkpoint directory.
    pub name: String,
    /// Length in bytes.
    pub len: u64,
    /// FNV-1a 64 of the whole file.
    pub checksum: u64,
}

/// The state of one operator in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorState {
    /// The operator (stable: assigned in the order the program builds its pipeline).
    pub operator: OperatorId,
    /// Its name (for messages).
    pub name: String,
    /// Its parallelism when the checkpoint was taken.
    pub parallelism: u32,
    /// The file holding subtask `i`'s snapshot (`None`: no state).
    pub subtasks: Vec<Option<StateFile>>,
    /// What sinks staged, for their commit.
    pub committables: Vec<Vec<u8>>,
}

/// Everything a checkpoint holds, apart from the task files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMetadata {
    /// The job it was taken of.
    pub job: String,
    /// Its id.
    pub checkpoint: CheckpointId,
    /// Whether a user asked for it (a savepoint).
    pub savepoint: bool,
    /// When it started (ms since the epoch).
    pub timestamp_ms: i64,
    /// Number of key groups of the job.
    pub max_parallelism: u32,
    /// Operators with their state.
    pub operators: Vec<OperatorState>,
    /// Unassigned splits of each source's enumerator, encoded.
    pub enumerators: Vec<(OperatorId, Vec<Vec<u8>>)>,
}

impl CheckpointMetadata {
    /// The state of `operator`, if the checkpoint has it.
    pub fn operator(&self, operator: OperatorId) -> Option<&OperatorState> {
        self.operators.iter().find(|o| o.operator == operator)
    }
    /// The enumerator state of source `operator`, if any.
    pub fn enumerator(&self, operator: OperatorId) -> Option<&[Vec<u8>]> {
        self.enumerators
            .iter()
            .find(|(o, _)| *o == operator)
            .map(|(_, s)| s.as_slice())
    }
}

/// FNV-1a, 64 bits: a checksum that catches truncation and flipped bytes.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn fs_err(what: &str, uri: &FsUri, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{what} {uri}: {e}"))
}

fn write_file(fs: &dyn FileSystem, uri: &FsUri, bytes: &[u8]) -> Result<()> {
    let mut w = fs
        .create(uri, true)
        .map_err(|e| fs_err("cannot create", uri, e))?;
    w.write_all(bytes).map_err(|e| fs_err("cannot write", uri, e))?;
    w.close().map_err(|e| fs_err("cannot close", uri, e))
}

fn read_file(fs: &dyn FileSystem, uri: &FsUri) -> Result<Vec<u8>> {
    let status = fs.status(uri).map_err(|e| fs_err("cannot read", uri, e))?;
    if status.len > MAX_FILE {
        return Err(Error::Other(format!(
            "{uri}: {} bytes is too large for a state file",
            status.len
        )));
    }
    let mut bytes = Vec::with_capacity(status.len as usize);
    let mut r = fs.open(uri, 0).map_err(|e| fs_err("cannot read", uri, e))?;
    r.read_to_end(&mut bytes)
        .map_err(|e| fs_err("cannot read", uri, e))?;
    Ok(bytes)
}

/// Encodes the snapshots of one subtask's operators as a task file.
pub fn encode_task_file(snapshots: &[(OperatorId, OperatorSnapshot)]) -> Result<Vec<u8>> {
    let mut bytes = MAGIC_TASK.to_vec();
    bytes.extend(encode(snapshots)?);
    Ok(bytes)
}

/// Decodes a task file.
pub fn decode_task_file(bytes: &[u8]) -> Result<Vec<(OperatorId, OperatorSnapshot)>> {
    match bytes.strip_prefix(MAGIC_TASK.as_slice()) {
        Some(rest) => decode(rest),
        None => Err(Error::Codec("not a Spate state file (bad magic number)".into())),
    }
}

/// Encodes checkpoint metadata.
pub fn encode_metadata(meta: &CheckpointMetadata) -> Result<Vec<u8>> {
    let body = encode(meta)?;
    let mut bytes = MAGIC_META.to_vec();
    bytes.extend(checksum(&body).to_le_bytes());
    bytes.extend(body);
    Ok(bytes)
}

/// Decodes checkpoint metadata, checking its checksum.
pub fn decode_metadata(bytes: &[u8]) -> Result<CheckpointMetadata> {
    let rest = bytes
        .strip_prefix(MAGIC_META.as_slice())
        .ok_or_else(|| Error::Codec("not a Spate checkpoint metadata file (bad magic number)".into()))?;
    if rest.len() < 8 {
        return Err(Error::Codec("checkpoint metadata is truncated".into()));
    }
    let (sum, body) = rest.split_at(8);
    let mut s = [0u8; 8];
    s.copy_from_slice(sum);
    if u64::from_le_bytes(s) != checksum(body) {
        return Err(Error::Codec(
            "checkpoint metadata is corrupt (checksum mismatch)".into(),
        ));
    }
    decode(body)
}

/// The checkpoint directory of one job (or a savepoint's parent directory).
#[derive(Clone, Debug)]
pub struct CheckpointStorage {
    fs: Arc<dyn FileSystem>,
    root: FsUri,
}

impl CheckpointStorage {
    /// The directory `<dir>/<job>` (created when the first checkpoint is written).
    pub fn for_job(dir: &str, job: &str) -> Result<Self> {
        let (fs, uri) =
            spate_fs::resolve(dir).map_err(|e| Error::Other(format!("state.checkpoints.dir: {e}")))?;
        Ok(CheckpointStorage {
            fs,
            root: uri.join(job),
        })
    }

    /// The directory of checkpoint `id`.
    pub fn checkpoint_dir(&self, id: CheckpointId) -> FsUri {
        self.root.join(&format!("chk-{id}"))
    }

    /// Writes the task file of `subtask` of `vertex` into the directory `dir` of a checkpoint.
    pub fn write_task_state(
        dir: &str,
        vertex: VertexId,
        subtask: u32,
        snapshots: &[(OperatorId, OperatorSnapshot)],
    ) -> Result<StateFile> {
        let (fs, dir) =
            spate_fs::resolve(dir).map_err(|e| Error::Other(format!("checkpoint directory: {e}")))?;
        let name = format!("task-{}-{subtask}", vertex.0);
        let bytes = encode_task_file(snapshots)?;
        fs.mkdirs(&dir).map_err(|e| fs_err("cannot create", &dir, e))?;
        write_file(fs.as_ref(), &dir.join(&name), &bytes)?;
        Ok(StateFile {
            name,
            len: bytes.len() as u64,
            checksum: checksum(&bytes),
        })
    }

    /// Writes the metadata of a complete checkpoint (atomically: written aside, then renamed).
    pub fn write_metadata(dir: &str, meta: &CheckpointMetadata) -> Result<()> {
        let (fs, dir) =
            spate_fs::resolve(dir).map_err(|e| Error::Other(format!("checkpoint directory: {e}")))?;
        fs.mkdirs(&dir).map_err(|e| fs_err("cannot create", &dir, e))?;
        let tmp = dir.join(&format!(".{METADATA_FILE}.inprogress"));
        write_file(fs.as_ref(), &tmp, &encode_metadata(meta)?)?;
        let target = dir.join(METADATA_FILE);
        let _ = fs.delete(&target, false);
        fs.rename(&tmp, &target)
            .map_err(|e| fs_err("cannot rename", &tmp, e))
    }

    /// Removes checkpoint `id` (discarded or no longer retained).
    pub fn discard(&self, id: CheckpointId) {
        let dir = self.checkpoint_dir(id);
        if let Err(e) = self.fs.delete(&dir, true) {
            if !e.is_not_found() {
                warn!("cannot remove checkpoint {dir}: {e}");
            }
        }
    }

    /// Removes the job's (empty) checkpoint directory.
    pub fn remove_job_dir(&self) {
        if let Ok(entries) = self.fs.list_dir(&self.root) {
            if entries.is_empty() {
                let _ = self.fs.delete(&self.root, false);
            }
        }
    }

    /// The ids of the checkpoints in the job's directory, newest first.
    pub fn list(&self) -> Vec<CheckpointId> {
        let mut ids: Vec<CheckpointId> = match self.fs.list_dir(&self.root) {
            Ok(entries) => entries
                .iter()
                .filter_map(|e| e.uri.file_name().strip_prefix("chk-")?.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    }

    /// The newest intact checkpoint of the job, skipping (with a warning) incomplete or corrupt ones.
    pub fn latest(&self) -> Option<RestoredCheckpoint> {
        for id in self.list() {
            let dir = self.checkpoint_dir(id);
            match RestoredCheckpoint::load(&dir.to_string()) {
                Ok(c) => return Some(c),
                Err(e) => warn!("checkpoint {dir} cannot be used, trying an older one: {e}"),
            }
        }
        None
    }
}

/// The checkpoint to start from for a user-given path (`--from-savepoint`): the path itself
/// when it holds a checkpoint or savepoint (its metadata file); else, when it is a job's
/// checkpoint directory (`<state.checkpoints.dir>/<job-id>`), its newest intact checkpoint,
/// skipping incomplete or corrupt ones with a warning.
pub fn resolve_restore_path(path: &str) -> Result<String> {
    let (fs, uri) = spate_fs::resolve(path).map_err(|e| Error::Other(format!("{path}: {e}")))?;
    if fs.status(&uri.join(METADATA_FILE)).is_ok() {
        return Ok(uri.to_string());
    }
    let storage = CheckpointStorage { fs, root: uri };
    match storage.latest() {
        Some(c) => Ok(c.dir),
        None => Err(Error::Other(format!(
            "{path} holds no complete checkpoint or savepoint (no {METADATA_FILE} in it or in a chk-<n> directory below it)"
        ))),
    }
}

/// A complete checkpoint read back, every file checked.
#[derive(Clone, Debug)]
pub struct RestoredCheckpoint {
    /// Its directory.
    pub dir: String,
    /// Its metadata.
    pub meta: CheckpointMetadata,
    files: Arc<HashMap<String, Vec<(OperatorId, OperatorSnapshot)>>>,
}

impl RestoredCheckpoint {
    /// Reads the checkpoint (or savepoint) in directory `dir`, checking every file.
    pub fn load(dir: &str) -> Result<Self> {
        let (fs, uri) = spate_fs::resolve(dir).map_err(|e| Error::Other(format!("checkpoint {dir}: {e}")))?;
        let meta_uri = uri.join(METADATA_FILE);
        let meta = decode_metadata(&read_file(fs.as_ref(), &meta_uri)?)
            .map_err(|e| Error::Other(format!("{meta_uri}: {e}")))?;
        let mut files = HashMap::new();
        for op in &meta.operators {
            for f in op.subtasks.iter().flatten() {
                if files.contains_key(&f.name) {
                    continue;
                }
                let file_uri = uri.join(&f.name);
                let bytes = read_file(fs.as_ref(), &file_uri)?;
                if bytes.len() as u64 != f.len || checksum(&bytes) != f.checksum {
                    return Err(Error::Other(format!(
                        "{file_uri} is corrupt: {} bytes (expected {}), checksum mismatch",
                        bytes.len(),
                        f.len
                    )));
                }
                let snaps = decode_task_file(&bytes).map_err(|e| Error::Other(format!("{file_uri}: {e}")))?;
                files.insert(f.name.clone(), snaps);
            }
        }
        Ok(RestoredCheckpoint {
            dir: uri.to_string(),
            meta,
            files: Arc::new(files),
        })
    }

    fn snapshot_of(&self, op: &OperatorState, subtask: usize) -> Option<&OperatorSnapshot> {
        let file = op.subtasks.get(subtask)?.as_ref()?;
        self.files
            .get(&file.name)?
            .iter()
            .find(|(o, _)| *o == op.operator)
            .map(|(_, s)| s)
    }

    /// The state `subtask` of `parallelism` gets for `operator`: the key groups it owns now, and
    /// its operator state (its own items at an unchanged parallelism, else a round-robin share).
    pub fn state_for(
        &self,
        operator: OperatorId,
        subtask: u32,
        parallelism: u32,
    ) -> Option<OperatorSnapshot> {
        let op = self.meta.operator(operator)?;
        let max = self.meta.max_parallelism.max(1);
        let mut out = OperatorSnapshot::default();
        for old in 0..op.parallelism as usize {
            let Some(s) = self.snapshot_of(op, old) else {
                continue;
            };
            out.keyed.extend(
                s.keyed
                    .iter()
                    .filter(|(g, _)| subtask_for_key_group(*g, max, parallelism) == subtask)
                    .cloned(),
            );
        }
        if op.parallelism == parallelism {
            if let Some(s) = self.snapshot_of(op, subtask as usize) {
                out.operator = s.operator.clone();
            }
        } else {
            let all = (0..op.parallelism as usize)
                .filter_map(|old| self.snapshot_of(op, old))
                .flat_map(|s| s.operator.iter());
            out.operator = all
                .enumerate()
                .filter(|(i, _)| *i as u32 % parallelism == subtask)
                .map(|(_, item)| item.clone())
                .collect();
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(groups: &[u32], items: &[u8]) -> OperatorSnapshot {
        OperatorSnapshot {
            keyed: groups.iter().map(|g| (*g, vec![*g as u8])).collect(),
            operator: items.iter().map(|i| vec![*i]).collect(),
            committables: Vec::new(),
        }
    }

    fn write_checkpoint(dir: &str, parallelism: u32, max: u32) -> CheckpointMetadata {
        let op = OperatorId(7);
        let mut subtasks = Vec::new();
        for j in 0..parallelism {
            let groups: Vec<u32> = (0..max)
                .filter(|g| subtask_for_key_group(*g, max, parallelism) == j)
                .collect();
            let f = CheckpointStorage::write_task_state(
                dir,
                VertexId(1),
                j,
                &[(op, snap(&groups, &[j as u8 * 10, j as u8 * 10 + 1]))],
            )
            .unwrap();
            subtasks.push(Some(f));
        }
        let meta = CheckpointMetadata {
            job: "j".into(),
            checkpoint: 3,
            savepoint: false,
            timestamp_ms: 0,
            max_parallelism: max,
            operators: vec![OperatorState {
                operator: op,
                name: "op".into(),
                parallelism,
                subtasks,
                committables: vec![b"c".to_vec()],
            }],
            enumerators: vec![(OperatorId(1), vec![b"split".to_vec()])],
        };
        CheckpointStorage::write_metadata(dir, &meta).unwrap();
        meta
    }

    #[test]
    fn round_trip_and_redistribution_by_key_group() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chk-3").display().to_string();
        let meta = write_checkpoint(&dir, 3, 16);
        let c = RestoredCheckpoint::load(&dir).unwrap();
        assert_eq!(c.meta, meta);
        // Same parallelism: each subtask gets exactly its own state back.
        let s1 = c.state_for(OperatorId(7), 1, 3).unwrap();
        assert_eq!(s1.operator, vec![vec![10], vec![11]]);
        // Rescaled 3 -> 2: every key group lands on exactly one new subtask, the one owning it.
        let mut seen = Vec::new();
        for j in 0..2 {
            let s = c.state_for(OperatorId(7), j, 2).unwrap();
            for (g, _) in &s.keyed {
                assert_eq!(subtask_for_key_group(*g, 16, 2), j);
                seen.push(*g);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..16).collect::<Vec<_>>());
        let items: usize = (0..2)
            .map(|j| c.state_for(OperatorId(7), j, 2).unwrap().operator.len())
            .sum();
        assert_eq!(items, 6, "operator state is dealt out, none lost");
        assert!(c.state_for(OperatorId(99), 0, 2).is_none());
    }

    #[test]
    fn corrupt_truncated_or_missing_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chk-3");
        write_checkpoint(&dir.display().to_string(), 2, 8);
        let task = dir.join("task-1-0");
        let mut bytes = std::fs::read(&task).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&task, &bytes).unwrap();
        let e = RestoredCheckpoint::load(&dir.display().to_string()).unwrap_err();
        assert!(e.to_string().contains("corrupt"), "{e}");
        std::fs::write(&task, &bytes[..3]).unwrap();
        assert!(RestoredCheckpoint::load(&dir.display().to_string()).is_err());
        std::fs::remove_file(&task).unwrap();
        assert!(RestoredCheckpoint::load(&dir.display().to_string()).is_err());
    }

    #[test]
    fn metadata_decoder_refuses_garbage_truncation_and_flips() {
        let meta = CheckpointMetadata {
            job: "j".into(),
            checkpoint: 1,
            savepoint: true,
            timestamp_ms: 5,
            max_parallelism: 4,
            operators: Vec::new(),
            enumerators: Vec::new(),
        };
        let bytes = encode_metadata(&meta).unwrap();
        assert_eq!(decode_metadata(&bytes).unwrap(), meta);
        assert!(decode_metadata(b"garbage").is_err());
        assert!(decode_metadata(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_metadata(&bytes[..10]).is_err());
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(decode_metadata(&flipped).is_err());
        assert!(decode_task_file(b"SPATEST1\xff\xff\xff").is_err());
        assert!(decode_task_file(b"nope").is_err());
    }

    #[test]
    fn latest_skips_incomplete_and_corrupt_checkpoints() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().display().to_string();
        let storage = CheckpointStorage::for_job(&root, "job").unwrap();
        let d = |id| storage.checkpoint_dir(id).to_string();
        write_checkpoint(&d(1), 1, 4);
        write_checkpoint(&d(2), 1, 4);
        // chk-3 has no metadata (never completed).
        CheckpointStorage::write_task_state(&d(3), VertexId(1), 0, &[]).unwrap();
        assert_eq!(storage.list(), vec![3, 2, 1]);
        assert!(storage.latest().unwrap().dir.ends_with("chk-2"));
        // A flipped byte in chk-2: recovery falls back to chk-1.
        let task = tmp.path().join("job/chk-2/task-1-0");
        let mut bytes = std::fs::read(&task).unwrap();
        bytes[9] ^= 0x55;
        std::fs::write(&task, bytes).unwrap();
        assert!(storage.latest().unwrap().dir.ends_with("chk-1"));
    }
}
