//! Text files as a source of lines.
//!
//! The enumerator lists the input (a file, or the visible files of a directory) and cuts every
//! file into byte ranges. A line belongs to the range that holds its first byte: a reader whose
//! range starts inside a line skips to the next line start, and it reads past its range's end to
//! finish its last line. So every line is read exactly once, however the ranges fall.
//!
//! Checkpoints: a reader's split in a checkpoint starts at the next unread line (the byte after
//! the last line emitted), so the same rule makes a restored reader go on with exactly that line.

use crate::hdfs::line_reader::SplitLineReader;
use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, QueueEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Error, Result, TaskContext};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Lines emitted per `poll_next`.
const LINES_PER_POLL: usize = 1024;

/// Smallest split: below this, more splits cost more than they balance.
const MIN_SPLIT: u64 = 1 << 20;
/// Largest split.
const MAX_SPLIT: u64 = 64 << 20;

/// Reads lines of text files.
pub struct TextFileSource {
    path: PathBuf,
    split_size: Option<u64>,
}

impl TextFileSource {
    /// Lines of `path` (a file or a directory of files).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TextFileSource {
            path: path.into(),
            split_size: None,
        }
    }

    /// Uses splits of `bytes` (at least 1) instead of the automatic size.
    pub fn with_split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }
}

/// A byte range of one file (in a checkpoint: from the next unread line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSplit {
    /// The file.
    pub path: PathBuf,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The files of an input path: the path itself, or the files under a directory (recursively)
