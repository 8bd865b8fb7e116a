//! The raw CSV records of one split, each read exactly once across the splits of its file.
//!
//! **Line per record (the default).** A record is a line, so the text source's rule holds: a split
//! owns the lines that start in it, and a reader starting mid-file skips to the next line start
//! (see [`crate::hdfs::line_reader`]). Files split at HDFS blocks; a quoted field cannot hold a line
//! break (the line's quote is reported unterminated).
//!
//! **Multi-line records** ([`CsvFormat::multi_line`]). RFC 4180 lets a quoted field hold CR and LF,
//! so a record runs on over the line breaks inside quotes. Whether a line start is inside a quoted
//! field depends on every quote before it in the file, back to its first byte: a reader dropped
//! at a block boundary cannot know, and a guess (Spark's and Hadoop's readers know no better) can
//! split a record in two or skip one. So in this format every file is one split, read from its
//! first byte by one reader, as Spark's `multiLine` CSV reads whole files: correctness never rests
//! on a heuristic, and parallelism comes from having several files. The reader still streams (one
//! record in memory at a time, at most [`MAX_RECORD_BYTES`]) and the split's hosts are those of
//! the file's largest block.
//!
//! [`MAX_RECORD_BYTES`]: crate::hdfs::csv_records::MAX_RECORD_BYTES
//!
//! Records are cut with the quoting rules of the `csv` crate that then parses them (a quote opens
//! a quoted field only at the start of a field; `""` inside one is a quote; after the closing
//! quote the field goes on unquoted), so both agree on where a record ends. A line break inside
//! quotes is kept as written (`\n` or `\r\n`); the one ending the record is dropped. A quote still
//! open at the end of the file is an error naming the file and the line the record starts on.
//!
//! **Checkpoints.** A reader's split in a checkpoint starts where its next record starts
//! ([`SplitRecords::position`]): after a record's final line break, outside any quotes, in both
//! formats. So a restored reader (a multi-line one too: it knows it starts at a record) goes on
//! with exactly that record. Its errors then give the byte offset, not the line number.

use super::csv_parse::CsvFormat;
use super::line_reader::SplitLineReader;
use super::split::FsSplit;
use spate_fs::FileSystem;
use spate_runtime::{Error, Result};

/// The largest multi-line record read (64 MiB): past it, a quote was most likely left open, and
/// the error says so rather than the reader holding the rest of the file in memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Where a scan of a record stands after a byte (the `csv` crate's states that matter here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field.
    FieldStart,
    /// In a field that is not quoted (a quote here is an ordinary character).
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote in a quoted field: a second quote makes a literal one, anything else
    /// closes the quoted part.
    QuoteInQuoted,
}

/// The state after `bytes`, from `state`.
fn scan(mut state: Quoting, bytes: &[u8], delimiter: u8, quote: u8) -> Quoting {
    let mut i = 0;
    while i < bytes.len() {
        if state == Quoting::Quoted {
            match memchr::memchr(quote, &bytes[i..]) {
                Some(k) => {
                    i += k + 1;
                    state = Quoting::QuoteInQuoted;
                    continue;
                }
                None => return Quoting::Quoted,
            }
        }
        let b = bytes[i];
        state = match state {
            Quoting::FieldStart | Quoting::QuoteInQuoted if b == quote => Quoting::Quoted,
            _ if b == delimiter => Quoting::FieldStart,
            _ => Quoting::Unquoted,
        };
        i += 1;
    }
    state
}

/// Reads the records of one split.
pub(crate) struct SplitRecords {
    lines: SplitLineReader,
    split: FsSplit,
    multi_line: bool,
    delimiter: u8,
    quote: u8,
    /// A multi-line record being joined.
    joined: String,
    /// Lines read so far in the split.
    lines_read: u64,
    /// The last record's first line (1-based in the split) and file offset.
    line: u64,
    offset: u64,
}

impl SplitRecords {
    /// Opens `split` on `fs`.
    pub(crate) fn open(fs: &dyn FileSystem, split: FsSplit, format: &CsvFormat) -> Result<Self> {
        let lines = SplitLineReader::open(fs, &split)?;
        Ok(SplitRecords::new(lines, split, format))
    }

    /// The records `lines` (a reader of `split`) hold.
    fn new(lines: SplitLineReader, split: FsSplit, format: &CsvFormat) -> Self {
        SplitRecords {
            lines,
            split,
            multi_line: format.multi_line,
            delimiter: format.delimiter,
            quote: format.quote,
            joined: String::new(),
            lines_read: 0,
            line: 0,
            offset: 0,
        }
    }

