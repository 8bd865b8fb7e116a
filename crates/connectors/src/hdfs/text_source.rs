//! Lines of text files on HDFS or locally: a file, a directory (its visible files, recursively)
//! or a glob. Each line is read exactly once however the splits fall (see [`super::line_reader`]).
//!
//! Checkpoints: a reader's split in a checkpoint starts at its next unread line (the split's
//! `start` advanced past the lines emitted), so the same rule makes a restored reader go on with
//! exactly that line, wherever the blocks end. Splits not handed out keep their hosts.

use super::fs_error;
use super::line_reader::SplitLineReader;
use super::split::{plan_splits, FsSplit, InputFile, LocalityEnumerator};
use spate_fs::{FileStatus, FileSystem};
use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceReader, SplitEnumerator};
use spate_runtime::{Collector, Result, TaskContext};
use std::collections::VecDeque;
use std::sync::Arc;

/// Lines emitted per `poll_next`, so the task can flush and check for cancellation.
const LINES_PER_POLL: usize = 1024;

/// Reads the lines of the files a URI names (`hdfs://...`, `file://...` or a local path).
///
/// ```no_run
/// use spate_connectors::hdfs::HdfsTextSource;
/// let source = HdfsTextSource::new("hdfs:///logs/2024-*/part-*");
/// # let _ = source;
/// ```
pub struct HdfsTextSource {
    uri: String,
    split_size: Option<u64>,
}

impl HdfsTextSource {
    /// Lines of `uri`: a file, a directory or a glob (`*`, `?`).
    pub fn new(uri: impl Into<String>) -> Self {
        HdfsTextSource {
            uri: uri.into(),
            split_size: None,
        }
    }

    /// Uses splits of `bytes` (at least 1) instead of blocks or the automatic size.
    pub fn with_split_size(mut self, bytes: u64) -> Self {
        self.split_size = Some(bytes.max(1));
        self
    }

    /// The splits of the input for `parallelism` readers.
    pub fn splits(&self, parallelism: u32) -> Result<Vec<FsSplit>> {
        let (fs, uri) = spate_fs::resolve(&self.uri).map_err(fs_error)?;
        let mut files = Vec::new();
        for matched in spate_fs::glob::expand(fs.as_ref(), &uri).map_err(fs_error)? {
            files.extend(input_files(fs.as_ref(), matched)?);
        }
        files.sort_by(|a, b| a.status.uri.path.cmp(&b.status.uri.path));
        files.dedup_by(|a, b| a.status.uri == b.status.uri);
        Ok(plan_splits(&files, parallelism, self.split_size))
    }
}

/// The files of one matched path, with their block locations.
fn input_files(fs: &dyn FileSystem, matched: FileStatus) -> Result<Vec<InputFile>> {
    let statuses = if matched.is_dir {
        fs.list_files(&matched.uri).map_err(fs_error)?
    } else {
        vec![matched]
    };
    statuses
        .into_iter()
        .map(|status| {
            let blocks = fs.block_locations(&status.uri).map_err(fs_error)?;
            Ok(InputFile { status, blocks })
        })
        .collect()
}

impl Source<String> for HdfsTextSource {
    type Split = FsSplit;

