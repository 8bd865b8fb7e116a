use crate::collection::split_range;
use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, QueueEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Result, TaskContext};

/// The numbers `from..=to`, split into ranges.
pub struct SequenceSource {
    from: i64,
    to: i64,
}

impl SequenceSource {
    /// `from..=to` (empty if `to < from`).
    pub fn new(from: i64, to: i64) -> Self {
        SequenceSource { from, to }
    }
}

/// A range `start..=end`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NumberRange {
    next: i64,
    last: i64,
}

impl Source<i64> for SequenceSource {
    type Split = NumberRange;

    fn name(&self) -> String {
        format!("Sequence({}..={})", self.from, self.to)
    }
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<NumberRange>>> {
        let len = if self.to < self.from {
            0
        } else {
            (self.to - self.from) as u64 as usize + 1
        };
        // A few splits per subtask, so faster subtasks take more.
        let splits = split_range(len, parallelism as usize * 4)
            .into_iter()
            .map(|r| NumberRange {
                next: self.from + r.start as i64,
                last: self.from + r.end as i64 - 1,
            });
        Ok(Box::new(QueueEnumerator::new(splits)))
    }
    fn create_reader(&self, _ctx: &TaskContext) -> Result<Box<dyn SourceReader<i64, NumberRange>>> {
        Ok(Box::new(SequenceReader { range: None }))
    }
}

struct SequenceReader {
    range: Option<NumberRange>,
}

impl SourceReader<i64, NumberRange> for SequenceReader {
    fn add_split(&mut self, split: NumberRange) -> Result<()> {
        self.range = Some(split);
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<i64>) -> Result<ReadStatus> {
        let Some(r) = self.range.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        let stop = r.last.min(r.next.saturating_add(4095));
        for n in r.next..=stop {
            out.collect(n);
        }
        if stop == r.last {
            self.range = None;
        } else {
            r.next = stop + 1;
        }
        Ok(ReadStatus::MoreAvailable)
    }
}
