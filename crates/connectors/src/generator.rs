use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, PerSubtaskEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Data, Result, TaskContext};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Makes a record from its index.
pub type GeneratorFn<T> = Arc<dyn Fn(u64) -> T + Send + Sync>;

/// Generates records `f(0), f(1), ...` (Flink's `DataGeneratorSource`): subtask `i` of `p` makes
/// indexes `i, i+p, i+2p, ...`. With a count it ends; without one it is unbounded. An optional
/// rate limits the records per second of the whole source.
///
/// Checkpoints: a reader's split is its stride from the next index not generated; a reader
/// restored with several strides (at a lower parallelism) generates them in turn. A stride no
/// reader had taken at the checkpoint goes to the first reader that asks after the restore.
pub struct GeneratorSource<T> {
    f: GeneratorFn<T>,
    count: Option<u64>,
    rate: Option<f64>,
}

impl<T> GeneratorSource<T> {
    /// A generator of `count` records (unbounded if `None`), at most `rate` records/s in total.
    pub fn new(f: GeneratorFn<T>, count: Option<u64>, rate: Option<f64>) -> Self {
        GeneratorSource { f, count, rate }
    }
}

/// The indexes of one subtask: `first, first + step, ...` (in a checkpoint: from the next index
/// not generated yet).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stride {
    first: u64,
    step: u64,
}

impl<T: Data> Source<T> for GeneratorSource<T> {
    type Split = Stride;

    fn name(&self) -> String {
        match self.count {
            Some(n) => format!("Generator({n} records)"),
            None => "Generator(unbounded)".into(),
        }
    }
    fn boundedness(&self) -> Boundedness {
        if self.count.is_some() {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<Stride>>> {
        let p = u64::from(parallelism.max(1));
        Ok(Box::new(PerSubtaskEnumerator::new(
            (0..p).map(|first| Stride { first, step: p }).collect(),
        )))
    }
    fn create_reader(&self, ctx: &TaskContext) -> Result<Box<dyn SourceReader<T, Stride>>> {
        Ok(Box::new(GeneratorReader {
            f: self.f.clone(),
            count: self.count,
            per_second: self.rate.map(|r| r / f64::from(ctx.parallelism.max(1))),
            strides: Vec::new(),
            turn: 0,
            emitted: 0,
            started: Instant::now(),
            per_poll: RECORDS_PER_POLL,
        }))
    }
}

/// Records generated per `poll_next`.
const RECORDS_PER_POLL: u64 = 1024;

struct GeneratorReader<T> {
    f: GeneratorFn<T>,
    count: Option<u64>,
    per_second: Option<f64>,
    /// The strides it generates (several after a restore at a lower parallelism), taking turns.
    strides: Vec<Stride>,
    turn: usize,
    /// Records emitted since `started` (for the rate).
    emitted: u64,
    started: Instant,
    per_poll: u64,
}

impl<T: Data> SourceReader<T, Stride> for GeneratorReader<T> {
    fn add_split(&mut self, split: Stride) -> Result<()> {
        if self.count.is_some_and(|c| split.first >= c) {
            return Ok(());
        }
        if self.strides.is_empty() {
            self.started = Instant::now();
            self.emitted = 0;
        }
        self.strides.push(split);
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        if self.strides.is_empty() {
            return Ok(ReadStatus::NeedSplit);
        }
        let mut budget = self.per_poll;
        if let Some(rate) = self.per_second {
            let allowed = (self.started.elapsed().as_secs_f64() * rate) as u64 + 1;
            budget = budget.min(allowed.saturating_sub(self.emitted));
            if budget == 0 {
                std::thread::sleep(Duration::from_millis(1));
                return Ok(ReadStatus::NothingAvailable);
            }
        }
        for _ in 0..budget {
            if self.strides.is_empty() {
                break;
            }
            let i = self.turn % self.strides.len();
            let s = &mut self.strides[i];
            out.collect((self.f)(s.first));
            s.first += s.step;
            self.emitted += 1;
            if self.count.is_some_and(|c| s.first >= c) {
                self.strides.remove(i);
            } else {
                self.turn = i + 1;
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }
    fn snapshot_state(&mut self) -> Result<Vec<Stride>> {
        Ok(self.strides.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume_tests::{check_resume, read_uninterrupted};

    #[test]
    fn a_restored_reader_goes_on_after_the_last_index() {
        let source = GeneratorSource::new(Arc::new(|i| i * 10), Some(23), None);
        let f = source.f.clone();
        let reader = || -> Box<dyn SourceReader<u64, Stride>> {
            Box::new(GeneratorReader {
                f: f.clone(),
                count: Some(23),
                per_second: None,
                strides: Vec::new(),
                turn: 0,
                emitted: 0,
                started: Instant::now(),
                per_poll: 2,
            })
        };
        // One reader reads the strides of 3 subtasks in turn.
        let expected = read_uninterrupted(&source, 3, &reader);
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(sorted, (0..23).map(|i| i * 10).collect::<Vec<_>>());
        check_resume(&source, 3, &reader, &expected);
    }

    #[test]
    fn strides_of_a_restored_reader_take_turns() {
        let source = GeneratorSource::new(Arc::new(|i| i), None, None);
        let mut r = source
            .create_reader(&TaskContext::standalone(spate_graph::ExecutionMode::Streaming))
            .unwrap();
        r.add_split(Stride { first: 5, step: 2 }).unwrap();
        r.add_split(Stride { first: 0, step: 2 }).unwrap();
        let mut out = Vec::new();
        r.poll_next(&mut out).unwrap();
        assert_eq!(out[..6], [5, 0, 7, 2, 9, 4]);
        let held = r.snapshot_state().unwrap();
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|s| s.first > 1000), "{held:?}");
    }
}
