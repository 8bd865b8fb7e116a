//! CSV records of files on HDFS or locally (a file, a directory or a glob), one record per line:
//! the text source's splits and exactly-once line rule, each line parsed by [`super::csv_parse`].
//! A malformed record fails the job with the file's URI, the byte offset of its line and, in the
//! first split of a file, its line number.

use super::csv_parse::{CsvFormat, LineParser};
use super::fs_error;
use super::line_reader::SplitLineReader;
use super::split::{FsSplit, LocalityEnumerator};
use super::text_source::HdfsTextSource;
use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceReader, SplitEnumerator};
use spate_runtime::{Collector, Error, Result, TaskContext};
use std::io::BufRead;

/// Lines read per `poll_next`, so the task can flush and check for cancellation.
const LINES_PER_POLL: usize = 1024;

/// Reads CSV records as `Vec<String>` from a URI (`hdfs://...`, `file://...` or a local path).
///
/// ```no_run
/// use spate_connectors::hdfs::CsvSource;
/// let source = CsvSource::new("hdfs:///sales/2024-*.csv").with_header(true).with_field_count(4);
/// # let _ = source;
/// ```
pub struct CsvSource {
    uri: String,
    split_size: Option<u64>,
    format: CsvFormat,
}

impl CsvSource {
    /// Records of `uri`: a file, a directory or a glob (`*`, `?`), comma-separated, no header.
    pub fn new(uri: impl Into<String>) -> Self {
        CsvSource {
            uri: uri.into(),
            split_size: None,
            format: CsvFormat::default(),
        }
    }

    /// Uses `format` (delimiter, quote, header, field count).
    pub fn with_format(mut self, format: CsvFormat) -> Self {
        self.format = format;
        self
    }

    /// Separates fields with `delimiter` instead of `,`.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.format.delimiter = delimiter;
        self
    }

    /// Whether the first line of each file is a header to skip.
    pub fn with_header(mut self, header: bool) -> Self {
        self.format.header = header;
        self
    }

    /// Fails on a record without exactly `count` fields.
    pub fn with_field_count(mut self, count: usize) -> Self {
        self.format.field_count = Some(count);
        self
    }

    /// Uses splits of `bytes` (at least 1) instead of blocks or the automatic size.
    pub fn with_split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }

    /// The splits of the input for `parallelism` readers (those of the text source).
    pub fn splits(&self, parallelism: u32) -> Result<Vec<FsSplit>> {
        let text = HdfsTextSource::new(self.uri.clone());
        match self.split_size {
            Some(size) => text.with_split_size(size),
            None => text,
        }
        .splits(parallelism)
    }
}

impl Source<Vec<String>> for CsvSource {
    type Split = FsSplit;

