//! CSV records of files on HDFS or locally (a file, a directory or a glob), parsed by
//! [`crate::hdfs::csv_parse`] from the records [`crate::hdfs::csv_records`] cuts: one per line with the text
//! source's block splits by default, or records spanning lines (quoted line breaks) with each file
//! read whole by one reader ([`CsvSource::with_multi_line`]). A malformed record fails the job
//! with the file's URI, the byte offset where the record starts and, when the split starts the
//! file (always for multi-line records), its line number.

use super::csv_parse::{CsvFormat, RecordParser};
use super::csv_records::SplitRecords;
use super::fs_error;
use super::split::{FsSplit, LocalityEnumerator};
use super::text_source::HdfsTextSource;
use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceReader, SplitEnumerator};
use spate_runtime::{Collector, Result, TaskContext};
use std::collections::VecDeque;

/// Records read per `poll_next`, so the task can flush and check for cancellation.
const RECORDS_PER_POLL: usize = 1024;

/// Reads CSV records as `Vec<String>` from a URI (`hdfs://...`, `file://...` or a local path).
///
/// ```no_run
/// use spate_connectors::hdfs::CsvSource;
/// let source = CsvSource::new("hdfs:///sales/2024-*.csv").with_header(true).with_field_count(4);
/// // Quoted fields holding line breaks: each file is read whole by one reader.
/// let notes = CsvSource::new("hdfs:///notes/*.csv").with_multi_line(true);
/// # let _ = (source, notes);
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

    /// Uses `format` (delimiter, quote, header, field count, multi-line records).
    pub fn with_format(mut self, format: CsvFormat) -> Self {
        self.format = format;
        self
    }

    /// Separates fields with `delimiter` instead of `,`.
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.format.delimiter = delimiter;
        self
    }

    /// Whether the first record of each file is a header to skip.
    pub fn with_header(mut self, header: bool) -> Self {
        self.format.header = header;
        self
    }

    /// Fails on a record without exactly `count` fields.
    pub fn with_field_count(mut self, count: usize) -> Self {
        self.format.field_count = Some(count);
        self
    }

    /// Whether quoted fields may hold line breaks (RFC 4180), so records can span lines. Each
    /// file is then one split, read from its start by one reader (the split size is not used):
    /// a reader starting inside a file could not tell whether it starts inside quotes.
    pub fn with_multi_line(mut self, multi_line: bool) -> Self {
        self.format.multi_line = multi_line;
        self
    }

    /// Uses splits of `bytes` (at least 1) instead of blocks or the automatic size (not for
    /// multi-line records, whose splits are whole files).
    pub fn with_split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }

    /// The splits of the input for `parallelism` readers: the text source's, or one per file for
    /// multi-line records.
    pub fn splits(&self, parallelism: u32) -> Result<Vec<FsSplit>> {
        let text = HdfsTextSource::new(self.uri.clone());
        let size = match self.format.multi_line {
            // Larger than any file: a split per file, with the hosts of its largest block.
            true => Some(u64::MAX / 4),
            false => self.split_size,
        };
        match size {
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
        tracing::debug!(
            input = %self.uri,
            splits = splits.len(),
            multi_line = self.format.multi_line,
            "planned CSV splits"
        );
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<Vec<String>, FsSplit>>> {
        Ok(Box::new(CsvReader::new(&self.format, RECORDS_PER_POLL)))
    }
    fn restore_enumerator(
        &self,
        parallelism: u32,
        splits: Vec<FsSplit>,
    ) -> Result<Box<dyn SplitEnumerator<FsSplit>>> {
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
}

struct CsvReader {
    parser: RecordParser,
    format: CsvFormat,
    /// The split being read (as given) and its records.
    current: Option<(FsSplit, SplitRecords)>,
    /// Splits added and not yet opened.
    queued: VecDeque<FsSplit>,
    per_poll: usize,
}

impl CsvReader {
    fn new(format: &CsvFormat, per_poll: usize) -> Self {
        CsvReader {
            parser: RecordParser::new(format),
            format: format.clone(),
            current: None,
            queued: VecDeque::new(),
            per_poll,
        }
    }

    fn open(&mut self, split: FsSplit) -> Result<()> {
        let (fs, _) = spate_fs::resolve(&split.uri).map_err(fs_error)?;
        let mut records = SplitRecords::open(fs.as_ref(), split.clone(), &self.format)?;
        if self.format.header && records.at_file_start() {
            records.next_record()?;
        }
        self.current = Some((split, records));
        Ok(())
    }
}

impl SourceReader<Vec<String>, FsSplit> for CsvReader {
    fn add_split(&mut self, split: FsSplit) -> Result<()> {
        self.queued.push_back(split);
        Ok(())
    }

    fn snapshot_state(&mut self) -> Result<Vec<FsSplit>> {
        let current = self
            .current
            .as_ref()
            .and_then(|(split, records)| super::text_source::rest_of(split, records.position()));
        Ok(current.into_iter().chain(self.queued.iter().cloned()).collect())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<Vec<String>>) -> Result<ReadStatus> {
        if self.current.is_none() {
            let Some(split) = self.queued.pop_front() else {
                return Ok(ReadStatus::NeedSplit);
            };
            self.open(split)?;
        }
        let Some((_, records)) = self.current.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..self.per_poll {
            let Some(record) = records.next_record()? else {
                self.current = None;
                return Ok(ReadStatus::MoreAvailable);
            };
            match self.parser.parse(record) {
                Ok(Some(fields)) => out.collect(fields),
                Ok(None) => {}
                Err(why) => return Err(records.malformed(&why)),
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }
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
    fn a_restored_reader_goes_on_with_the_next_record_in_both_formats() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Vec<String>> = (0..12).map(multi_line_row).collect();
        let quoted = |f: &String| format!("\"{}\"", f.replace('"', "\"\""));
        let body: Vec<String> = rows
            .iter()
            .map(|r| r.iter().map(quoted).collect::<Vec<_>>().join(","))
            .collect();
        std::fs::write(
            dir.path().join("m.csv"),
            format!("h1,\"h\n2\",h3\r\n{}\n", body.join("\r\n")),
        )
        .unwrap();
        let uri = format!("file://{}/m.csv", dir.path().display());
        let format = CsvFormat {
            multi_line: true,
            header: true,
            field_count: Some(3),
            ..CsvFormat::default()
        };
        for per_poll in [1, 3] {
            let reader = || -> Box<dyn SourceReader<Vec<String>, FsSplit>> {
                Box::new(CsvReader::new(&format, per_poll))
            };
            let source = CsvSource::new(&uri).with_format(format.clone());
            let expected = crate::resume_tests::read_uninterrupted(&source, 2, &reader);
            assert_eq!(expected, rows);
            crate::resume_tests::check_resume(&source, 2, &reader, &expected);
        }
        // Line per record, small splits: a header per file, records cut at block boundaries.
        let lines: Vec<Vec<String>> = (0..30).map(row).collect();
        let text: Vec<String> = lines.iter().map(|r| line(r)).collect();
        std::fs::write(
            dir.path().join("l.csv"),
            format!("id,name,note\n{}\n", text.join("\n")),
        )
        .unwrap();
        let uri = format!("file://{}/l.csv", dir.path().display());
        let format = CsvFormat {
            header: true,
            ..CsvFormat::default()
        };
        for size in [4, 33, 1 << 20] {
            let reader =
                || -> Box<dyn SourceReader<Vec<String>, FsSplit>> { Box::new(CsvReader::new(&format, 2)) };
            let source = CsvSource::new(&uri)
                .with_format(format.clone())
                .with_split_size(size);
            let expected = crate::resume_tests::read_uninterrupted(&source, 2, &reader);
            assert_eq!(expected, lines, "split size {size}");
            crate::resume_tests::check_resume(&source, 2, &reader, &expected);
        }
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

    /// Record `i` of the multi-line data: line breaks (LF and CRLF) and doubled quotes in fields.
    fn multi_line_row(i: usize) -> Vec<String> {
        let note = match i % 4 {
            0 => format!("line one\nline \"two\" of {i}"),
            1 => format!("crlf\r\ninside, {i}"),
            2 => "\n".repeat(i % 5),
            _ => format!("plain {i}"),
        };
        vec![i.to_string(), note, "\"".repeat(i % 3)]
    }

    #[test]
    fn multi_line_records_hold_quoted_line_breaks_and_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<Vec<String>> = (0..300).map(multi_line_row).collect();
        let write = |name: &str, rows: &[Vec<String>], sep: &str| {
            let quoted = |f: &String| format!("\"{}\"", f.replace('"', "\"\""));
            let body: Vec<String> = rows
                .iter()
                .map(|r| r.iter().map(quoted).collect::<Vec<_>>().join(","))
                .collect();
            let text = format!("id,\"multi\nline\",note{sep}{}{sep}", body.join(sep));
            std::fs::write(dir.path().join(name), text).unwrap();
        };
        write("a.csv", &expected[..170], "\n");
        write("b.csv", &expected[170..], "\r\n");
        let d = dir.path().display();
        for size in [1, 7, 1 << 20] {
            let source = CsvSource::new(format!("file://{d}"))
                .with_multi_line(true)
                .with_header(true)
                .with_field_count(3)
                .with_split_size(size);
            assert_eq!(source.splits(4).unwrap().len(), 2, "a split per file");
            assert_eq!(read_all(&source).unwrap(), expected, "split size {size}");
        }
        // The header is one record too: without skipping it, it comes first.
        let with_header = read_all(&CsvSource::new(format!("{d}/b.csv")).with_multi_line(true)).unwrap();
        assert_eq!(with_header[0], ["id", "multi\nline", "note"]);
        assert_eq!(with_header[1..], expected[170..]);
        // Read a line at a time, the same file fails at its first quoted line break, saying how
        // to read it.
        let e = read_all(&CsvSource::new(format!("{d}/a.csv")).with_split_size(50))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1 (byte offset 0): unterminated quoted field"),
            "{e}"
        );
        assert!(e.contains("with_multi_line"), "{e}");
    }

    #[test]
    fn a_quote_open_at_the_end_of_a_multi_line_file_fails_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open.csv");
        std::fs::write(&path, "a,b\n\"c\nd\",e\nf,\"never\nclosed\n").unwrap();
        let uri = format!("file://{}", path.display());
        let e = read_all(&CsvSource::new(&uri).with_multi_line(true))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&uri)
                && e.contains("line 4 (byte offset 12): unterminated quoted field at the end of the file"),
            "{e}"
        );
        let e = read_all(&CsvSource::new(&uri).with_multi_line(true).with_field_count(3))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 1 (byte offset 0): 2 fields where 3 are expected"),
            "{e}"
        );
        std::fs::write(&path, "x,\"y\n\nz\"\nw,v").unwrap();
        let got = read_all(&CsvSource::new(&uri).with_multi_line(true)).unwrap();
        assert_eq!(got, [vec!["x", "y\n\nz"], vec!["w", "v"]]);
    }
}
