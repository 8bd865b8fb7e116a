//! Text part files on any file system, visible only when the job succeeds.
//!
//! Subtask `i` writes `.part-0000i.inprogress` (hidden: readers of the directory skip it). When
//! the job finished, [`Sink::finalize`] renames every in-progress file to `part-0000i`; when it
//! failed or was cancelled, it deletes them, so a failed job leaves no partial visible output.
//! Part files of an earlier run are removed when the job starts (Flink's `OVERWRITE` mode).

use super::fs_error;
pub use super::part_files::in_progress_name;
use super::part_files::PartFiles;
use crate::text_sink::LineFormat;
use spate_fs::FileWriter;
use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::io::Write;

/// Writes records as lines into part files in a directory (`hdfs://...`, `file://...`, a path).
pub struct FsTextSink<T> {
    parts: PartFiles,
    format: LineFormat<T>,
}

impl<T> FsTextSink<T> {
    /// A sink writing into directory `uri`, formatting each record with `format`.
    pub fn new(uri: impl Into<String>, format: LineFormat<T>) -> Self {
        FsTextSink {
            parts: PartFiles::new(uri, ""),
            format,
        }
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
        Ok(Box::new(FsTextWriter {
            out: Some(self.parts.create(ctx.subtask)?),
            format: self.format.clone(),
            line: String::new(),
        }))
    }

    fn finalize(&self, success: bool) -> Result<()> {
        self.parts.commit(success)
    }
}

struct FsTextWriter<T> {
    /// `None` once closed.
    out: Option<Box<dyn FileWriter>>,
    format: LineFormat<T>,
    line: String,
}

impl<T> FsTextWriter<T> {
    fn out(&mut self) -> Result<&mut Box<dyn FileWriter>> {
        self.out
            .as_mut()
            .ok_or_else(|| Error::Internal("text sink writer used after finish".into()))
    }
}

impl<T: Send> SinkWriter<T> for FsTextWriter<T> {
    fn write(&mut self, record: T) -> Result<()> {
        self.line.clear();
        (self.format)(&record, &mut self.line);
        self.line.push('\n');
        let line = std::mem::take(&mut self.line);
        let result = self.out()?.write_all(line.as_bytes());
        self.line = line;
        result.map_err(|e| Error::io("cannot write a part file", e))
    }
    /// Nothing to do: the in-progress file is invisible until the job succeeds anyway, and small
    /// writes into an HDFS pipeline cost more than they give.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        match self.out.take() {
            Some(out) => out.close().map_err(fs_error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn in_progress_files_become_parts_on_success_and_vanish_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let format: LineFormat<u32> = Arc::new(|r, line| line.push_str(&r.to_string()));
        let sink = FsTextSink::new(format!("file://{}", out.display()), format);
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
}
