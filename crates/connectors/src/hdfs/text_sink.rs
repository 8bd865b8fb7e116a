//! Text part files on any file system, visible only when committed (see [`super::part_files`]):
//! in a batch job when it succeeds, in a streaming job with checkpoints when the checkpoint after
//! them completes (exactly-once).
//!
//! In a batch job subtask `i` writes `.part-0000i.inprogress` (hidden: readers of the directory
//! skip it). When the job finished, [`Sink::finalize`] renames every in-progress file to
//! `part-0000i`; when it failed or was cancelled, it deletes them, so a failed job leaves no
//! partial visible output. Part files of an earlier run are removed when the job starts (Flink's
//! `OVERWRITE` mode).

pub use super::part_files::in_progress_name;
use super::part_files::{PartFiles, PartFormat, PartWriter, StagedPart};
use crate::text_sink::LineFormat;
use spate_fs::FileWriter;
use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::io::Write;
use std::sync::Arc;

/// Writes records as lines into part files in a directory (`hdfs://...`, `file://...`, a path).
pub struct FsTextSink<T> {
    parts: PartFiles,
    format: Arc<TextLines<T>>,
}

impl<T> FsTextSink<T> {
    /// A sink writing into directory `uri`, formatting each record with `format`.
    pub fn new(uri: impl Into<String>, format: LineFormat<T>) -> Self {
        FsTextSink {
            parts: PartFiles::new(uri, ""),
            format: Arc::new(TextLines(format)),
        }
    }
}

/// Lines of text, one per record.
pub(crate) struct TextLines<T>(pub(crate) LineFormat<T>);

/// An open text part file.
pub(crate) struct TextPart {
    out: Box<dyn FileWriter>,
    line: String,
}

impl<T: Send + 'static> PartFormat<T> for TextLines<T> {
    type Part = TextPart;

    fn open(&self, file: Box<dyn FileWriter>) -> Result<TextPart> {
        Ok(TextPart {
            out: file,
            line: String::new(),
        })
    }
    fn write(&self, part: &mut TextPart, record: T) -> Result<()> {
        part.line.clear();
        (self.0)(&record, &mut part.line);
        part.line.push('\n');
        part.out
            .write_all(part.line.as_bytes())
            .map_err(|e| Error::io("cannot write", e))
    }
    fn close(&self, part: TextPart) -> Result<()> {
        part.out.close().map_err(super::fs_error)
    }
}

impl<T: Send + 'static> Sink<T> for FsTextSink<T> {
    fn name(&self) -> String {
        format!("Text({})", self.parts.uri())
    }

    fn initialize(&self, _parallelism: u32) -> Result<()> {
        self.parts.prepare()
    }

    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(PartWriter::new(
            self.parts.clone(),
            self.format.clone(),
            ctx,
        )?))
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdfs::part_files::tests::{check_exactly_once, names, visible_lines};
    use spate_graph::ExecutionMode;
    use std::sync::Arc;

    fn write(sink: &FsTextSink<u32>, subtask: u32, records: &[u32]) {
        let mut ctx = TaskContext::standalone(ExecutionMode::Batch);
        ctx.subtask = subtask;
        let mut w = sink.create_writer(&ctx).unwrap();
        for r in records {
            w.write(*r).unwrap();
        }
        w.finish().unwrap();
    }

    fn format() -> LineFormat<u32> {
        Arc::new(|r, line| line.push_str(&r.to_string()))
    }

    #[test]
    fn in_progress_files_become_parts_on_success_and_vanish_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = FsTextSink::new(format!("file://{}", out.display()), format());
        sink.initialize(2).unwrap();
        write(&sink, 0, &[1, 2]);
        write(&sink, 1, &[3]);
        assert_eq!(names(&out), [".part-00000.inprogress", ".part-00001.inprogress"]);
        sink.finalize(true).unwrap();
        assert_eq!(names(&out), ["part-00000", "part-00001"]);
        assert_eq!(std::fs::read_to_string(out.join("part-00000")).unwrap(), "1\n2\n");
        // A second run that fails: old parts are gone at the start, nothing visible at the end.
        sink.initialize(1).unwrap();
        write(&sink, 0, &[9]);
        sink.finalize(false).unwrap();
        assert!(names(&out).is_empty(), "{:?}", names(&out));
    }

    #[test]
    fn with_checkpoints_only_committed_lines_are_visible() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = FsTextSink::new(format!("file://{}", out.display()), format());
        check_exactly_once(&sink, &out, &visible_lines);
    }
}
