//! Cutting input files into splits (handing them out is [`super::split_assigner`]'s job).
//!
//! A file with a block size (HDFS) is cut at its block boundaries, one split per block, so a
//! split is stored whole on the hosts of its block. A file without blocks (local) is cut with the
//! local text source's rule: about `total / (4 × parallelism)` bytes, between 1 MiB and 64 MiB,
//! a short tail folded into the last split.

use serde::{Deserialize, Serialize};
use spate_fs::{BlockLocation, FileStatus};

pub use super::split_assigner::LocalityEnumerator;
/// Smallest automatic split of a file without blocks.
const MIN_SPLIT: u64 = 1 << 20;
/// Largest automatic split of a file without blocks.
const MAX_SPLIT: u64 = 64 << 20;

/// A byte range of one file and the hosts storing it (empty when unknown).
///
/// In a checkpoint, a reader's split says where it goes on: a text or CSV split starts at the
/// next unread line or record (`start` advanced), a Parquet split (one row group) counts the rows
/// already read in `skip_rows`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsSplit {
    /// The file's URI.
    pub uri: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Hosts holding a replica of the range's block.
    pub hosts: Vec<String>,
    /// Parquet: rows at the start of the row group already read (0 for a fresh split).
    pub skip_rows: u64,
}

impl FsSplit {
    /// A fresh split of `start..end` of `uri`.
    pub fn new(uri: impl Into<String>, start: u64, end: u64, hosts: Vec<String>) -> Self {
        FsSplit {
            uri: uri.into(),
            start,
            end,
            hosts,
            skip_rows: 0,
        }
    }
}

/// A file to read, with its block locations when known.
#[derive(Clone, Debug)]
pub struct InputFile {
    /// Its status (length, block size).
    pub status: FileStatus,
    /// Its blocks; empty when unknown.
    pub blocks: Vec<BlockLocation>,
}

/// Cuts `files` into splits for `parallelism` readers; `split_size` overrides every automatic
/// size (blocks included).
pub fn plan_splits(files: &[InputFile], parallelism: u32, split_size: Option<u64>) -> Vec<FsSplit> {
    let unblocked: u64 = files
        .iter()
        .filter(|f| f.status.block_size.is_none())
        .map(|f| f.status.len)
        .sum();
    let local_size = (unblocked / (u64::from(parallelism.max(1)) * 4)).clamp(MIN_SPLIT, MAX_SPLIT);
    let mut splits = Vec::new();
    for file in files {
        let len = file.status.len;
        let ranges = match (split_size, file.status.block_size) {
            (Some(size), _) => cut(len, size.max(1), true),
            (None, Some(block)) => cut(len, block, false),
            (None, None) => cut(len, local_size, true),
        };
        splits.extend(ranges.into_iter().map(|(start, end)| {
            FsSplit::new(
                file.status.uri.to_string(),
                start,
                end,
                hosts_of(&file.blocks, start, end),
            )
        }));
    }
    splits
}

/// Ranges of `size` bytes covering `len`; with `fold`, a remainder under a tenth of `size` joins
/// the last range instead of making a tiny one.
fn cut(len: u64, size: u64, fold: bool) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < len {
        let rest = len - start;
        let end = if rest <= size || (fold && rest < size + size / 10) {
            len
        } else {
            start + size
        };
        ranges.push((start, end));
        start = end;
    }
    ranges
}

/// The hosts of the block overlapping `start..end` the most.
pub(crate) fn hosts_of(blocks: &[BlockLocation], start: u64, end: u64) -> Vec<String> {
    let overlap = |b: &BlockLocation| end.min(b.offset + b.len).saturating_sub(start.max(b.offset));
    blocks
        .iter()
        .filter(|b| overlap(b) > 0)
        .max_by_key(|b| overlap(b))
        .map(|b| b.hosts.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_fs::FsUri;
    use spate_runtime::source::SplitEnumerator as _;

    fn file(path: &str, len: u64, block_size: Option<u64>) -> InputFile {
        let uri = FsUri::parse(path).unwrap();
        InputFile {
            status: FileStatus {
                uri,
                len,
                is_dir: false,
                block_size,
            },
            blocks: Vec::new(),
        }
    }

    fn ranges(splits: &[FsSplit]) -> Vec<(u64, u64)> {
        splits.iter().map(|s| (s.start, s.end)).collect()
    }

    #[test]
    fn hdfs_files_split_at_block_boundaries_without_folding() {
        let mb = 1 << 20;
        let splits = plan_splits(&[file("hdfs://nn:1/f", 3 * mb + 5, Some(mb))], 3, None);
        assert_eq!(
            ranges(&splits),
            [(0, mb), (mb, 2 * mb), (2 * mb, 3 * mb), (3 * mb, 3 * mb + 5)]
        );
        assert!(splits
            .iter()
            .all(|s| s.uri == "hdfs://nn:1/f" && s.hosts.is_empty()));
        let exact = plan_splits(&[file("hdfs://nn:1/g", 2 * mb, Some(mb))], 1, None);
        assert_eq!(ranges(&exact), [(0, mb), (mb, 2 * mb)]);
        assert!(plan_splits(&[file("hdfs://nn:1/empty", 0, Some(mb))], 1, None).is_empty());
    }

    #[test]
    fn local_files_use_the_size_rule_and_explicit_sizes_win() {
        let mb = 1 << 20;
        // 10 MiB at parallelism 1: four splits of 2.5 MiB.
        let s = plan_splits(&[file("/tmp/a", 10 * mb, None)], 1, None);
        assert_eq!(s.len(), 4);
        assert_eq!(s.last().map(|s| s.end), Some(10 * mb));
        // Small files: one split each (the 1 MiB minimum).
        let s = plan_splits(&[file("/tmp/a", 10, None), file("/tmp/b", 20, None)], 4, None);
        assert_eq!(ranges(&s), [(0, 10), (0, 20)]);
        // An explicit size: tail under a tenth is folded.
        let s = plan_splits(&[file("hdfs://nn:1/f", 1005, Some(mb))], 1, Some(100));
        assert_eq!(s.len(), 10);
        assert_eq!(s[9], FsSplit::new("hdfs://nn:1/f", 900, 1005, vec![]));
    }

    #[test]
    fn hosts_come_from_the_block_and_local_splits_go_first() {
        let mb = 1 << 20;
        let mut f = file("hdfs://nn:1/f", 2 * mb, Some(mb));
        f.blocks = vec![
            BlockLocation {
                offset: 0,
                len: mb,
                hosts: vec!["h1".into(), "h2".into()],
            },
            BlockLocation {
                offset: mb,
                len: mb,
                hosts: vec!["h3".into()],
            },
        ];
        let splits = plan_splits(&[f], 2, None);
        assert_eq!(splits[0].hosts, ["h1", "h2"]);
        assert_eq!(splits[1].hosts, ["h3"]);
        let mut e = LocalityEnumerator::new(splits);
        assert_eq!(e.next_split(0, Some("h3")).map(|s| s.start), Some(mb));
        assert_eq!(e.next_split(1, Some("h3")).map(|s| s.start), Some(0));
        assert_eq!(e.next_split(1, None), None);
        let stats = e.assignment_stats().unwrap();
        assert_eq!((stats.local_splits, stats.remote_splits), (1, 1));
        assert_eq!((stats.local_bytes, stats.remote_bytes), (mb, mb));
    }
}
