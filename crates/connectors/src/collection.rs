use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, QueueEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Data, Result, TaskContext};
use std::ops::Range;
use std::sync::Arc;

/// Reads an in-memory vector; each split is a range of indexes.
pub struct CollectionSource<T> {
    data: Arc<Vec<T>>,
}

impl<T> CollectionSource<T> {
    /// A source over `data`.
    pub fn new(data: Vec<T>) -> Self {
        CollectionSource { data: Arc::new(data) }
    }
}

/// A range of indexes.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
            current: 0..0,
        }))
    }
}

struct CollectionReader<T> {
    data: Arc<Vec<T>>,
    current: Range<usize>,
}

impl<T: Data + Sync> SourceReader<T, IndexRange> for CollectionReader<T> {
    fn add_split(&mut self, split: IndexRange) -> Result<()> {
        self.current = split.0;
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        if self.current.is_empty() {
            return Ok(ReadStatus::NeedSplit);
        }
        let end = self.current.end.min(self.current.start + 1024);
        for i in self.current.start..end {
            if let Some(r) = self.data.get(i) {
                out.collect(r.clone());
            }
        }
        self.current.start = end;
        Ok(ReadStatus::MoreAvailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_range_covers_everything_once() {
        for (len, parts) in [(0, 3), (1, 3), (10, 3), (10, 10), (7, 1)] {
            let r = split_range(len, parts);
            let covered: Vec<usize> = r.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(covered, (0..len).collect::<Vec<_>>());
            assert!(r.len() <= parts);
        }
    }
}
