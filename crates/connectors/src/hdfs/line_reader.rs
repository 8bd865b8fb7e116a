//! The lines of one split. A line belongs to the split holding its first byte: a split that
//! starts inside a line skips to the next line start, and the last line of a split is read to its
//! end even past the split's end (into the next block). Over any `Read`: the HDFS and the local
//! text sources (and the CSV sources) read their lines with it.
//!
//! Bytes are read in chunks of about 1 MiB straight into a buffer that becomes a `String` when
//! the chunk's whole lines pass one UTF-8 check (the bytes after the chunk's last newline wait
//! for the next chunk); lines are then slices of it, with neither a copy nor a check per line.

use crate::hdfs::split::FsSplit;
use spate_fs::FileSystem;
use spate_runtime::{Error, Result};
use std::io::Read;

/// Bytes read per chunk: large, so calls are few and the UTF-8 check runs over long stretches.
const CHUNK: usize = 1 << 20;

/// Reads the lines of one byte range of a file.
pub struct SplitLineReader {
    input: Box<dyn Read + Send>,
    /// File offset of the next unread line: the first byte of `text[at..]`.
    pos: u64,
    end: u64,
    name: String,
    /// Whole lines, checked.
    text: String,
    /// Where the next line starts in `text`.
    at: usize,
    /// Bytes read after `text`: the start of a line whose end has not been read yet.
    rest: Vec<u8>,
    /// The input has ended.
    eof: bool,
    /// Invalid UTF-8 right after `text`: (byte of its line, in the line), reported when the
    /// lines before it have been read.
    invalid: Option<usize>,
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
            input,
            pos: start.saturating_sub(1),
            end,
            name,
            text: String::new(),
            at: 0,
            rest: Vec::new(),
            eof: false,
            invalid: None,
            line_break: "",
        };
        if start > 0 {
            // Skip the rest of the line holding byte `start - 1`: it belongs to the split before
            // (when that byte is a newline, this skips just it). Unchecked: it may begin inside
            // a character.
            loop {
                if r.rest.is_empty() && !r.read_chunk(Vec::new())? {
                    break;
                }
                if let Some(i) = memchr::memchr(b'\n', &r.rest) {
                    r.pos += (i + 1) as u64;
                    r.rest.drain(..=i);
                    break;
                }
                r.pos += r.rest.len() as u64;
                r.rest.clear();
            }
        }
        Ok(r)
    }

    /// Appends up to [`CHUNK`] bytes of the input to `rest` (reusing `spare`'s allocation when
    /// `rest` has none); false at the end of the input.
    fn read_chunk(&mut self, spare: Vec<u8>) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.rest.capacity() < CHUNK && spare.capacity() >= CHUNK {
            let mut spare = spare;
            spare.clear();
            spare.extend_from_slice(&self.rest);
            self.rest = spare;
        }
        let n = (&mut self.input)
            .take(CHUNK as u64)
            .read_to_end(&mut self.rest)
            .map_err(|e| Error::io(format!("cannot read {}", self.name), e))?;
        if n < CHUNK {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Replaces the exhausted `text` with the next whole lines of the input; false when there
    /// are none.
    fn refill(&mut self) -> Result<bool> {
        let mut spare = std::mem::take(&mut self.text).into_bytes();
        self.at = 0;
        // Read until `rest` holds a newline (or the input ended).
        let mut searched = 0;
        let cut = loop {
            if let Some(i) = memchr::memrchr(b'\n', &self.rest[searched..]) {
                break searched + i + 1;
            }
            searched = self.rest.len();
            if !self.read_chunk(std::mem::take(&mut spare))? {
                break self.rest.len();
            }
        };
        if cut == 0 {
            return Ok(false);
        }
        // `rest` becomes the checked text; what follows the cut stays in `rest`.
        let mut tail = if spare.capacity() > 0 { spare } else { Vec::new() };
        tail.clear();
        tail.extend_from_slice(&self.rest[cut..]);
        self.rest.truncate(cut);
        let lines = std::mem::replace(&mut self.rest, tail);
        match String::from_utf8(lines) {
            Ok(text) => self.text = text,
            Err(e) => {
                // The lines before the bad one are good; the error comes when they are read.
                let bad = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                let line = memchr::memrchr(b'\n', &bytes[..bad]).map_or(0, |i| i + 1);
                self.invalid = Some(bad - line);
                let mut after = bytes.split_off(line);
                after.extend_from_slice(&self.rest);
                self.rest = after;
                self.text = String::from_utf8(bytes).unwrap_or_default();
            }
        }
        Ok(!self.text.is_empty())
    }

    /// The file offset of the next unread byte: where the next line starts.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The end of the split: the first line starting at or after it is not the split's.
    pub fn end(&self) -> u64 {
        self.end
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
        if self.at == self.text.len() && (self.invalid.is_some() || !self.refill()?) {
            return match self.invalid {
                Some(at) => Err(Error::Other(format!(
                    "{}: invalid UTF-8 in the line starting at byte offset {} (byte {at} of the line)",
                    self.name, self.pos
                ))),
                None => Ok(None),
            };
        }
        let start = self.at;
        let len =
            memchr::memchr(b'\n', &self.text.as_bytes()[start..]).map_or(self.text.len() - start, |i| i + 1);
        self.at += len;
        self.pos += len as u64;
        // Cut at a newline or at the end of `text`: character boundaries.
        let mut line = self.text.get(start..start + len).unwrap_or_default();
        self.line_break = "";
        if let Some(rest) = line.strip_suffix('\n') {
            self.line_break = "\n";
            line = rest;
            if let Some(rest) = line.strip_suffix('\r') {
                self.line_break = "\r\n";
                line = rest;
            }
        }
        Ok(Some(line))
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
    fn lines_across_chunks_and_bad_utf8_far_into_the_file() {
        // Lines of every length up to 3000 bytes, over several chunks, some multi-byte.
        let mut data = Vec::new();
        let mut expected = Vec::new();
        for i in 0..2500usize {
            let line: String = (0..(i * 7) % 3000)
                .map(|j| if j % 50 == 7 { 'é' } else { 'x' })
                .collect();
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            expected.push(line);
        }
        let len = data.len() as u64;
        assert!(len > 3 * CHUNK as u64);
        for cut in [
            0,
            1,
            CHUNK as u64 - 1,
            CHUNK as u64,
            CHUNK as u64 + 1,
            len / 2,
            len - 1,
        ] {
            let mut got = split_lines(&data, 0, cut, 1 << 16);
            got.extend(split_lines(&data, cut, len, 100_000));
            assert!(got == expected, "cut at {cut}");
        }
        // A bad byte 2.5 MiB in: every line before it, then an error naming its line's offset.
        let bad_at = CHUNK * 5 / 2;
        let line_start = data[..bad_at].iter().rposition(|&b| b == b'\n').unwrap() + 1;
        let mut bad = data.clone();
        bad[bad_at] = 0xff;
        let mut r = SplitLineReader::new(
            Box::new(Trickle {
                data: bad,
                pos: 0,
                step: 70_000,
            }),
            0,
            len,
            "big".into(),
        )
        .unwrap();
        let mut read = 0;
        let e = loop {
            match r.next_line() {
                Ok(Some(_)) => read += 1,
                Ok(None) => panic!("no error"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(read, data[..line_start].iter().filter(|&&b| b == b'\n').count());
        assert!(
            e.contains(&format!(
                "byte offset {line_start} (byte {} of the line)",
                bad_at - line_start
            )),
            "{e}"
        );
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
