use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, QueueEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Data, Result, TaskContext};
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

/// Records emitted per `poll_next`.
const RECORDS_PER_POLL: usize = 1024;

/// Reads an in-memory vector; each split is a range of indexes.
///
/// Checkpoints: a reader's splits are the index ranges it has not emitted yet, so a restored
/// job (whose program builds the same vector again) goes on after the last record emitted.
pub struct CollectionSource<T> {
    data: Arc<Vec<T>>,
}

impl<T> CollectionSource<T> {
    /// A source over `data`.
    pub fn new(data: Vec<T>) -> Self {
        CollectionSource { data: Arc::new(data) }
    }
}

/// A range of indexes (in a checkpoint: the indexes not emitted yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRange(pub Range<usize>);

/// Splits `0..len` into at most `parts` contiguous ranges of nearly equal size.
pub fn split_range(len: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1).min(len.max(1));
    (0..parts)
        .map(|i| (i * len / parts)..((i + 1) * len / parts))
        .filter(|r| !r.is_empty())
        .collect()
}

impl<T: Data + Sync> Source<T> for CollectionSource<T> {
    type Split = IndexRange;

    fn name(&self) -> String {
        format!("Collection({} records)", self.data.len())
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<IndexRange>>> {
        let splits = split_range(self.data.len(), parallelism as usize)
            .into_iter()
            .map(IndexRange);
        Ok(Box::new(QueueEnumerator::new(splits)))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<T, IndexRange>>> {
        Ok(Box::new(CollectionReader {
            data: self.data.clone(),
            splits: VecDeque::new(),
            per_poll: RECORDS_PER_POLL,
        }))
    }
}

struct CollectionReader<T> {
    data: Arc<Vec<T>>,
    /// The ranges to read, the current one first (its start advances as records go out).
    splits: VecDeque<Range<usize>>,
    per_poll: usize,
}

impl<T: Data + Sync> SourceReader<T, IndexRange> for CollectionReader<T> {
    fn add_split(&mut self, split: IndexRange) -> Result<()> {
        if split.0.start < split.0.end {
            self.splits.push_back(split.0);
        }
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        let Some(current) = self.splits.front_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        let end = current.end.min(current.start + self.per_poll);
        for i in current.start..end {
            if let Some(r) = self.data.get(i) {
                out.collect(r.clone());
            }
        }
        current.start = end;
        if current.start >= current.end {
            self.splits.pop_front();
        }
        Ok(ReadStatus::MoreAvailable)
    }
    fn snapshot_state(&mut self) -> Result<Vec<IndexRange>> {
        Ok(self.splits.iter().cloned().map(IndexRange).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume_tests::{check_resume, read_uninterrupted};

    #[test]
    fn split_range_covers_everything_once() {
        for (len, parts) in [(0, 3), (1, 3), (10, 3), (10, 10), (7, 1)] {
            let r = split_range(len, parts);
            let covered: Vec<usize> = r.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..len).collect::<Vec<_>>());
            assert!(r.len() <= parts);
        }
    }

    #[test]
    fn a_restored_reader_goes_on_after_the_last_record() {
        let source = CollectionSource::new((0..50).collect::<Vec<u32>>());
        let data = source.data.clone();
        let reader = || -> Box<dyn SourceReader<u32, IndexRange>> {
            Box::new(CollectionReader {
                data: data.clone(),
                splits: VecDeque::new(),
                per_poll: 4,
            })
        };
        let expected = read_uninterrupted(&source, 3, &reader);
        assert_eq!(expected, (0..50).collect::<Vec<_>>());
        check_resume(&source, 3, &reader, &expected);
    }
}
