//! The job store: what a JobManager keeps of every job it accepted, so that the next JobManager
//! started on the same store (a new YARN ApplicationMaster attempt, or a restarted standalone
//! JobManager) runs the jobs again — from their latest checkpoints, since a recovered job keeps
//! its id and so its checkpoint directory. The role of Flink's job graph store and blob HA files.
//!
//! Layout under `high-availability.storageDir` (any [`spate_fs`] URI; on YARN the application's
//! staging directory in HDFS):
//! - `job-<id>.json`: the [`JobRecord`], written aside (`.job-<id>.json.tmp`) and renamed, so a
//!   record is whole or absent; removed when the job ends (finished, failed or cancelled);
//! - `blob-<sha256>`: the job binary, uploaded once per distinct binary, checked against its
//!   SHA-256 when fetched; removed with the last record that names it.
//!
//! Every call blocks (HDFS I/O): call it from `spawn_blocking`.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use spate_fs::{FileSystem, FsUri};
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::Arc;

/// Version of the record format.
pub(crate) const FORMAT: u32 = 1;
/// Largest record read back (a job graph is a few kB to a few MB).
const MAX_RECORD: u64 = 64 << 20;
const RECORD_PREFIX: &str = "job-";
const RECORD_SUFFIX: &str = ".json";
const BLOB_PREFIX: &str = "blob-";

/// A submitted job: everything needed to run it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobRecord {
    pub format: u32,
    pub id: String,
    pub name: String,
    /// `STREAMING` or `BATCH`.
    pub mode: String,
    /// The planned job graph, as submitted.
    pub graph_json: String,
    /// The job's configuration, `key=value` lines.
    pub config: String,
    pub args: Vec<String>,
    pub working_dir: String,
    /// SHA-256 (hex) and size of the job binary.
    pub sha256: String,
    pub binary_size: u64,
    pub submitted_ms: u64,
}

impl JobRecord {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// A record from its bytes; the error says what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<JobRecord, String> {
        let r: JobRecord = serde_json::from_slice(bytes).map_err(|e| format!("not a job record: {e}"))?;
        if r.format != FORMAT {
            return Err(format!(
                "record format {} (this JobManager reads {FORMAT})",
                r.format
            ));
        }
        if !valid_id(&r.id) {
            return Err(format!("bad job id '{}'", r.id));
        }
        if r.sha256.len() != 64 || !r.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("bad binary SHA-256 '{}'", r.sha256));
        }
        Ok(r)
    }
}

/// A job id as the JobManager makes them: hex digits.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A job store on one file system.
#[derive(Clone, Debug)]
pub(crate) struct JobStore {
    fs: Arc<dyn FileSystem>,
    dir: FsUri,
}

fn err(what: &str, uri: &FsUri, e: impl std::fmt::Display) -> String {
    format!("{what} {uri}: {e}")
}

impl JobStore {
    /// The store in `dir` (created if missing).
    pub fn open(dir: &str) -> Result<JobStore, String> {
        let (fs, dir) =
            spate_fs::resolve(dir.trim()).map_err(|e| format!("high-availability.storageDir: {e}"))?;
        fs.mkdirs(&dir)
            .map_err(|e| err("cannot create the job store", &dir, e))?;
        Ok(JobStore { fs, dir })
    }

    /// Where the store is.
    pub fn dir(&self) -> &FsUri {
        &self.dir
    }

    fn record_uri(&self, id: &str) -> FsUri {
        self.dir.join(&format!("{RECORD_PREFIX}{id}{RECORD_SUFFIX}"))
    }

    fn blob_uri(&self, sha256: &str) -> FsUri {
        self.dir
            .join(&format!("{BLOB_PREFIX}{}", sha256.to_ascii_lowercase()))
    }

