use crate::stream::DataStream;
use spate_connectors::collect::{CollectHandle, CollectSink};
use spate_connectors::hdfs::FsTextSink;
use spate_connectors::print::PrintSink;
use spate_connectors::text_sink::TextFileSink;
use spate_graph::NodeKind;
use spate_runtime::code::{self, NodeCode};
use spate_runtime::sink::Sink;
use spate_runtime::Data;
use std::fmt::{Debug, Display, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// A sink node, returned so its parallelism or name can be set.
pub struct SinkHandle<T> {
    stream: DataStream<T>,
}

impl<T: Data> SinkHandle<T> {
    /// Sets the sink's parallelism.
    pub fn set_parallelism(self, parallelism: u32) -> Self {
        SinkHandle {
            stream: self.stream.set_parallelism(parallelism),
        }
    }
    /// Names the sink.
    pub fn name(self, name: &str) -> Self {
        SinkHandle {
            stream: self.stream.name(name),
        }
    }
}

impl<T: Data> DataStream<T> {
    /// Ends the stream in a [`Sink`].
    pub fn sink_to(&self, sink: impl Sink<T>) -> SinkHandle<T> {
        let name = format!("Sink: {}", sink.name());
        let sink: Arc<dyn Sink<T>> = Arc::new(sink);
        let id = self.add_node(&name, NodeKind::Sink, NodeCode::Operator(code::sink(sink)));
        SinkHandle {
            stream: DataStream::new(self.env.clone(), id),
        }
    }

    /// Prints every record (`Debug` format) to standard output.
    pub fn print(&self) -> SinkHandle<T>
    where
        T: Debug,
    {
        self.print_with(|r| format!("{r:?}"))
    }

    /// Prints every record, formatted by `f`, to standard output.
    pub fn print_with(&self, f: impl Fn(&T) -> String + Send + Sync + 'static) -> SinkHandle<T> {
        self.sink_to(PrintSink::new(Arc::new(f)))
    }

    /// Collects the records back into this program; read them after `execute` with
    /// [`CollectHandle::take`].
    pub fn collect(&self) -> CollectHandle<T> {
        let (sink, handle) = CollectSink::new();
        self.sink_to(sink);
        handle
    }

    /// Writes every record (`Display` format) as a line into part files in `dir` (a local path,
    /// or a `file://` or `hdfs://` URI), one per sink subtask (`part-00000`, ...). Old part files
    /// in `dir` are replaced.
    pub fn write_as_text(&self, dir: impl Into<PathBuf>) -> SinkHandle<T>
    where
        T: Display,
    {
        self.write_as_text_with(dir, |r: &T, line: &mut String| {
            let _ = write!(line, "{r}");
        })
    }

    /// Like [`write_as_text`](Self::write_as_text), with `f` appending a record's line to the buffer.
    pub fn write_as_text_with(
        &self,
        dir: impl Into<PathBuf>,
        f: impl Fn(&T, &mut String) + Send + Sync + 'static,
    ) -> SinkHandle<T> {
        let dir = dir.into();
        let text = dir.to_string_lossy();
        if text.contains("://") {
            // Part files appear only when the job succeeds (renamed from hidden in-progress files).
            self.sink_to(FsTextSink::new(text.into_owned(), Arc::new(f)))
        } else {
            self.sink_to(TextFileSink::new(dir, Arc::new(f)))
        }
    }
}
