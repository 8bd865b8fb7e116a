use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::io::Write;
use std::sync::Arc;

/// Formats a record for printing.
pub type PrintFormat<T> = Arc<dyn Fn(&T) -> String + Send + Sync>;

/// Prints records to standard output, one per line; with parallelism above 1 each line starts with
/// the subtask number (`2> ...`), as Flink's `print()` does.
pub struct PrintSink<T> {
    format: PrintFormat<T>,
    stderr: bool,
}

impl<T> PrintSink<T> {
    /// Prints to standard output.
    pub fn new(format: PrintFormat<T>) -> Self {
        PrintSink {
            format,
            stderr: false,
        }
    }
    /// Prints to standard error instead.
    pub fn to_stderr(mut self) -> Self {
        self.stderr = true;
        self
    }
}

impl<T: Send + 'static> Sink<T> for PrintSink<T> {
    fn name(&self) -> String {
        "Print".into()
    }
    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>> {
        let prefix = if ctx.parallelism > 1 {
            format!("{}> ", ctx.subtask + 1)
        } else {
            String::new()
        };
        Ok(Box::new(PrintWriter {
            format: self.format.clone(),
            prefix,
            stderr: self.stderr,
        }))
    }
}

struct PrintWriter<T> {
    format: PrintFormat<T>,
    prefix: String,
    stderr: bool,
}

impl<T: Send> SinkWriter<T> for PrintWriter<T> {
    fn write(&mut self, record: T) -> Result<()> {
        let line = format!("{}{}\n", self.prefix, (self.format)(&record));
        let r = if self.stderr {
            std::io::stderr().lock().write_all(line.as_bytes())
        } else {
            std::io::stdout().lock().write_all(line.as_bytes())
        };
        match r {
            // A closed pipe (`| head`) is not the job's fault: stop printing quietly.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.map_err(|e| Error::io("cannot print", e)),
        }
    }
    fn finish(&mut self) -> Result<()> {
        let _ = std::io::stdout().flush();
        Ok(())
    }
}
