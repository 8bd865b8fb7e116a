//! The part files of a file sink's output directory: readers of the directory only ever see
//! committed files. The text (local and any file system), CSV and Parquet sinks share this.
//!
//! **Batch jobs, and streaming jobs without checkpoints.** Subtask `i` writes
//! `.part-0000i<suffix>.inprogress` (hidden: readers of the directory skip names starting with
//! `.` or `_`). When the job finished, [`PartFiles::commit`] renames every in-progress file to
//! `part-0000i<suffix>`; when it failed or was cancelled, it deletes them, so a failed job leaves
//! no partial visible output. Part files of an earlier run are removed when the job starts
//! (Flink's `OVERWRITE` mode).
//!
//! **Streaming jobs with checkpoints (exactly-once, two-phase commit).** A subtask writes its
//! records into an in-progress file `.part-<subtask>-<counter>-<writer id><suffix>.inprogress`,
//! created at its first record. At each checkpoint barrier ([`PartWriter::prepare_commit`]) the
//! file, if it has data, is closed and renamed to `.<name>.pending` (*staged*), and a
//! [`StagedPart`] (its pending and final URIs) goes into the checkpoint; later records go to a new
//! file. When the checkpoint completed, [`PartFiles::commit_staged`] renames the staged files to
//! their final names `part-<subtask>-<counter>-<writer id><suffix>`: idempotent (a file already
//! renamed is fine), since a job restored from that checkpoint commits them again. On restore,
//! [`PartFiles::recover`] commits the checkpoint's staged files and deletes every other hidden
//! in-progress or pending part file of the directory (what was written after the checkpoint; it
//! will be written again). When the job ends, [`PartFiles::commit`] makes every file still staged
//! or in progress visible if it finished, and otherwise deletes only the in-progress files —
//! pending files may belong to a completed checkpoint whose commit a restore still has to make,
//! and committed files are never deleted.
//!
//! Final names are unique across restarts: the counter goes on from the writer's checkpointed
//! state, and the writer id (random, new for every writer) keeps apart the files of two attempts
//! restored from the same checkpoint, or of subtasks that got no state at another parallelism.

use super::fs_error;
use crate::text_sink::part_file_name;
use serde::{Deserialize, Serialize};
use spate_fs::{FileSystem, FileWriter, FsUri};
use spate_runtime::checkpoint::{decode, encode, CheckpointId};
use spate_runtime::sink::SinkWriter;
use spate_runtime::{Error, Result, TaskContext};
use std::marker::PhantomData;
use std::sync::Arc;

/// Suffix of a hidden file being written.
const IN_PROGRESS: &str = ".inprogress";
/// Suffix of a hidden file staged for a checkpoint's commit.
const PENDING: &str = ".pending";

/// An output directory (`hdfs://...`, `file://...` or a path) of part files ending in a suffix.
#[derive(Clone, Debug)]
pub struct PartFiles {
    uri: String,
    suffix: String,
}

/// The hidden name subtask `i` writes to before the job succeeds (without a suffix).
pub fn in_progress_name(subtask: u32) -> String {
    in_progress_name_with(subtask, "")
}

fn in_progress_name_with(subtask: u32, suffix: &str) -> String {
    format!(".{}{suffix}{IN_PROGRESS}", part_file_name(subtask))
}

/// The visible name of a hidden part file's name (in progress or pending), if it is one, and
/// whether it is pending.
fn visible_name(name: &str) -> Option<(&str, bool)> {
    let hidden = name.strip_prefix('.')?;
    let (visible, pending) = match hidden.strip_suffix(IN_PROGRESS) {
        Some(v) => (v, false),
        None => (hidden.strip_suffix(PENDING)?, true),
    };
    visible.starts_with("part-").then_some((visible, pending))
}

/// Whether `name` is a part file of a sink, visible or hidden (what a new job's output
/// directory is cleared of).
pub fn is_part_file(name: &str) -> bool {
    name.starts_with("part-") || visible_name(name).is_some()
}

/// A part file staged at a checkpoint: what the checkpoint's commit renames (a committable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedPart {
    /// The hidden pending file's URI.
    pub pending: String,
    /// The URI it gets when committed.
    pub target: String,
}