    /// Stores `record` with its binary (`binary`, uploaded unless the store has it).
    pub fn put(&self, record: &JobRecord, binary: &Path) -> Result<(), String> {
        if !valid_id(&record.id) {
            return Err(format!("bad job id '{}'", record.id));
        }
        let blob = self.blob_uri(&record.sha256);
        let present = self
            .fs
            .status(&blob)
            .is_ok_and(|s| !s.is_dir && s.len == record.binary_size);
        if !present {
            let tmp = self
                .dir
                .join(&format!(".{BLOB_PREFIX}{}.tmp-{}", record.sha256, record.id));
            let mut file =
                std::fs::File::open(binary).map_err(|e| format!("cannot read {}: {e}", binary.display()))?;
            let mut w = self
                .fs
                .create(&tmp, true)
                .map_err(|e| err("cannot create", &tmp, e))?;
            std::io::copy(&mut file, &mut w).map_err(|e| err("cannot write", &tmp, e))?;
            w.close().map_err(|e| err("cannot write", &tmp, e))?;
            self.fs
                .rename(&tmp, &blob)
                .map_err(|e| err("cannot rename into", &blob, e))?;
        }
        let uri = self.record_uri(&record.id);
        let tmp = self
            .dir
            .join(&format!(".{RECORD_PREFIX}{}{RECORD_SUFFIX}.tmp", record.id));
        let mut w = self
            .fs
            .create(&tmp, true)
            .map_err(|e| err("cannot create", &tmp, e))?;
        w.write_all(&record.encode())
            .map_err(|e| err("cannot write", &tmp, e))?;
        w.close().map_err(|e| err("cannot write", &tmp, e))?;
        self.fs
            .rename(&tmp, &uri)
            .map_err(|e| err("cannot rename into", &uri, e))
    }

    /// The records in the store, each read and checked: a record that cannot be read is an
    /// error naming its file (and stays in the store for a person to look at).
    pub fn records(&self) -> Result<Vec<Result<JobRecord, String>>, String> {
        let entries = self
            .fs
            .list_dir(&self.dir)
            .map_err(|e| err("cannot list the job store", &self.dir, e))?;
        let mut records = Vec::new();
        for e in entries {
            let name = e.uri.file_name();
            if e.is_dir || !name.starts_with(RECORD_PREFIX) || !name.ends_with(RECORD_SUFFIX) {
                continue;
            }
            records.push(self.read_record(&e.uri, e.len));
        }
        records.sort_by_key(|r| r.as_ref().map_or(0, |r| r.submitted_ms));
        Ok(records)
    }

    fn read_record(&self, uri: &FsUri, len: u64) -> Result<JobRecord, String> {
        if len > MAX_RECORD {
            return Err(format!("{uri}: {len} bytes is too large for a job record"));
        }
        let mut bytes = Vec::new();
        self.fs
            .open(uri, 0)
            .map_err(|e| err("cannot read", uri, e))?
            .read_to_end(&mut bytes)
            .map_err(|e| err("cannot read", uri, e))?;
        let record = JobRecord::decode(&bytes).map_err(|e| format!("{uri}: {e}"))?;
        let expected = format!("{RECORD_PREFIX}{}{RECORD_SUFFIX}", record.id);
        if uri.file_name() != expected {
            return Err(format!("{uri}: holds job {}", record.id));
        }
        Ok(record)
    }