    fn name(&self) -> String {
        format!("Csv({})", self.uri)
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<FsSplit>>> {
        let splits = self.splits(parallelism)?;
        tracing::debug!(input = %self.uri, splits = splits.len(), "planned CSV splits");
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<Vec<String>, FsSplit>>> {
        Ok(Box::new(CsvReader {
            parser: LineParser::new(&self.format),
            header: self.format.header,
            current: None,
        }))
    }
}

/// The split being read.
struct Current {
    lines: SplitLineReader,
    split: FsSplit,
    /// Lines of the split read so far.
    line_no: u64,
}

struct CsvReader {
    parser: LineParser,
    header: bool,
    current: Option<Current>,
}

impl SourceReader<Vec<String>, FsSplit> for CsvReader {
    fn add_split(&mut self, split: FsSplit) -> Result<()> {
        let (fs, _) = spate_fs::resolve(&split.uri).map_err(fs_error)?;
        let mut current = Current {
            lines: SplitLineReader::open(fs.as_ref(), &split)?,
            split,
            line_no: 0,
        };
        if self.header && current.split.start == 0 && current.lines.next_line()?.is_some() {
            current.line_no = 1;
        }
        self.current = Some(current);
        Ok(())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<Vec<String>>) -> Result<ReadStatus> {
        let Some(c) = self.current.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..LINES_PER_POLL {
            let Some(line) = c.lines.next_line()? else {
                self.current = None;
                return Ok(ReadStatus::MoreAvailable);
            };
            c.line_no += 1;
            match self.parser.parse(line) {
                Ok(Some(fields)) => out.collect(fields),
                Ok(None) => {}
                Err(why) => return Err(malformed(&c.split, c.line_no, &why)),
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }
}

/// The error for a malformed record on line `n` (1-based) of `split`.
fn malformed(split: &FsSplit, n: u64, why: &str) -> Error {
    let at = match line_offset(split, n) {
        Some(offset) if split.start == 0 => format!("line {n} (byte offset {offset})"),
        Some(offset) => format!("byte offset {offset}"),
        None => format!("line {n} of the split at byte offset {}", split.start),
    };
    Error::Other(format!("{}: malformed CSV record at {at}: {why}", split.uri))
}

/// Where line `n` (1-based) of `split` starts in its file, replaying the split's line rule (only
/// on the error path); `None` when the file cannot be read again.
fn line_offset(split: &FsSplit, n: u64) -> Option<u64> {
    let (fs, uri) = spate_fs::resolve(&split.uri).ok()?;
    let from = split.start.saturating_sub(1);
    let mut input = std::io::BufReader::new(fs.open(&uri, from).ok()?);
    let mut pos = from;
    let mut buf = Vec::new();
    for _ in 0..(n - 1 + u64::from(split.start > 0)) {
        buf.clear();
        match input.read_until(b'\n', &mut buf).ok()? {
            0 => return None,
            k => pos += k as u64,
        }
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_graph::ExecutionMode;

    fn read_all(source: &CsvSource) -> Result<Vec<Vec<String>>> {
        let mut e = source.create_enumerator(3)?;
        let ctx = TaskContext::standalone(ExecutionMode::Batch);
        let mut records = Vec::new();
        while let Some(split) = e.next_split(0, None) {
            let mut r = source.create_reader(&ctx)?;
            r.add_split(split)?;
            while r.poll_next(&mut records)? != ReadStatus::NeedSplit {}
        }
        Ok(records)
    }

    fn row(i: usize) -> Vec<String> {
        vec![i.to_string(), format!("name, {i}"), "q\"uote".repeat(i % 3)]
    }

    fn line(r: &[String]) -> String {
        format!("{},\"{}\",\"{}\"", r[0], r[1], r[2].replace('"', "\"\""))
    }

    #[test]
    fn headers_are_skipped_per_file_and_every_record_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<Vec<String>> = (0..200).map(row).collect();
        let write = |name: &str, rows: &[Vec<String>], crlf: bool| {
            let sep = if crlf { "\r\n" } else { "\n" };
            let body: Vec<String> = rows.iter().map(|r| line(r)).collect();
            let text = format!("id,name,note{sep}{}{sep}", body.join(sep));
            std::fs::write(dir.path().join(name), text).unwrap();
        };
        write("a.csv", &expected[..120], false);
        write("b.csv", &expected[120..], true);
        let d = dir.path().display();
        for size in [1, 7, 100, 1 << 20] {
            let source = CsvSource::new(format!("file://{d}"))
                .with_header(true)
                .with_field_count(3)
                .with_split_size(size);
            assert_eq!(read_all(&source).unwrap(), expected, "split size {size}");
        }
        let no_header = read_all(&CsvSource::new(format!("{d}/b.c?v"))).unwrap();
        assert_eq!(no_header[0], ["id", "name", "note"]);
        assert_eq!(no_header[1..], expected[120..]);
    }

    #[test]
    fn a_malformed_record_fails_with_the_file_and_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "h1,h2\na,b\nc,\"open\ne,f\n").unwrap();
        let uri = format!("file://{}", path.display());
        for size in [1, 3, 1 << 20] {
            let e = read_all(&CsvSource::new(&uri).with_header(true).with_split_size(size))
                .unwrap_err()
                .to_string();
            assert!(e.contains(&uri) && e.contains("byte offset 10"), "{e}");
            assert!(e.contains("unterminated quoted field"), "{e}");
            if size > 100 {
                assert!(e.contains("line 3 (byte offset 10)"), "{e}");
            }
        }
        std::fs::write(&path, "a,b\nc,d,e\n").unwrap();
        let e = read_all(&CsvSource::new(&uri).with_field_count(2))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2 (byte offset 4): 3 fields where 2 are expected"),
            "{e}"
        );
    }
}