impl StagedPart {
    /// Reads committables made by [`PartWriter::prepare_commit`] for the sink of `dir`.
    pub fn decode_all(dir: &str, committables: &[Vec<u8>]) -> Result<Vec<StagedPart>> {
        committables
            .iter()
            .map(|c| decode(c).map_err(|e| Error::Other(format!("{dir}: a staged part file: {e}"))))
            .collect()
    }
}

impl PartFiles {
    /// Part files named `part-0000i<suffix>` (e.g. `.csv`, or empty) in directory `uri`.
    pub fn new(uri: impl Into<String>, suffix: impl Into<String>) -> Self {
        PartFiles {
            uri: uri.into(),
            suffix: suffix.into(),
        }
    }

    /// The directory, as given.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn dir(&self) -> Result<(Arc<dyn FileSystem>, FsUri)> {
        spate_fs::resolve(&self.uri).map_err(fs_error)
    }

    /// Creates the directory if needed.
    fn ensure_dir(&self) -> Result<(Arc<dyn FileSystem>, FsUri)> {
        let (fs, dir) = self.dir()?;
        match fs.status(&dir) {
            Ok(s) if !s.is_dir => {
                return Err(Error::Other(format!(
                    "output path {dir} exists and is not a directory"
                )))
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => fs.mkdirs(&dir).map_err(fs_error)?,
            Err(e) => return Err(fs_error(e)),
        }
        Ok((fs, dir))
    }

    /// Creates the directory if needed and removes part, in-progress and pending files of
    /// earlier runs (once per job, before any writer).
    pub fn prepare(&self) -> Result<()> {
        let (fs, dir) = self.ensure_dir()?;
        for entry in fs.list_dir(&dir).map_err(fs_error)? {
            if !entry.is_dir && is_part_file(entry.uri.file_name()) {
                fs.delete(&entry.uri, false).map_err(fs_error)?;
            }
        }
        Ok(())
    }

    /// Creates the in-progress file of `subtask` (batch).
    pub fn create(&self, subtask: u32) -> Result<Box<dyn FileWriter>> {
        let (fs, dir) = self.dir()?;
        fs.create(&dir.join(&in_progress_name_with(subtask, &self.suffix)), true)
            .map_err(fs_error)
    }

    /// After every subtask ended: renames the in-progress and pending files to part files when
    /// `success`; otherwise deletes the in-progress ones (pending files are left to a restore,
    /// which commits or deletes them; a new job's [`prepare`](Self::prepare) removes them too).
    pub fn commit(&self, success: bool) -> Result<()> {
        let (fs, dir) = self.dir()?;
        let entries = match fs.list_dir(&dir) {
            Ok(e) => e,
            // Nothing was written (the directory was never made).
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(fs_error(e)),
        };
        for entry in entries {
            let Some((visible, pending)) = visible_name(entry.uri.file_name()) else {
                continue;
            };
            let visible = visible.to_string();
            if success {
                fs.rename(&entry.uri, &dir.join(&visible)).map_err(fs_error)?;
            } else if !pending {
                fs.delete(&entry.uri, false).map_err(fs_error)?;
            }
        }
        tracing::debug!(output = %dir, committed = success, "part files finalized");
        Ok(())
    }

    /// Makes staged files visible (a checkpoint completed, or a job restores it). A file already
    /// renamed is fine; one neither staged nor committed is an error naming both paths.
    pub fn commit_staged(&self, staged: &[StagedPart]) -> Result<()> {
        let (fs, _) = self.dir()?;
        for part in staged {
            let pending = FsUri::parse(&part.pending).map_err(fs_error)?;
            let target = FsUri::parse(&part.target).map_err(fs_error)?;
            match fs.status(&pending) {
                Ok(_) => fs.rename(&pending, &target).map_err(fs_error)?,
                Err(e) if e.is_not_found() => match fs.status(&target) {
                    Ok(_) => {} // committed before
                    Err(e) if e.is_not_found() => {
                        return Err(Error::Other(format!(
                            "cannot commit part file {}: neither it nor its staged file {} exists (deleted by hand, or another job cleared the directory)",
                            part.target, part.pending
                        )))
                    }
                    Err(e) => return Err(fs_error(e)),
                },
                Err(e) => return Err(fs_error(e)),
            }
        }
        if !staged.is_empty() {
            tracing::debug!(output = %self.uri, files = staged.len(), "staged part files committed");
        }
        Ok(())
    }

    /// A job starts from a checkpoint: commits what it staged (`staged`), then deletes every
    /// other in-progress or pending part file of the directory (written after the checkpoint).
    /// Committed files stay.
    pub fn recover(&self, staged: &[StagedPart]) -> Result<()> {
        let (fs, dir) = self.ensure_dir()?;
        self.commit_staged(staged)?;
        let mut removed = 0;
        for entry in fs.list_dir(&dir).map_err(fs_error)? {
            if !entry.is_dir && visible_name(entry.uri.file_name()).is_some() {
                fs.delete(&entry.uri, false).map_err(fs_error)?;
                removed += 1;
            }
        }
        tracing::info!(output = %dir, committed = staged.len(), removed, "file sink recovered to its checkpoint");
        Ok(())
    }
}

