//! The hand-written single-threaded word count (binary `wc-baseline`): what a competent engineer
//! writes without a dataflow engine, and what the engine's word count is compared with.
//!
//! It reads the input in large chunks, checks each chunk's complete lines for UTF-8 at once (an
//! invalid line is an error, as it is for a line-based reader), tokenises them with the same
//! [`for_each_word`] as the engine's example, and counts in an [`FxHashMap`] that is looked up
//! by `&str` so that only new words allocate.

use anyhow::{bail, Context, Result};
use rustc_hash::FxHashMap;
use spate_examples::tokenize::for_each_word;
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::path::Path;

/// Word → number of occurrences.
pub type WordCounts = FxHashMap<String, u64>;

/// Default read size of [`count_reader`].
pub const DEFAULT_CHUNK: usize = 4 * 1024 * 1024;

/// Adds the words of `text` to `counts`. `scratch` is reused across calls.
#[inline]
pub fn count_words(text: &str, counts: &mut WordCounts, scratch: &mut String) {
    for_each_word(text, scratch, |word| match counts.get_mut(word) {
        Some(count) => *count += 1,
        None => {
            counts.insert(word.to_owned(), 1);
        }
    });
}

/// Counts the words of everything `input` yields, reading `chunk` bytes at a time.
///
/// Lines (separated by `\n`) must be valid UTF-8; the error names the byte offset of the first
/// line that is not. A line longer than `chunk` is handled (the buffer grows).
pub fn count_reader(mut input: impl Read, chunk: usize) -> Result<WordCounts> {
    let mut counts = WordCounts::default();
    let mut scratch = String::new();
    let mut buf = vec![0u8; chunk.max(1)];
    let mut filled = 0; // bytes in buf[..filled] not yet counted (an incomplete line)
    let mut offset: u64 = 0; // input offset of buf[0]
    loop {
        if filled == buf.len() {
            let len = buf.len();
            buf.resize(len * 2, 0);
        }
        let n = match input.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("cannot read the input"),
        };
        if n == 0 {
            // The last line may lack its '\n'.
            count_lines(&buf[..filled], offset, &mut counts, &mut scratch)?;
            return Ok(counts);
        }
        let end = filled + n;
        // The last '\n' is near the end of the new bytes: search backwards.
        match buf[filled..end].iter().rposition(|&b| b == b'\n') {
            Some(pos) => {
                let lines_end = filled + pos + 1;
                count_lines(&buf[..lines_end], offset, &mut counts, &mut scratch)?;
                buf.copy_within(lines_end..end, 0);
                filled = end - lines_end;
                offset += lines_end as u64;
            }
            None => filled = end,
        }
    }
}

/// Counts complete lines `bytes` that start at input offset `offset`.
fn count_lines(bytes: &[u8], offset: u64, counts: &mut WordCounts, scratch: &mut String) -> Result<()> {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            // `for_each_word` treats '\n' like any other separator, so the lines need no splitting.
            count_words(text, counts, scratch);
            Ok(())
        }
        Err(e) => {
            let bad = e.valid_up_to();
            let line_start = bytes[..bad]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            bail!(
                "input is not valid UTF-8: the line at byte offset {} has an invalid byte at offset {}",
                offset + line_start as u64,
                offset + bad as u64
            )
        }
    }
}

/// Counts the words of the file at `path`.
pub fn count_file(path: &Path) -> Result<WordCounts> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    count_reader(file, DEFAULT_CHUNK).with_context(|| format!("cannot count the words of {}", path.display()))
}

/// Writes `word<TAB>count` lines, in no particular order.
pub fn write_counts(counts: &WordCounts, out: impl Write) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    for (word, count) in counts {
        writeln!(out, "{word}\t{count}")?;
    }
    out.flush()
}

/// Creates `dir` (if needed) and writes the counts to `dir/part-00000`.
pub fn write_part_file(dir: &Path, counts: &WordCounts) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("part-00000");
    let file = File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    write_counts(counts, file).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(counts: &WordCounts) -> Vec<(String, u64)> {
        let mut v: Vec<_> = counts.iter().map(|(w, c)| (w.clone(), *c)).collect();
        v.sort();
        v
    }

    fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(w, c)| (w.to_string(), *c)).collect()
    }

    const TEXT: &str = "The cat, the HAT -- and the cat!\nA cat2 sat. the end\n\nlast line, no newline";

    #[test]
    fn counts_known_text() {
        let mut counts = WordCounts::default();
        count_words(TEXT, &mut counts, &mut String::new());
        assert_eq!(
            sorted(&counts),
            pairs(&[
                ("a", 1),
                ("and", 1),
                ("cat", 2),
                ("cat2", 1),
                ("end", 1),
                ("hat", 1),
                ("last", 1),
                ("line", 1),
                ("newline", 1),
                ("no", 1),
                ("sat", 1),
                ("the", 4),
            ])
        );
    }

    #[test]
    fn chunking_does_not_change_the_counts() {
        let mut expected = WordCounts::default();
        count_words(TEXT, &mut expected, &mut String::new());
        // Tiny chunks split words and lines everywhere and force lines longer than the buffer.
        for chunk in [1, 2, 3, 7, 16, 1 << 20] {
            let counts = count_reader(TEXT.as_bytes(), chunk).unwrap();
            assert_eq!(sorted(&counts), sorted(&expected), "chunk {chunk}");
        }
        assert!(count_reader(&b""[..], 4).unwrap().is_empty());
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let input = b"fine line\nbad \xFF line\nmore\n";
        for chunk in [3, 1 << 20] {
            let err = count_reader(&input[..], chunk).unwrap_err().to_string();
            assert!(err.contains("offset 10") && err.contains("offset 14"), "{err}");
        }
        // Multi-byte characters split across chunks are fine.
        let counts = count_reader("naïve café\n".as_bytes(), 3).unwrap();
        assert_eq!(sorted(&counts), pairs(&[("caf", 1), ("na", 1), ("ve", 1)]));
    }

    #[test]
    fn writes_tab_separated_lines() {
        let mut counts = WordCounts::default();
        count_words("b a b", &mut counts, &mut String::new());
        let mut out = Vec::new();
        write_counts(&counts, &mut out).unwrap();
        let mut lines: Vec<_> = std::str::from_utf8(&out).unwrap().lines().collect();
        lines.sort();
        assert_eq!(lines, ["a\t1", "b\t2"]);
    }
}