    fn name(&self) -> String {
        format!("Text({})", self.uri)
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<FsSplit>>> {
        let splits = self.splits(parallelism)?;
        tracing::debug!(input = %self.uri, splits = splits.len(), "planned text splits");
        Ok(Box::new(
            LocalityEnumerator::new(splits).with_readers(parallelism),
        ))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<String, FsSplit>>> {
        Ok(Box::new(FsTextReader::new(LINES_PER_POLL)))
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

/// The split a reader was given, from the next unread line (what a checkpoint stores), or
/// `None` when nothing of it is left.
pub(crate) fn rest_of(split: &FsSplit, position: u64) -> Option<FsSplit> {
    (position < split.end).then(|| FsSplit {
        start: position,
        ..split.clone()
    })
}

struct FsTextReader {
    /// The split being read (as given) and its lines.
    current: Option<(FsSplit, SplitLineReader)>,
    /// Splits added and not yet opened.
    queued: VecDeque<FsSplit>,
    per_poll: usize,
}

impl FsTextReader {
    fn new(per_poll: usize) -> Self {
        FsTextReader {
            current: None,
            queued: VecDeque::new(),
            per_poll,
        }
    }
}

impl SourceReader<String, FsSplit> for FsTextReader {
    fn add_split(&mut self, split: FsSplit) -> Result<()> {
        self.queued.push_back(split);
        Ok(())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<String>) -> Result<ReadStatus> {
        if self.current.is_none() {
            let Some(split) = self.queued.pop_front() else {
                return Ok(ReadStatus::NeedSplit);
            };
            let fs: Arc<dyn FileSystem> = spate_fs::resolve(&split.uri).map_err(fs_error)?.0;
            let lines = SplitLineReader::open(fs.as_ref(), &split)?;
            self.current = Some((split, lines));
        }
        let Some((_, reader)) = self.current.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..self.per_poll {
            match reader.next_line()? {
                Some(line) => out.collect(line.to_owned()),
                None => {
                    self.current = None;
                    return Ok(ReadStatus::MoreAvailable);
                }
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> Result<Vec<FsSplit>> {
        let current = self
            .current
            .as_ref()
            .and_then(|(split, lines)| rest_of(split, lines.position()));
        Ok(current.into_iter().chain(self.queued.iter().cloned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_graph::ExecutionMode;

    fn read_all(source: &HdfsTextSource) -> Vec<String> {
        let mut e = source.create_enumerator(3).unwrap();
        let ctx = TaskContext::standalone(ExecutionMode::Batch);
        let mut lines = Vec::new();
        while let Some(split) = e.next_split(0, None) {
            let mut r = source.create_reader(&ctx).unwrap();
            r.add_split(split).unwrap();
            while r.poll_next(&mut lines).unwrap() != ReadStatus::NeedSplit {}
        }
        lines
    }

    #[test]
    fn a_restored_reader_goes_on_with_the_next_line_across_split_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "one\r\n\ntwo\nthree three\n\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), "b1\nb2 no newline").unwrap();
        let uri = format!("file://{}", dir.path().display());
        for per_poll in [1, 2] {
            let reader =
                || -> Box<dyn SourceReader<String, FsSplit>> { Box::new(FsTextReader::new(per_poll)) };
            for size in [1, 2, 3, 4, 6, 9, 1 << 20] {
                let source = HdfsTextSource::new(&uri).with_split_size(size);
                let expected = crate::resume_tests::read_uninterrupted(&source, 3, &reader);
                assert_eq!(
                    expected,
                    ["one", "", "two", "three three", "", "b1", "b2 no newline"]
                );
                crate::resume_tests::check_resume(&source, 3, &reader, &expected);
            }
        }
    }

    #[test]
    fn local_files_dirs_and_globs_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let expected: Vec<String> = (0..300).map(|i| "y".repeat(i % 17) + &i.to_string()).collect();
        std::fs::write(dir.path().join("a.txt"), expected[..150].join("\n") + "\n").unwrap();
        std::fs::write(dir.path().join("b.txt"), expected[150..].join("\n")).unwrap();
        std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        let d = dir.path().display();
        for size in [1, 5, 64, 1000, 1 << 20] {
            let got = read_all(&HdfsTextSource::new(format!("file://{d}")).with_split_size(size));
            assert_eq!(got, expected, "split size {size}");
        }
        assert_eq!(read_all(&HdfsTextSource::new(format!("{d}/*.txt"))), expected);
        assert_eq!(
            read_all(&HdfsTextSource::new(format!("{d}/b.tx?"))),
            expected[150..]
        );
        let e = HdfsTextSource::new(format!("{d}/nope*"))
            .create_enumerator(1)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nope*") && e.contains("does not exist"), "{e}");
    }
}
