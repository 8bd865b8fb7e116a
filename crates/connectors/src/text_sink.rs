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
pub struct TextFileSink<T> {
    dir: PathBuf,
    format: LineFormat<T>,
}

impl<T> TextFileSink<T> {
    /// A sink writing into `dir`, formatting each record with `format`.
    pub fn new(dir: impl Into<PathBuf>, format: LineFormat<T>) -> Self {
        TextFileSink {
            dir: dir.into(),
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
        if entry.file_name().to_string_lossy().starts_with("part-") && entry.path().is_file() {
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
