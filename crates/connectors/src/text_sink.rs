use crate::hdfs::part_files::{is_part_file, PartFiles, PartWriter, StagedPart};
use crate::hdfs::text_sink::TextLines;
use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Formats a record as one line of text.
pub type LineFormat<T> = Arc<dyn Fn(&T, &mut String) + Send + Sync>;

/// Writes records as lines into a directory, one part file per subtask (`part-00000`, ...).
///
/// When the job starts, the directory is created if needed and part files of an earlier run are
/// removed (Flink's `OVERWRITE` mode), so a run at a lower parallelism leaves no stale parts.
///
/// In a streaming job with checkpoints the sink is exactly-once: records go to hidden part files
/// made visible when the checkpoint after them completes, under names unique across restarts
/// (`part-<subtask>-<counter>-<writer id>`; see [`crate::hdfs::part_files`]). Otherwise each
/// subtask writes its visible part file directly.
pub struct TextFileSink<T> {
    dir: PathBuf,
    format: LineFormat<T>,
    /// The directory's part files, for the exactly-once mode.
    parts: PartFiles,
}

impl<T> TextFileSink<T> {
    /// A sink writing into `dir`, formatting each record with `format`.
    pub fn new(dir: impl Into<PathBuf>, format: LineFormat<T>) -> Self {
        let dir = dir.into();
        TextFileSink {
            parts: PartFiles::new(dir.to_string_lossy().into_owned(), ""),
            dir,
            format,
        }
    }
}

/// The name of subtask `i`'s part file.
pub fn part_file_name(subtask: u32) -> String {
    format!("part-{subtask:05}")
}

fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Other(format!(
            "output path {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create output directory {}", dir.display()), e))?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
    for entry in entries.flatten() {
        if is_part_file(&entry.file_name().to_string_lossy()) && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|e| {
                Error::io(
                    format!("cannot remove old part file {}", entry.path().display()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

impl<T: Send + 'static> Sink<T> for TextFileSink<T> {
    fn name(&self) -> String {
        format!("Text({})", self.dir.display())
    }
    fn initialize(&self, _parallelism: u32) -> Result<()> {
        prepare_dir(&self.dir)
    }
    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>> {
        if ctx.checkpoints.is_some() {
            let lines = Arc::new(TextLines(self.format.clone()));
            return Ok(Box::new(PartWriter::new(self.parts.clone(), lines, ctx)?));
        }
        let path = self.dir.join(part_file_name(ctx.subtask));
        let file =
            File::create(&path).map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        Ok(Box::new(TextWriter {
            out: BufWriter::with_capacity(256 << 10, file),
            path,
            format: self.format.clone(),
            line: String::new(),
        }))
    }
    /// Makes the part files still in progress or staged visible (exactly-once mode; in batch
    /// mode there are none), or deletes the in-progress ones.
    fn finalize(&self, success: bool) -> Result<()> {
        self.parts.commit(success)
    }
    fn commit(&self, committables: Vec<Vec<u8>>) -> Result<()> {
        self.parts
            .commit_staged(&StagedPart::decode_all(self.parts.uri(), &committables)?)
    }
    fn recover(&self, _parallelism: u32, committables: Vec<Vec<u8>>) -> Result<()> {
        self.parts
            .recover(&StagedPart::decode_all(self.parts.uri(), &committables)?)
    }
}

struct TextWriter<T> {
    out: BufWriter<File>,
    path: PathBuf,
    format: LineFormat<T>,
    line: String,
}

impl<T: Send> SinkWriter<T> for TextWriter<T> {
    fn write(&mut self, record: T) -> Result<()> {
        self.line.clear();
        (self.format)(&record, &mut self.line);
        self.line.push('\n');
        self.out
            .write_all(self.line.as_bytes())
            .map_err(|e| Error::io(format!("cannot write {}", self.path.display()), e))
    }
    fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io(format!("cannot write {}", self.path.display()), e))
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdfs::part_files::tests::{check_exactly_once, names, visible_lines};
    use spate_graph::ExecutionMode;

    fn format() -> LineFormat<u32> {
        Arc::new(|r, line| line.push_str(&r.to_string()))
    }

    #[test]
    fn batch_jobs_write_visible_part_files_and_replace_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("part-00007"), "old\n").unwrap();
        std::fs::write(out.join(".part-00003-000001-ab.pending"), "old\n").unwrap();
        std::fs::write(out.join("keep.txt"), "mine\n").unwrap();
        let sink = TextFileSink::new(&out, format());
        sink.initialize(1).unwrap();
        let mut w = sink
            .create_writer(&TaskContext::standalone(ExecutionMode::Batch))
            .unwrap();
        w.write(1).unwrap();
        w.write(2).unwrap();
        w.finish().unwrap();
        sink.finalize(true).unwrap();
        assert_eq!(names(&out), ["keep.txt", "part-00000"]);
        assert_eq!(std::fs::read_to_string(out.join("part-00000")).unwrap(), "1\n2\n");
    }

    #[test]
    fn with_checkpoints_only_committed_lines_are_visible() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        check_exactly_once(&TextFileSink::new(&out, format()), &out, &visible_lines);
    }
}