/// whose names do not start with `.` or `_` (hidden and marker files, as Hadoop skips them),
/// sorted by path.
pub fn list_input(path: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Other(format!("input path {} does not exist", path.display())),
        _ => Error::io(format!("cannot read input path {}", path.display()), e),
    })?;
    if meta.is_file() {
        return Ok(vec![(path.to_path_buf(), meta.len())]);
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("cannot list {}", dir.display()), e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            let meta = std::fs::metadata(entry.path())
                .map_err(|e| Error::io(format!("cannot stat {}", entry.path().display()), e))?;
            if meta.is_file() {
                files.push((entry.path(), meta.len()));
            } else if meta.is_dir() {
                dirs.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Cuts files into splits of about `split_size` bytes.
pub fn make_splits(files: &[(PathBuf, u64)], split_size: u64) -> Vec<FileSplit> {
    let mut splits = Vec::new();
    for (path, len) in files {
        let mut start = 0;
        while start < *len {
            // Avoid a tiny tail split: fold the remainder into the last split.
            let end = if len - start < split_size + split_size / 10 {
                *len
            } else {
                start + split_size
            };
            splits.push(FileSplit {
                path: path.clone(),
                start,
                end,
            });
            start = end;
        }
    }
    splits
}

impl Source<String> for TextFileSource {
    type Split = FileSplit;

    fn name(&self) -> String {
        format!("Text({})", self.path.display())
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<FileSplit>>> {
        let files = list_input(&self.path)?;
        let total: u64 = files.iter().map(|(_, l)| l).sum();
        let size = self
            .split_size
            .unwrap_or_else(|| (total / (u64::from(parallelism.max(1)) * 4)).clamp(MIN_SPLIT, MAX_SPLIT));
        Ok(Box::new(QueueEnumerator::new(make_splits(&files, size))))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<String, FileSplit>>> {
        Ok(Box::new(TextReader::new(LINES_PER_POLL)))
    }
}

struct OpenSplit {
    path: PathBuf,
    lines: SplitLineReader,
}

struct TextReader {
    current: Option<OpenSplit>,
    /// Splits added and not yet opened.
    queued: VecDeque<FileSplit>,
    per_poll: usize,
}

impl TextReader {
    fn new(per_poll: usize) -> Self {
        TextReader {
            current: None,
            queued: VecDeque::new(),
            per_poll,
        }
    }

    fn open(&mut self, split: FileSplit) -> Result<()> {
        let mut file = File::open(&split.path)
            .map_err(|e| Error::io(format!("cannot open {}", split.path.display()), e))?;
        if split.start > 0 {
            // From the byte before the split: the line holding it belongs to the previous split.
            file.seek(SeekFrom::Start(split.start - 1))
                .map_err(|e| Error::io(format!("cannot seek in {}", split.path.display()), e))?;
        }
        let lines = SplitLineReader::new(
            Box::new(file),
            split.start,
            split.end,
            split.path.display().to_string(),
        )?;
        self.current = Some(OpenSplit {
            path: split.path,
            lines,
        });
        Ok(())
    }
}

impl SourceReader<String, FileSplit> for TextReader {
    fn add_split(&mut self, split: FileSplit) -> Result<()> {
        self.queued.push_back(split);
        Ok(())
    }

    fn snapshot_state(&mut self) -> Result<Vec<FileSplit>> {
        let current = self
            .current
            .as_ref()
            .filter(|s| s.lines.position() < s.lines.end())
            .map(|s| FileSplit {
                path: s.path.clone(),
                start: s.lines.position(),
                end: s.lines.end(),
            });
        Ok(current.into_iter().chain(self.queued.iter().cloned()).collect())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<String>) -> Result<ReadStatus> {
        if self.current.is_none() {
            let Some(split) = self.queued.pop_front() else {
                return Ok(ReadStatus::NeedSplit);
            };
            self.open(split)?;
        }
        let Some(s) = self.current.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..self.per_poll {
            match s.lines.next_line()? {
                Some(line) => out.collect(line.to_owned()),
                None => {
                    self.current = None;
                    return Ok(ReadStatus::MoreAvailable);
                }
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_graph::ExecutionMode;

    fn read_all(path: &Path, split_size: u64) -> Vec<String> {
        let src = TextFileSource::new(path).with_split_size(split_size);
        let mut e = src.create_enumerator(3).unwrap();
        let ctx = TaskContext::standalone(ExecutionMode::Batch);
        let mut lines = Vec::new();
        // Read splits with separate readers, as different subtasks would.
        while let Some(split) = e.next_split(0, None) {
            let mut r = src.create_reader(&ctx).unwrap();
            r.add_split(split).unwrap();
            while r.poll_next(&mut lines).unwrap() != ReadStatus::NeedSplit {}
        }
        lines
    }

    #[test]
    fn every_line_is_read_exactly_once_for_any_split_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let expected: Vec<String> = (0..200).map(|i| "x".repeat(i % 13) + &i.to_string()).collect();
        std::fs::write(&path, expected.join("\n") + "\n").unwrap();
        for size in [1, 2, 3, 7, 16, 100, 1000, 100_000] {
            assert_eq!(read_all(&path, size), expected, "split size {size}");
        }
        // Without a trailing newline, with CRLF, and with empty lines.
        std::fs::write(&path, "a\r\n\r\nb\n\nc").unwrap();
        for size in [1, 2, 3, 5, 100] {
            assert_eq!(
                read_all(&path, size),
                ["a", "", "b", "", "c"],
                "split size {size}"
            );
        }
    }

    #[test]
    fn a_restored_reader_goes_on_with_the_next_line_at_any_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        std::fs::write(&path, "a\r\n\nbb\nccc\r\n\n\ndddd\ne\nlast").unwrap();
        std::fs::write(dir.path().join("more.txt"), "x\ny\n").unwrap();
        for per_poll in [1, 2] {
            let reader =
                || -> Box<dyn SourceReader<String, FileSplit>> { Box::new(TextReader::new(per_poll)) };
            for size in [1, 2, 3, 5, 7, 100] {
                let source = TextFileSource::new(dir.path()).with_split_size(size);
                let expected = crate::resume_tests::read_uninterrupted(&source, 2, &reader);
                assert_eq!(
                    expected,
                    ["a", "", "bb", "ccc", "", "", "dddd", "e", "last", "x", "y"]
                );
                crate::resume_tests::check_resume(&source, 2, &reader, &expected);
            }
        }
    }

    #[test]
    fn directories_skip_hidden_files_and_missing_paths_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), "2\n").unwrap();
        std::fs::write(dir.path().join("a.txt"), "1\n").unwrap();
        std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        std::fs::write(dir.path().join(".crc"), "junk\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c.txt"), "3\n").unwrap();
        std::fs::create_dir(dir.path().join("_temporary")).unwrap();
        std::fs::write(dir.path().join("_temporary/d.txt"), "junk\n").unwrap();
        assert_eq!(read_all(dir.path(), 1 << 20), ["1", "2", "3"]);
        let missing = dir.path().join("nope");
        let e = TextFileSource::new(&missing)
            .create_enumerator(1)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains(&missing.display().to_string()) && e.contains("does not exist"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_names_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        std::fs::write(&path, b"ok\nbad \xff line\n").unwrap();
        let src = TextFileSource::new(&path);
        let mut e = src.create_enumerator(1).unwrap();
        let mut r = src
            .create_reader(&TaskContext::standalone(ExecutionMode::Batch))
            .unwrap();
        r.add_split(e.next_split(0, None).unwrap()).unwrap();
        let mut lines = Vec::new();
        let err = r.poll_next(&mut lines).unwrap_err().to_string();
        assert!(err.contains("bad.txt") && err.contains("byte offset 3"), "{err}");
    }
}