/// How a file sink writes records of type `T` into one part file.
pub(crate) trait PartFormat<T>: Send + Sync + 'static {
    /// An open part file.
    type Part: Send;
    /// Starts a part file in `file` (e.g. writes a header).
    fn open(&self, file: Box<dyn FileWriter>) -> Result<Self::Part>;
    /// Writes a record.
    fn write(&self, part: &mut Self::Part, record: T) -> Result<()>;
    /// Ends the part file and closes it.
    fn close(&self, part: Self::Part) -> Result<()>;
}

/// The checkpointed state of an exactly-once writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct WriterState {
    /// The counter of the writer's next part file.
    next_part: u64,
}

/// A random id for a writer, so that its part files' names differ from those of every other
/// writer (of another attempt of the job, restored from the same checkpoint).
fn writer_id(subtask: u32) -> String {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::process::id().hash(&mut h);
    subtask.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    format!("{:08x}", h.finish() as u32)
}

/// How a [`PartWriter`] names and rolls its files.
enum Mode {
    /// One in-progress file, renamed when the job succeeds.
    Batch,
    /// A file per checkpoint interval, staged at barriers (see the module docs).
    ExactlyOnce {
        id: String,
        next_part: u64,
        /// The visible name of the file being written.
        current: Option<String>,
    },
}

/// The writer of one sink subtask over a [`PartFormat`]: batch or exactly-once (see the module
/// docs), chosen by whether the job takes checkpoints.
pub(crate) struct PartWriter<T, F: PartFormat<T>> {
    parts: PartFiles,
    format: Arc<F>,
    subtask: u32,
    mode: Mode,
    /// The open part file and its URI (for errors).
    open: Option<(F::Part, String)>,
    finished: bool,
    _t: PhantomData<fn(T)>,
}

impl<T, F: PartFormat<T>> PartWriter<T, F> {
    /// The writer of `ctx`'s subtask: exactly-once when the job takes checkpoints (or restores
    /// one), else one in-progress file, created now.
    pub(crate) fn new(parts: PartFiles, format: Arc<F>, ctx: &TaskContext) -> Result<Self> {
        let mut w = PartWriter {
            parts,
            format,
            subtask: ctx.subtask,
            mode: Mode::Batch,
            open: None,
            finished: false,
            _t: PhantomData,
        };
        if ctx.checkpoints.is_some() {
            w.mode = Mode::ExactlyOnce {
                id: writer_id(ctx.subtask),
                next_part: 0,
                current: None,
            };
        } else {
            let (_, dir) = w.parts.dir()?;
            let uri = dir
                .join(&in_progress_name_with(w.subtask, &w.parts.suffix))
                .to_string();
            let file = w.parts.create(w.subtask)?;
            let part = w.format.open(file).map_err(|e| named(&uri, e))?;
            w.open = Some((part, uri));
        }
        Ok(w)
    }

    /// The open part file, opening a new one in exactly-once mode.
    fn part(&mut self) -> Result<&mut (F::Part, String)> {
        if self.finished {
            return Err(Error::Internal(format!(
                "sink writer of {} used after finish",
                self.parts.uri
            )));
        }
        if self.open.is_none() {
            let Mode::ExactlyOnce {
                id,
                next_part,
                current,
            } = &mut self.mode
            else {
                return Err(Error::Internal(format!(
                    "sink writer of {} has no open file",
                    self.parts.uri
                )));
            };
            let name = format!(
                "part-{:05}-{:06}-{id}{}",
                self.subtask, next_part, self.parts.suffix
            );
            *next_part += 1;
            let (fs, dir) = self.parts.dir()?;
            let uri = dir.join(&format!(".{name}{IN_PROGRESS}"));
            let file = fs.create(&uri, true).map_err(fs_error)?;
            let part = self.format.open(file).map_err(|e| named(&uri.to_string(), e))?;
            *current = Some(name);
            self.open = Some((part, uri.to_string()));
        }
        self.open
            .as_mut()
            .ok_or_else(|| Error::Internal("no open part file".into()))
    }

