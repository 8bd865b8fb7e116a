//! Parsing one CSV record into its fields with the `csv` crate, strictly: a quote left open at
//! the end of the record is an error (the `csv` crate alone would accept it), as is a wrong number
//! of fields when one is expected.
//!
//! By default a record is one line, so quoted fields cannot hold line breaks; with
//! [`CsvFormat::multi_line`] a record is cut from its file by [`crate::hdfs::csv_records`], line breaks
//! inside quoted fields included (RFC 4180), and parsed here the same way.

use std::io::Read;

/// The error for a line whose quoted field is not closed (in the line-per-record format).
pub(crate) const UNTERMINATED_LINE: &str =
    "unterminated quoted field (for line breaks inside quotes, read with CsvSource::with_multi_line)";

/// How CSV lines are read and written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvFormat {
    /// The field separator (`b','` by default).
    pub delimiter: u8,
    /// The quote character (`b'"'` by default); a quote inside a quoted field is doubled.
    pub quote: u8,
    /// Whether the first line of each file is a header (skipped when reading).
    pub header: bool,
    /// The number of fields every record must have, if fixed.
    pub field_count: Option<usize>,
    /// Whether quoted fields may hold line breaks (`\n`, `\r\n`), so that a record can span
    /// lines. Such a file cannot be split: each file is read whole by one reader (see
    /// [`super::csv_records`]). Off by default: records are lines and files split at blocks.
    pub multi_line: bool,
}

impl Default for CsvFormat {
    fn default() -> Self {
        CsvFormat {
            delimiter: b',',
            quote: b'"',
            header: false,
            field_count: None,
            multi_line: false,
        }
    }
}

/// The current record, handed to the `csv` reader one record at a time.
#[derive(Default)]
struct Feed {
    data: Vec<u8>,
    pos: usize,
}

impl Read for Feed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Parses records into fields, reusing one `csv` reader and its buffers.
pub(crate) struct RecordParser {
    format: CsvFormat,
    reader: csv::Reader<Feed>,
    record: csv::StringRecord,
}

fn reader(format: &CsvFormat) -> csv::Reader<Feed> {
    csv::ReaderBuilder::new()
        .delimiter(format.delimiter)
        .quote(format.quote)
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(Feed::default())
}

impl RecordParser {
    pub(crate) fn new(format: &CsvFormat) -> Self {
        RecordParser {
            format: format.clone(),
            reader: reader(format),
            record: csv::StringRecord::new(),
        }
    }

    /// The fields of `record` (without its final line break); `None` for an empty one (skipped,
    /// as the `csv` crate does); an error saying what is wrong with a malformed one. A line break
    /// inside a field is one only the multi-line format allows (and there [`super::csv_records`]
    /// has checked every quote is closed).
    pub(crate) fn parse(&mut self, record: &str) -> Result<Option<Vec<String>>, String> {
        if record.is_empty() {
            return Ok(None);
        }
        let feed = self.reader.get_mut();
        feed.data.clear();
        feed.data.extend_from_slice(record.as_bytes());
        feed.data.push(b'\n');
        feed.pos = 0;
        let result = match self.reader.read_record(&mut self.record) {
            Ok(true) if !self.format.multi_line && self.record.iter().any(|f| f.contains('\n')) => {
                Err(UNTERMINATED_LINE.to_string())
            }
            Ok(true) => Ok(()),
            Ok(false) => Err("no record in a non-empty line".to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = result {
            // The reader may hold part of the bad line: start afresh for the next one.
            self.reader = reader(&self.format);
            return Err(e);
        }
        if let Some(n) = self.format.field_count.filter(|&n| n != self.record.len()) {
            return Err(format!("{} fields where {n} are expected", self.record.len()));
        }
        Ok(Some(self.record.iter().map(str::to_string).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(format: &CsvFormat, lines: &[&str]) -> Vec<Result<Option<Vec<String>>, String>> {
        let mut p = RecordParser::new(format);
        lines.iter().map(|l| p.parse(l)).collect()
    }

    fn fields(f: &[&str]) -> Result<Option<Vec<String>>, String> {
        Ok(Some(f.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn quoting_delimiters_and_empty_fields() {
        let got = parse(
            &CsvFormat::default(),
            &[
                "a,b,c",
                r#""x, y","say ""hi""",z"#,
                ",,",
                "",
                "  spaced , kept ",
                "\"\"",
                "one\rcarriage",
                "é,ü",
            ],
        );
        assert_eq!(
            got,
            [
                fields(&["a", "b", "c"]),
                fields(&["x, y", "say \"hi\"", "z"]),
                fields(&["", "", ""]),
                Ok(None),
                fields(&["  spaced ", " kept "]),
                fields(&[""]),
                fields(&["one\rcarriage"]),
                fields(&["é", "ü"]),
            ]
        );
        let tabs = CsvFormat {
            delimiter: b'\t',
            quote: b'\'',
            ..CsvFormat::default()
        };
        assert_eq!(
            parse(&tabs, &["a\t'b\tc'\t\"d\""]),
            [fields(&["a", "b\tc", "\"d\""])]
        );
    }

    #[test]
    fn unterminated_quotes_and_wrong_counts_are_errors_and_parsing_goes_on() {
        let format = CsvFormat {
            field_count: Some(2),
            ..CsvFormat::default()
        };
        let got = parse(&format, &["a,\"open", "c,d", "1,2,3", "\"x\",y"]);
        assert_eq!(got[0], Err(UNTERMINATED_LINE.to_string()));
        assert_eq!(got[1], fields(&["c", "d"]));
        assert_eq!(got[2], Err("3 fields where 2 are expected".to_string()));
        assert_eq!(got[3], fields(&["x", "y"]));
    }
}