    /// Copies the binary of `record` to `to` (written aside, checked, renamed, made executable).
    pub fn fetch_binary(&self, record: &JobRecord, to: &Path) -> Result<(), String> {
        let blob = self.blob_uri(&record.sha256);
        let part = to.with_extension(format!("part-{}", record.id));
        let result = (|| {
            let mut r = self.fs.open(&blob, 0).map_err(|e| err("cannot read", &blob, e))?;
            let mut file =
                std::fs::File::create(&part).map_err(|e| format!("cannot create {}: {e}", part.display()))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = r.read(&mut buf).map_err(|e| err("cannot read", &blob, e))?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > record.binary_size {
                    return Err(format!(
                        "{blob}: longer than the {} bytes recorded",
                        record.binary_size
                    ));
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])
                    .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
            }
            if size != record.binary_size
                || hex::encode(hasher.finalize()) != record.sha256.to_ascii_lowercase()
            {
                return Err(format!(
                    "{blob}: the binary is damaged (size or SHA-256 differ from the record)"
                ));
            }
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&part, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("cannot make {} executable: {e}", part.display()))?;
            std::fs::rename(&part, to).map_err(|e| format!("cannot rename into {}: {e}", to.display()))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        result
    }

    /// Removes the record of job `id`, and its binary unless another record names it.
    pub fn remove(&self, id: &str) -> Result<(), String> {
        let uri = self.record_uri(id);
        let len = self.fs.status(&uri).map(|s| s.len).unwrap_or(0);
        let sha = self.read_record(&uri, len).ok().map(|r| r.sha256);
        self.fs
            .delete(&uri, false)
            .map_err(|e| err("cannot delete", &uri, e))?;
        if let Some(sha) = sha {
            let still_used = self
                .records()?
                .iter()
                .any(|r| r.as_ref().is_ok_and(|r| r.sha256 == sha));
            if !still_used {
                let blob = self.blob_uri(&sha);
                self.fs
                    .delete(&blob, false)
                    .map_err(|e| err("cannot delete", &blob, e))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, binary: &[u8]) -> JobRecord {
        JobRecord {
            format: FORMAT,
            id: id.into(),
            name: "job".into(),
            mode: "STREAMING".into(),
            graph_json: "{}".into(),
            config: "parallelism.default=2".into(),
            args: vec!["--input".into(), "a b".into()],
            working_dir: "/w".into(),
            sha256: hex::encode(Sha256::digest(binary)),
            binary_size: binary.len() as u64,
            submitted_ms: 7,
        }
    }

    #[test]
    fn put_recover_fetch_remove() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(&tmp.path().join("store").display().to_string()).unwrap();
        let bin = tmp.path().join("bin");
        std::fs::write(&bin, b"#!/bin/sh\necho job\n").unwrap();
        let a = record("0a", b"#!/bin/sh\necho job\n");
        let b = JobRecord {
            id: "0b".into(),
            submitted_ms: 9,
            ..a.clone()
        };
        store.put(&a, &bin).unwrap();
        store.put(&b, &bin).unwrap();
        let records: Vec<_> = store.records().unwrap().into_iter().map(Result::unwrap).collect();
        assert_eq!(records, vec![a.clone(), b.clone()]);
        let to = tmp.path().join("fetched");
        store.fetch_binary(&a, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), std::fs::read(&bin).unwrap());
        // One binary for both; it goes with the last record.
        store.remove("0a").unwrap();
        assert!(store.fetch_binary(&b, &tmp.path().join("again")).is_ok());
        store.remove("0b").unwrap();
        assert!(store.records().unwrap().is_empty());
        assert!(store.fetch_binary(&b, &tmp.path().join("gone")).is_err());
    }

    #[test]
    fn damaged_binary_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(&tmp.path().display().to_string()).unwrap();
        let bin = tmp.path().join("bin");
        std::fs::write(&bin, b"binary").unwrap();
        let r = record("1", b"binary");
        store.put(&r, &bin).unwrap();
        std::fs::write(tmp.path().join(format!("blob-{}", r.sha256)), b"binarY").unwrap();
        let e = store.fetch_binary(&r, &tmp.path().join("x")).unwrap_err();
        assert!(e.contains("damaged"), "{e}");
        std::fs::write(tmp.path().join(format!("blob-{}", r.sha256)), b"binary and more").unwrap();
        assert!(store.fetch_binary(&r, &tmp.path().join("x")).is_err());
        assert!(!tmp.path().join("x").exists());
    }

    #[test]
    fn truncated_garbage_and_foreign_records_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(&tmp.path().display().to_string()).unwrap();
        let bytes = record("2", b"x").encode();
        for (name, content) in [
            ("job-3.json", bytes[..bytes.len() / 2].to_vec()),
            ("job-4.json", b"\x00\xffgarbage".to_vec()),
            ("job-5.json", bytes.clone()), // holds job 2
            ("job-6.json", b"{\"format\":99}".to_vec()),
        ] {
            std::fs::write(tmp.path().join(name), content).unwrap();
        }
        std::fs::write(tmp.path().join("unrelated.txt"), b"x").unwrap();
        let records = store.records().unwrap();
        assert_eq!(records.len(), 4);
        for r in records {
            let e = r.unwrap_err();
            assert!(e.contains("job-"), "the error names the file: {e}");
        }
        assert!(JobRecord::decode(b"").is_err());
        let mut bad = record("2", b"x");
        bad.sha256 = "zz".into();
        assert!(JobRecord::decode(&bad.encode()).is_err());
        bad = record("../etc", b"x");
        assert!(JobRecord::decode(&bad.encode()).is_err());
    }

    #[test]
    fn oversized_record_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = JobStore::open(&tmp.path().display().to_string()).unwrap();
        let f = std::fs::File::create(tmp.path().join("job-7.json")).unwrap();
        f.set_len(MAX_RECORD + 1).unwrap();
        let e = store.records().unwrap().remove(0).unwrap_err();
        assert!(e.contains("too large"), "{e}");
    }
}