    /// The next record without its final line break, or `None` at the split's end.
    pub(crate) fn next_record(&mut self) -> Result<Option<&str>> {
        self.offset = self.lines.position();
        self.line = self.lines_read + 1;
        if !self.multi_line {
            let line = self.lines.next_line()?;
            self.lines_read += u64::from(line.is_some());
            return Ok(line);
        }
        let mut state = Quoting::FieldStart;
        self.joined.clear();
        loop {
            let Some(line) = self.lines.next_line()? else {
                if self.lines_read < self.line {
                    return Ok(None);
                }
                // A whole-file split: the end of its lines is the end of the file.
                return Err(self.malformed("unterminated quoted field at the end of the file"));
            };
            self.lines_read += 1;
            state = scan(state, line.as_bytes(), self.delimiter, self.quote);
            self.joined.push_str(line);
            if state != Quoting::Quoted {
                return Ok(Some(&self.joined));
            }
            self.joined.push_str(self.lines.line_break());
            if self.joined.len() > MAX_RECORD_BYTES {
                return Err(self.malformed(&format!(
                    "a record longer than {MAX_RECORD_BYTES} bytes (a quoted field left open?)"
                )));
            }
        }
    }

    /// The file offset where the next record starts (after the last one returned).
    pub(crate) fn position(&self) -> u64 {
        self.lines.position()
    }

    /// Whether the split starts its file (so line numbers are the file's).
    pub(crate) fn at_file_start(&self) -> bool {
        self.split.start == 0
    }

    /// The error for the last record read, malformed as `why` says: the file, and where the record
    /// starts (its line number when the split starts the file).
    pub(crate) fn malformed(&self, why: &str) -> Error {
        let (n, offset) = (self.line, self.offset);
        let at = if self.at_file_start() {
            format!("line {n} (byte offset {offset})")
        } else {
            format!("byte offset {offset}")
        };
        Error::Other(format!("{}: malformed CSV record at {at}: {why}", self.split.uri))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn records(data: &str, format: &CsvFormat, start: u64, end: u64) -> Result<Vec<String>> {
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(
            data.as_bytes()[start.saturating_sub(1) as usize..].to_vec(),
        ));
        let lines = SplitLineReader::new(input, start, end, "mem://f.csv".into())?;
        let split = FsSplit::new("mem://f.csv", start, end, vec![]);
        let mut r = SplitRecords::new(lines, split, format);
        let mut out = Vec::new();
        while let Some(record) = r.next_record()? {
            out.push(record.to_string());
        }
        Ok(out)
    }

    fn multi() -> CsvFormat {
        CsvFormat {
            multi_line: true,
            ..CsvFormat::default()
        }
    }

    #[test]
    fn quoted_line_breaks_join_lines_into_one_record() {
        let data = "a,\"one\ntwo\"\r\n\"x\r\ny\",\"say \"\"hi\"\"\nthere\"\n\"\"\"\n\",z\n\nlast,\"\n\"";
        let got = records(data, &multi(), 0, data.len() as u64).unwrap();
        assert_eq!(
            got,
            [
                "a,\"one\ntwo\"",
                "\"x\r\ny\",\"say \"\"hi\"\"\nthere\"",
                "\"\"\"\n\",z",
                "",
                "last,\"\n\"",
            ]
        );
        // Quotes inside an unquoted field, or after a closed quote, open nothing.
        let data = "ab\"c,d\n\"e\"f\"g,h\n";
        assert_eq!(
            records(data, &multi(), 0, data.len() as u64).unwrap(),
            ["ab\"c,d", "\"e\"f\"g,h"]
        );
        let semi = CsvFormat {
            delimiter: b';',
            quote: b'\'',
            ..multi()
        };
        let data = "'a;\n\"b';c\n";
        assert_eq!(records(data, &semi, 0, 10).unwrap(), ["'a;\n\"b';c"]);
    }

    #[test]
    fn an_open_quote_at_the_end_fails_naming_the_file_and_line() {
        let data = "h\nok,1\n\"open,2\nmore\n";
        let e = records(data, &multi(), 0, data.len() as u64)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "mem://f.csv: malformed CSV record at line 3 (byte offset 7): unterminated quoted field"
            ),
            "{e}"
        );
        let e = records("\"", &multi(), 0, 1).unwrap_err().to_string();
        assert!(e.contains("line 1 (byte offset 0)"), "{e}");
        // Line per record: the same file is three records, the bad one left to the parser.
        assert_eq!(records(data, &CsvFormat::default(), 0, 20).unwrap().len(), 4);
    }

    #[test]
    fn the_scan_agrees_with_the_csv_crate() {
        // Every record the scan cuts is one record for the `csv` crate, with the same fields
        // as the crate reading the whole text at once.
        let text = "a,\"b\nc\",d\n\"e\"\"\",\"\"\n\"f\"g\"h,\"i\r\n\"\nj\"k,l\n,,\n\"\"\"\"\n";
        let mut whole = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(text.as_bytes());
        let expected: Vec<Vec<String>> = whole
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        let mut parser = super::super::csv_parse::RecordParser::new(&multi());
        let got: Vec<Vec<String>> = records(text, &multi(), 0, text.len() as u64)
            .unwrap()
            .iter()
            .filter_map(|r| parser.parse(r).unwrap())
            .collect();
        assert_eq!(got, expected);
    }
}
