//! CSV part files (`part-0000i.csv`) on any file system, visible only when committed (see
//! [`super::part_files`]): when a batch job succeeds, or exactly-once at checkpoints in a streaming
//! job with checkpoints (every part file then starts with the header). Fields are quoted when they need it (a delimiter, a quote or a line
//! break inside), with quotes doubled; fields with line breaks read back with
//! `CsvSource::with_multi_line`.

use super::csv_parse::CsvFormat;
use super::part_files::{PartFiles, PartFormat, PartWriter, StagedPart};
use spate_fs::FileWriter;
use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Error, Result, TaskContext};
use std::sync::Arc;

/// Turns a record into its CSV fields.
pub type CsvFields<T> = Arc<dyn Fn(&T) -> Vec<String> + Send + Sync>;

/// Writes records as CSV lines into part files in a directory (`hdfs://...`, `file://...`, a path).
///
/// ```no_run
/// use spate_connectors::hdfs::CsvSink;
/// let sink = CsvSink::with_fields("hdfs:///out", |(w, n): &(String, u64)| vec![w.clone(), n.to_string()])
///     .with_header(["word", "count"]);
/// # let _ = sink;
/// ```
pub struct CsvSink<T> {
    parts: PartFiles,
    fields: CsvFields<T>,
    format: CsvFormat,
    header: Option<Vec<String>>,
}

/// How records become CSV part files.
struct CsvParts<T> {
    fields: CsvFields<T>,
    format: CsvFormat,
    header: Option<Vec<String>>,
}

impl<T: Send + 'static> PartFormat<T> for CsvParts<T> {
    type Part = csv::Writer<Box<dyn FileWriter>>;

    fn open(&self, file: Box<dyn FileWriter>) -> Result<Self::Part> {
        let mut out = csv::WriterBuilder::new()
            .delimiter(self.format.delimiter)
            .quote(self.format.quote)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(file);
        if let Some(header) = &self.header {
            out.write_record(header).map_err(csv_error)?;
        }
        Ok(out)
    }
    fn write(&self, part: &mut Self::Part, record: T) -> Result<()> {
        part.write_record((self.fields)(&record)).map_err(csv_error)
    }
    fn close(&self, part: Self::Part) -> Result<()> {
        let file = part
            .into_inner()
            .map_err(|e| Error::io("cannot write", e.into_error()))?;
        file.close().map_err(super::fs_error)
    }
}

impl CsvSink<Vec<String>> {
    /// A sink writing records that are their fields into directory `uri`.
    pub fn new(uri: impl Into<String>) -> Self {
        CsvSink::with_fields(uri, Vec::clone)
    }
}

impl<T> CsvSink<T> {
    /// A sink writing into directory `uri`, turning each record into fields with `fields`.
    pub fn with_fields(
        uri: impl Into<String>,
        fields: impl Fn(&T) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        CsvSink {
            parts: PartFiles::new(uri, ".csv"),
            fields: Arc::new(fields),
            format: CsvFormat::default(),
            header: None,
        }
    }

    /// Separates fields with `delimiter` instead of `,`.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.format.delimiter = delimiter;
        self
    }

    /// Starts every part file with a header line of these names.
    pub fn with_header<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.header = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

impl<T: Send + 'static> Sink<T> for CsvSink<T> {
    fn name(&self) -> String {
        format!("Csv({})", self.parts.uri())
    }

    fn initialize(&self, _parallelism: u32) -> Result<()> {
        self.parts.prepare()
    }

    fn create_writer(&self, ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>> {
        let parts = CsvParts {
            fields: self.fields.clone(),
            format: self.format.clone(),
            header: self.header.clone(),
        };
        Ok(Box::new(PartWriter::new(
            self.parts.clone(),
            Arc::new(parts),
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

fn csv_error(e: csv::Error) -> Error {
    Error::Other(format!("cannot write a CSV record: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdfs::CsvSource;
    use spate_graph::ExecutionMode;
    use spate_runtime::source::{ReadStatus, Source};

    #[test]
    fn with_checkpoints_only_committed_records_are_visible_each_file_with_its_header() {
        use crate::hdfs::part_files::tests::{check_exactly_once, names};
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = CsvSink::with_fields(format!("file://{}", out.display()), |n: &u32| {
            vec![n.to_string(), format!("n,{n}")]
        })
        .with_header(["n", "name"]);
        // Reads the records back (headers skipped), as the first field.
        let read = |dir: &std::path::Path| -> Vec<String> {
            let mut got = Vec::new();
            for name in names(dir).iter().filter(|n| !n.starts_with('.')) {
                let text = std::fs::read_to_string(dir.join(name)).unwrap();
                assert!(text.starts_with("n,name\n"), "{name}: {text:?}");
                got.extend(
                    text.lines()
                        .skip(1)
                        .map(|l| l.split(',').next().unwrap().to_string()),
                );
            }
            got.sort();
            got
        };
        check_exactly_once(&sink, &out, &read);
        assert!(
            names(&out).iter().all(|n| n.ends_with(".csv")),
            "{:?}",
            names(&out)
        );
    }

    #[test]
    fn quoted_output_parses_back_and_is_visible_only_after_success() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let uri = format!("file://{}", out.display());
        let sink = CsvSink::new(&uri).with_header(["a", "b"]);
        sink.initialize(1).unwrap();
        let records = vec![
            vec!["plain".to_string(), "with,comma".to_string()],
            vec!["say \"hi\"".to_string(), " padded ".to_string()],
            vec![String::new(), "x".to_string()],
        ];
        let mut ctx = TaskContext::standalone(ExecutionMode::Batch);
        ctx.subtask = 0;
        let mut w = sink.create_writer(&ctx).unwrap();
        for r in &records {
            w.write(r.clone()).unwrap();
        }
        w.finish().unwrap();
        assert!(!out.join("part-00000.csv").exists());
        sink.finalize(true).unwrap();
        let text = std::fs::read_to_string(out.join("part-00000.csv")).unwrap();
        assert_eq!(
            text,
            "a,b\nplain,\"with,comma\"\n\"say \"\"hi\"\"\", padded \n,x\n"
        );

        let source = CsvSource::new(&uri).with_header(true);
        let mut e = source.create_enumerator(1).unwrap();
        let mut r = source.create_reader(&ctx).unwrap();
        r.add_split(e.next_split(0, None).unwrap()).unwrap();
        let mut back: Vec<Vec<String>> = Vec::new();
        while r.poll_next(&mut back).unwrap() != ReadStatus::NeedSplit {}
        assert_eq!(back, records);
    }
}
