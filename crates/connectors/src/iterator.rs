use spate_runtime::source::{
    Boundedness, PerSubtaskEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Data, Error, Result, TaskContext};
use std::sync::Mutex;

/// Reads an iterator in a single subtask (an iterator cannot be split).
pub struct IteratorSource<I> {
    iter: Mutex<Option<I>>,
    bounded: bool,
}

impl<I> IteratorSource<I> {
    /// A source over `iter`; `bounded` says whether the iterator ends.
    pub fn new(iter: I, bounded: bool) -> Self {
        IteratorSource {
            iter: Mutex::new(Some(iter)),
            bounded,
        }
    }
}

impl<T: Data, I: Iterator<Item = T> + Send + 'static> Source<T> for IteratorSource<I> {
    type Split = ();

    fn name(&self) -> String {
        "Iterator".into()
    }
    fn boundedness(&self) -> Boundedness {
        if self.bounded {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }
    fn create_enumerator(&self, _parallelism: u32) -> Result<Box<dyn SplitEnumerator<()>>> {
        Ok(Box::new(PerSubtaskEnumerator::new(vec![()])))
    }
    fn create_reader(&self, ctx: &TaskContext) -> Result<Box<dyn SourceReader<T, ()>>> {
        let iter = if ctx.subtask == 0 {
            let mut slot = self
                .iter
                .lock()
                .map_err(|_| Error::Internal("iterator lock poisoned".into()))?;
            Some(
                slot.take()
                    .ok_or_else(|| Error::Other("an iterator source can run only once".into()))?,
            )
        } else {
            None
        };
        Ok(Box::new(IteratorReader {
            iter,
            has_split: false,
        }))
    }
}

struct IteratorReader<I> {
    iter: Option<I>,
    has_split: bool,
}

impl<T, I: Iterator<Item = T> + Send> SourceReader<T, ()> for IteratorReader<I> {
    fn add_split(&mut self, _split: ()) -> Result<()> {
        self.has_split = true;
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        let (true, Some(iter)) = (self.has_split, self.iter.as_mut()) else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..1024 {
            match iter.next() {
                Some(r) => out.collect(r),
                None => return Ok(ReadStatus::End),
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }
}
