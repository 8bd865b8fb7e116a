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

/// The indexes of one subtask.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
            stride: None,
            emitted: 0,
            started: Instant::now(),
        }))
    }
}

struct GeneratorReader<T> {
    f: GeneratorFn<T>,
    count: Option<u64>,
    per_second: Option<f64>,
    stride: Option<(u64, u64)>,
    emitted: u64,
    started: Instant,
}

impl<T: Data> SourceReader<T, Stride> for GeneratorReader<T> {
    fn add_split(&mut self, split: Stride) -> Result<()> {
        self.stride = Some((split.first, split.step));
        self.started = Instant::now();
        Ok(())
    }
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        let Some((next, step)) = self.stride.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        let mut budget = 1024u64;
        if let Some(rate) = self.per_second {
            let allowed = (self.started.elapsed().as_secs_f64() * rate) as u64 + 1;
            budget = budget.min(allowed.saturating_sub(self.emitted));
            if budget == 0 {
                std::thread::sleep(Duration::from_millis(1));
                return Ok(ReadStatus::NothingAvailable);
            }
        }
        for _ in 0..budget {
            if self.count.is_some_and(|c| *next >= c) {
                return Ok(ReadStatus::End);
            }
            out.collect((self.f)(*next));
            *next += *step;
            self.emitted += 1;
        }
        Ok(ReadStatus::MoreAvailable)
    }
}
