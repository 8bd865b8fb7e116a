use crate::collection::split_range;
use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, QueueEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Result, TaskContext};
use std::collections::VecDeque;

/// Numbers emitted per `poll_next`.
const RECORDS_PER_POLL: i64 = 4096;

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

/// A range `next..=last` (in a checkpoint: the numbers not emitted yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        Ok(Box::new(SequenceReader {
            ranges: VecDeque::new(),
            per_poll: RECORDS_PER_POLL,
        }))
    }
}

struct SequenceReader {
    /// The ranges to read, the current one first.
    ranges: VecDeque<NumberRange>,
    per_poll: i64,
}

impl SourceReader<i64, NumberRange> for SequenceReader {
    fn add_split(&mut self, split: NumberRange) -> Result<()> {
        if split.next <= split.last {
            self.ranges.push_back(split);
        }
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<i64>) -> Result<ReadStatus> {
        let Some(r) = self.ranges.front_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        let stop = r.last.min(r.next.saturating_add(self.per_poll - 1));
        for n in r.next..=stop {
            out.collect(n);
        }
        if stop == r.last {
            self.ranges.pop_front();
        } else {
            r.next = stop + 1;
        }
        Ok(ReadStatus::MoreAvailable)
    }
    fn snapshot_state(&mut self) -> Result<Vec<NumberRange>> {
        Ok(self.ranges.iter().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume_tests::{check_resume, read_uninterrupted};

    #[test]
    fn a_restored_reader_goes_on_after_the_last_number() {
        let source = SequenceSource::new(-5, 40);
        let reader = || -> Box<dyn SourceReader<i64, NumberRange>> {
            Box::new(SequenceReader {
                ranges: VecDeque::new(),
                per_poll: 3,
            })
        };
        let expected = read_uninterrupted(&source, 2, &reader);
        assert_eq!(expected, (-5..=40).collect::<Vec<_>>());
        check_resume(&source, 2, &reader, &expected);
    }
}