    /// Closes the open part file, if any.
    fn close(&mut self) -> Result<()> {
        match self.open.take() {
            Some((part, uri)) => self.format.close(part).map_err(|e| named(&uri, e)),
            None => Ok(()),
        }
    }
}

/// An error of part file `uri`.
fn named(uri: &str, e: Error) -> Error {
    Error::Other(format!("part file {uri}: {e}"))
}

impl<T, F: PartFormat<T>> SinkWriter<T> for PartWriter<T, F> {
    fn write(&mut self, record: T) -> Result<()> {
        let format = self.format.clone();
        let (part, uri) = self.part()?;
        format.write(part, record).map_err(|e| named(uri, e))
    }

    /// Nothing to do: part files are invisible until committed anyway, and small writes into an
    /// HDFS pipeline cost more than they give.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let r = self.close();
        self.finished = true;
        r
    }

    fn prepare_commit(&mut self, _checkpoint: CheckpointId) -> Result<Vec<Vec<u8>>> {
        let Mode::ExactlyOnce { current, .. } = &mut self.mode else {
            return Ok(Vec::new());
        };
        let Some(name) = current.take() else {
            return Ok(Vec::new());
        };
        self.close()?;
        let (fs, dir) = self.parts.dir()?;
        let in_progress = dir.join(&format!(".{name}{IN_PROGRESS}"));
        let pending = dir.join(&format!(".{name}{PENDING}"));
        fs.rename(&in_progress, &pending).map_err(fs_error)?;
        let staged = StagedPart {
            pending: pending.to_string(),
            target: dir.join(&name).to_string(),
        };
        Ok(vec![encode(&staged)?])
    }

    fn snapshot_state(&mut self) -> Result<Vec<Vec<u8>>> {
        match &self.mode {
            Mode::ExactlyOnce { next_part, .. } => Ok(vec![encode(&WriterState {
                next_part: *next_part,
            })?]),
            Mode::Batch => Ok(Vec::new()),
        }
    }

    fn restore_state(&mut self, state: Vec<Vec<u8>>) -> Result<()> {
        if let Mode::ExactlyOnce { next_part, .. } = &mut self.mode {
            for item in &state {
                let s: WriterState = decode(item)
                    .map_err(|e| Error::Other(format!("file sink {}: writer state: {e}", self.parts.uri)))?;
                *next_part = (*next_part).max(s.next_part);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use spate_runtime::checkpoint::{CheckpointResponder, CheckpointingMode, TaskCheckpoints};
    use spate_runtime::sink::Sink;
    use std::collections::HashMap;
    use std::path::Path;

    struct Nobody;
    impl CheckpointResponder for Nobody {
        fn acknowledge(
            &self,
            _: CheckpointId,
            _: u32,
            _: Vec<(
                spate_common::ids::OperatorId,
                spate_runtime::checkpoint::OperatorSnapshot,
            )>,
        ) {
        }
        fn decline(&self, _: CheckpointId, _: u32, _: String) {}
    }

    /// The context of subtask `subtask` of a streaming job with checkpoints.
    pub(crate) fn checkpointed(subtask: u32) -> TaskContext {
        let mut ctx = TaskContext::standalone(spate_graph::ExecutionMode::Streaming);
        ctx.subtask = subtask;
        ctx.checkpoints = Some(Arc::new(TaskCheckpoints {
            vertex: spate_common::ids::VertexId(1),
            trigger: Arc::default(),
            mode: CheckpointingMode::ExactlyOnce,
            restored: HashMap::new(),
            responder: Arc::new(Nobody),
        }));
        ctx
    }

    /// The names in `dir`, sorted.
    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        n.sort();
        n
    }

    /// The lines of the visible files of `dir`, sorted.
    pub(crate) fn visible_lines(dir: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        for name in names(dir) {
            if !name.starts_with('.') && !name.starts_with('_') {
                let text = std::fs::read_to_string(dir.join(&name)).unwrap();
                lines.extend(text.lines().map(str::to_string));
            }
        }
        lines.sort();
        lines
    }

    /// The exactly-once protocol on a sink of `u32` lines in `dir` (a sink writing one line per
    /// record): write, barrier, write, commit of checkpoint 1 → only its lines; a restore from
    /// checkpoint 1 after more writes → the later staged files are gone; commits are idempotent;
    /// a job that finishes makes the rest visible.
    pub(crate) fn check_exactly_once(sink: &dyn Sink<u32>, dir: &Path, read: &dyn Fn(&Path) -> Vec<String>) {
        sink.initialize(2).unwrap();
        let mut w0 = sink.create_writer(&checkpointed(0)).unwrap();
        let mut w1 = sink.create_writer(&checkpointed(1)).unwrap();
        w0.write(1).unwrap();
        w0.write(2).unwrap();
        w1.write(3).unwrap();
        assert!(read(dir).is_empty(), "nothing visible before a commit");
        // Checkpoint 1.
        let mut staged1 = w0.prepare_commit(1).unwrap();
        staged1.extend(w1.prepare_commit(1).unwrap());
        let state1 = (w0.snapshot_state().unwrap(), w1.snapshot_state().unwrap());
        assert_eq!(staged1.len(), 2);
        w0.write(4).unwrap();
        // Checkpoint 2: only subtask 0 has data.
        let staged2 = w0.prepare_commit(2).unwrap();
        assert!(w1.prepare_commit(2).unwrap().is_empty(), "no file without data");
        assert_eq!(staged2.len(), 1);
        w0.write(5).unwrap();
        assert!(read(dir).is_empty(), "staged is not visible");
        sink.commit(staged1.clone()).unwrap();
        assert_eq!(read(dir), ["1", "2", "3"]);
        sink.commit(staged1.clone()).unwrap();
        assert_eq!(read(dir), ["1", "2", "3"], "a second commit is harmless");
        // The job fails; a new attempt restores checkpoint 1 (2 did not complete).
        drop((w0, w1));
        sink.finalize(false).unwrap();
        sink.recover(2, staged1.clone()).unwrap();
        let hidden: Vec<String> = names(dir).into_iter().filter(|n| n.starts_with('.')).collect();
        assert!(
            hidden.is_empty(),
            "staged and in-progress files after the checkpoint are gone: {hidden:?}"
        );
        assert_eq!(read(dir), ["1", "2", "3"]);
        let mut w0 = sink.create_writer(&checkpointed(0)).unwrap();
        w0.restore_state(state1.0).unwrap();
        let mut w1 = sink.create_writer(&checkpointed(1)).unwrap();
        w1.restore_state(state1.1).unwrap();
        w0.write(4).unwrap();
        w1.write(6).unwrap();
        let staged3 = w0.prepare_commit(3).unwrap();
        sink.commit(staged3).unwrap();
        assert_eq!(read(dir), ["1", "2", "3", "4"]);
        w0.write(5).unwrap();
        w0.finish().unwrap();
        w1.finish().unwrap();
        sink.finalize(true).unwrap();
        assert_eq!(read(dir), ["1", "2", "3", "4", "5", "6"]);
        assert!(names(dir).iter().all(|n| !n.starts_with('.')), "{:?}", names(dir));
        // A committable whose files are both gone is an error naming them.
        let missing = StagedPart::decode_all("test", &staged2).unwrap();
        let e = sink.commit(staged2).unwrap_err().to_string();
        assert!(e.contains(&missing[0].target) && e.contains("neither"), "{e}");
    }

    #[test]
    fn hidden_names_are_recognised() {
        assert_eq!(
            visible_name(".part-00001.inprogress"),
            Some(("part-00001", false))
        );
        assert_eq!(
            visible_name(".part-00001-000002-ab.csv.pending"),
            Some(("part-00001-000002-ab.csv", true))
        );
        assert_eq!(visible_name(".other.pending"), None);
        assert_eq!(visible_name("part-00001"), None);
        assert!(is_part_file("part-00001") && is_part_file(".part-1.pending") && !is_part_file("_SUCCESS"));
        assert_ne!(writer_id(0), writer_id(0));
    }
}
