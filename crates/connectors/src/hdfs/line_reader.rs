//! The lines of one split. A line belongs to the split holding its first byte: a split that
//! starts inside a line skips to the next line start, and the last line of a split is read to its
//! end even past the split's end (into the next block). Over any `Read`: the HDFS and the local
//! text sources (and the CSV sources) read their lines with it. A line inside the 1 MiB read
//! buffer is validated and returned where it lies; only a line crossing the buffer's end is
//! copied once more.

use crate::hdfs::split::FsSplit;
use spate_fs::FileSystem;
use spate_runtime::{Error, Result};
use std::io::{BufRead as _, BufReader, Read};

/// Read buffer: large, so each HDFS packet is copied once and calls are few.
const READ_BUFFER: usize = 1 << 20;

/// Reads the lines of one byte range of a file.
pub struct SplitLineReader {
    reader: BufReader<Box<dyn Read + Send>>,
    /// File offset of the next unread byte.
    pos: u64,
    end: u64,
    name: String,
    buf: Vec<u8>,
    /// Bytes of the read buffer still to consume: the last line returned straight from it.
    pending: usize,
    /// The line break that ended the last line returned.
    line_break: &'static str,
}

impl SplitLineReader {
    /// Opens `split` on `fs`.
    pub fn open(fs: &dyn FileSystem, split: &FsSplit) -> Result<Self> {
        let uri = spate_fs::FsUri::parse(&split.uri).map_err(super::fs_error)?;
        let offset = split.start.saturating_sub(1);
        let input = fs.open(&uri, offset).map_err(super::fs_error)?;
        SplitLineReader::new(input, split.start, split.end, split.uri.clone())
    }

    /// Reads `start..end` of a file from `input`, which is positioned at `start - 1` (at 0 when
    /// `start` is 0); `name` names the file in errors.
    pub fn new(input: Box<dyn Read + Send>, start: u64, end: u64, name: String) -> Result<Self> {
        let mut r = SplitLineReader {
            reader: BufReader::with_capacity(READ_BUFFER, input),
            pos: start.saturating_sub(1),
            end,
            name,
            buf: Vec::new(),
            pending: 0,
            line_break: "",
        };
        if start > 0 {
            // Skip the rest of the line holding byte `start - 1`: it belongs to the split before
            // (when that byte is a newline, this skips just it).
            r.read_raw_line()?;
        }
        Ok(r)
    }

    /// Reads up to and including the next newline into `buf`; the number of bytes read.
    fn read_raw_line(&mut self) -> Result<usize> {
        self.buf.clear();
        let n = crate::lines::read_line(&mut self.reader, &mut self.buf)
            .map_err(|e| Error::io(format!("cannot read {}", self.name), e))?;
        self.pos += n as u64;
        Ok(n)
    }

    /// The end of the split: the first line starting at or after it is not the split's.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The file offset of the next unread byte: where the next line starts.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The line break that ended the last line returned: `"\n"`, `"\r\n"`, or `""` at the end
    /// of the file.
    pub fn line_break(&self) -> &'static str {
        self.line_break
    }

    /// The next line of the split without its `\n` or `\r\n`, or `None` at the split's end.
    pub fn next_line(&mut self) -> Result<Option<&str>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let line_start = self.pos;
        // A line inside the read buffer is returned from there (consumed on the next call); one
        // that crosses the buffer's end is gathered in `buf`.
        self.reader.consume(std::mem::take(&mut self.pending));
        let newline = loop {
            match self.reader.fill_buf() {
                Ok(b) => break memchr::memchr(b'\n', b),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("cannot read {}", self.name), e)),
            }
        };
        let mut line: &[u8] = match newline {
            Some(i) => {
                self.pending = i + 1;
                self.pos += (i + 1) as u64;
                &self.reader.buffer()[..=i]
            }
            None => {
                if self.read_raw_line()? == 0 {
                    return Ok(None);
                }
                &self.buf
            }
        };
        self.line_break = "";
        if let Some(rest) = line.strip_suffix(b"\n") {
            self.line_break = "\n";
            line = rest;
            if let Some(rest) = line.strip_suffix(b"\r") {
                self.line_break = "\r\n";
                line = rest;
            }
        }
        match std::str::from_utf8(line) {
            Ok(text) => Ok(Some(text)),
            Err(e) => Err(Error::Other(format!(
                "{}: invalid UTF-8 in the line starting at byte offset {line_start} (byte {} of the line)",
                self.name,
                e.valid_up_to()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns at most `step` bytes per call, like packets arriving.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn split_lines(data: &[u8], start: u64, end: u64, step: usize) -> Vec<String> {
        let from = start.saturating_sub(1) as usize;
        let input = Trickle {
            data: data[from..].to_vec(),
            pos: 0,
            step,
        };
        let mut r = SplitLineReader::new(Box::new(input), start, end, "mem".into()).unwrap();
        let mut out = Vec::new();
        while let Some(line) = r.next_line().unwrap() {
            out.push(line.to_string());
        }
        out
    }

    /// Every cut of `data` into two or three splits yields each line exactly once.
    fn check_all_cuts(data: &str, expected: &[&str]) {
        let b = data.as_bytes();
        let len = b.len() as u64;
        for step in [1, 3, 1 << 16] {
            for c1 in 0..=len {
                for c2 in c1..=len {
                    let mut got = split_lines(b, 0, c1, step);
                    got.extend(split_lines(b, c1, c2, step));
                    got.extend(split_lines(b, c2, len, step));
                    assert_eq!(got, expected, "cuts {c1} {c2} step {step} of {data:?}");
                }
            }
        }
    }

    #[test]
    fn every_line_once_for_every_cut_of_odd_inputs() {
        check_all_cuts("a\nbb\nccc\n", &["a", "bb", "ccc"]);
        check_all_cuts("no newline at end", &["no newline at end"]);
        check_all_cuts("\n\n", &["", ""]);
        check_all_cuts("x\r\n\r\ny", &["x", "", "y"]);
        check_all_cuts("", &[]);
        check_all_cuts("é\nü ö\n", &["é", "ü ö"]);
    }

    #[test]
    fn a_truncated_file_ends_the_split_and_bad_utf8_names_the_offset() {
        // The split claims more bytes than the file has (the file shrank): the lines there are.
        assert_eq!(split_lines(b"a\nb", 0, 100, 2), ["a", "b"]);
        assert_eq!(split_lines(b"a\nb", 1, 100, 2), ["b"]);
        let input = Trickle {
            data: b"ok\nbad \xff\n".to_vec(),
            pos: 0,
            step: 4,
        };
        let mut r = SplitLineReader::new(Box::new(input), 0, 10, "hdfs://nn/f".into()).unwrap();
        assert_eq!(r.next_line().unwrap(), Some("ok"));
        let e = r.next_line().unwrap_err().to_string();
        assert!(e.contains("hdfs://nn/f") && e.contains("byte offset 3"), "{e}");
    }

    #[test]
    fn line_starts_and_line_breaks_are_reported() {
        let input = Trickle {
            data: b"a\r\nbb\nc".to_vec(),
            pos: 0,
            step: 2,
        };
        let mut r = SplitLineReader::new(Box::new(input), 0, 100, "mem".into()).unwrap();
        let mut seen = Vec::new();
        loop {
            let at = r.position();
            let Some(line) = r.next_line().unwrap() else { break };
            let line = line.to_string();
            seen.push((at, line, r.line_break()));
        }
        let expected = [(0, "a", "\r\n"), (3, "bb", "\n"), (6, "c", "")];
        assert_eq!(seen, expected.map(|(at, l, b)| (at, l.to_string(), b)));
    }
}
