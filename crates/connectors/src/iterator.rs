//! A source over an iterator, read by one subtask.
//!
//! Checkpoints: an iterator cannot be saved, so the reader's position is the number of records it
//! emitted. A restored job runs its program again, which makes the iterator again; the restored
//! reader skips that many records and goes on with the next. **The iterator must therefore yield
//! the same records in the same order every time the program makes it** (the lines of a file that
//! does not change, a range, a fixed collection); one that does not (a random generator, a queue)
//! loses or repeats records on restore.

use serde::{Deserialize, Serialize};
use spate_runtime::source::{
    Boundedness, PerSubtaskEnumerator, ReadStatus, Source, SourceReader, SplitEnumerator,
};
use spate_runtime::{Collector, Data, Error, Result, TaskContext};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Records emitted per `poll_next` (without a rate).
const RECORDS_PER_POLL: usize = 1024;
/// Longest sleep of a rate-limited reader inside one `poll_next`, so barriers and cancellation
/// are not held up for long.
const MAX_SLEEP: Duration = Duration::from_millis(50);
/// Records skipped per `poll_next` when a restored reader catches up.
const SKIPS_PER_POLL: u64 = 1 << 16;

/// Makes the iterator of a reader.
type IterFactory<I> = Box<dyn Fn() -> Result<I> + Send + Sync>;

/// Where a reader's iterator comes from.
enum Origin<I> {
    /// One iterator, handed to the first reader (a job that restarts in the same process cannot
    /// read it again).
    Once(Mutex<Option<I>>),
    /// A fresh iterator for every reader, also after a restart.
    Factory(IterFactory<I>),
}

/// Reads an iterator in a single subtask (an iterator cannot be split).
pub struct IteratorSource<I> {
    origin: Origin<I>,
    bounded: bool,
    rate: Option<f64>,
}

impl<I> IteratorSource<I> {
    /// A source over `iter`; `bounded` says whether the iterator ends. It can be read once per
    /// process: for jobs that restart (checkpoints, failover on a cluster) use
    /// [`from_fn`](Self::from_fn).
    pub fn new(iter: I, bounded: bool) -> Self {
        IteratorSource {
            origin: Origin::Once(Mutex::new(Some(iter))),
            bounded,
            rate: None,
        }
    }

    /// A source whose reader gets a fresh iterator from `make` each time it starts (also when
    /// the job restarts in the same process); an error from `make` fails the subtask.
    pub fn from_fn(make: impl Fn() -> Result<I> + Send + Sync + 'static, bounded: bool) -> Self {
        IteratorSource {
            origin: Origin::Factory(Box::new(make)),
            bounded,
            rate: None,
        }
    }

    /// Emits at most `records_per_second` records per second (positive), sleeping between them.
    pub fn with_rate(mut self, records_per_second: f64) -> Self {
        self.rate = Some(records_per_second).filter(|r| *r > 0.0 && r.is_finite());
        self
    }
}

/// The iterator's one split: how many records were emitted before it (0 when the job starts; in
/// a checkpoint, the records to skip on restore).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IteratorPosition {
    /// Records already emitted.
    pub emitted: u64,
}

impl<T: Data, I: Iterator<Item = T> + Send + 'static> Source<T> for IteratorSource<I> {
    type Split = IteratorPosition;

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
    fn create_enumerator(&self, _parallelism: u32) -> Result<Box<dyn SplitEnumerator<IteratorPosition>>> {
        Ok(Box::new(PerSubtaskEnumerator::new(vec![
            IteratorPosition::default(),
        ])))
    }
    /// The split, if no reader had it at the checkpoint, goes to subtask 0 again (the one with the
    /// iterator).
    fn restore_enumerator(
        &self,
        _parallelism: u32,
        splits: Vec<IteratorPosition>,
    ) -> Result<Box<dyn SplitEnumerator<IteratorPosition>>> {
        Ok(Box::new(PerSubtaskEnumerator::new(splits)))
    }
    fn create_reader(&self, ctx: &TaskContext) -> Result<Box<dyn SourceReader<T, IteratorPosition>>> {
        let iter = if ctx.subtask == 0 {
            match &self.origin {
                Origin::Once(slot) => {
                    let mut slot = slot
                        .lock()
                        .map_err(|_| Error::Internal("iterator lock poisoned".into()))?;
                    Some(slot.take().ok_or_else(|| {
                        Error::Other(
                            "an iterator source can run only once per process (IteratorSource::from_fn makes one that can restart)"
                                .into(),
                        )
                    })?)
                }
                Origin::Factory(make) => Some(make()?),
            }
        } else {
            None
        };
        Ok(Box::new(IteratorReader::new(iter, self.rate, ctx.subtask)))
    }
}

struct IteratorReader<I> {
    iter: Option<I>,
    subtask: u32,
    /// Whether it got the split (the iterator is read only then).
    has_split: bool,
    /// Records emitted, counting those before a restore.
    emitted: u64,
    /// Records of the iterator still to skip (those emitted before a restore).
    skip: u64,
    per_poll: usize,
    rate: Option<f64>,
    /// When rate limiting started, and `emitted` then.
    clock: Option<(Instant, u64)>,
    ended: bool,
}

impl<I> IteratorReader<I> {
    fn new(iter: Option<I>, rate: Option<f64>, subtask: u32) -> Self {
        IteratorReader {
            iter,
            subtask,
            has_split: false,
            emitted: 0,
            skip: 0,
            per_poll: RECORDS_PER_POLL,
            rate,
            clock: None,
            ended: false,
        }
    }

    /// How many records may go out now under the rate (sleeping up to [`MAX_SLEEP`] until the
    /// next one is due); 0 if none yet.
    fn allowance(&mut self) -> usize {
        let Some(rate) = self.rate else {
            return self.per_poll;
        };
        let (start, base) = *self.clock.get_or_insert((Instant::now(), self.emitted));
        let sent = self.emitted - base;
        // The next record is due `sent / rate` seconds after the start.
        let due = start + Duration::from_secs_f64(sent as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep((due - now).min(MAX_SLEEP));
        }
        let elapsed = start.elapsed().as_secs_f64();
        let allowed = (elapsed * rate) as u64 + 1;
        (allowed.saturating_sub(sent) as usize).min(self.per_poll)
    }
}

impl<T, I: Iterator<Item = T> + Send> SourceReader<T, IteratorPosition> for IteratorReader<I> {
    fn add_split(&mut self, split: IteratorPosition) -> Result<()> {
        if self.iter.is_none() {
            return Err(Error::Other(format!(
                "an iterator source is read by subtask 1 only, but subtask {} got its split",
                self.subtask + 1
            )));
        }
        self.has_split = true;
        self.emitted = split.emitted;
        self.skip = split.emitted;
        Ok(())
    }

    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus> {
        if self.ended {
            return Ok(ReadStatus::End);
        }
        let (true, Some(iter)) = (self.has_split, self.iter.as_mut()) else {
            return Ok(ReadStatus::NeedSplit);
        };
        if self.skip > 0 {
            // A restored reader: pass over what was emitted before the checkpoint.
            let n = self.skip.min(SKIPS_PER_POLL);
            for i in 0..n {
                if iter.next().is_none() {
                    return Err(Error::Other(format!(
                        "cannot restore the iterator source: it ended after {} records, but {} had been emitted before the checkpoint (the program must make the same iterator again)",
                        self.emitted - self.skip + i,
                        self.emitted
                    )));
                }
            }
            self.skip -= n;
            if self.skip > 0 {
                return Ok(ReadStatus::MoreAvailable);
            }
        }
        let budget = self.allowance();
        if budget == 0 {
            return Ok(ReadStatus::NothingAvailable);
        }
        let Some(iter) = self.iter.as_mut() else {
            return Ok(ReadStatus::NeedSplit);
        };
        for _ in 0..budget {
            match iter.next() {
                Some(r) => {
                    out.collect(r);
                    self.emitted += 1;
                }
                None => {
                    self.ended = true;
                    return Ok(ReadStatus::End);
                }
            }
        }
        Ok(ReadStatus::MoreAvailable)
    }

    fn snapshot_state(&mut self) -> Result<Vec<IteratorPosition>> {
        Ok(if self.has_split && !self.ended {
            vec![IteratorPosition {
                emitted: self.emitted,
            }]
        } else {
            Vec::new()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resume_tests::{check_resume, read_uninterrupted};
    use spate_graph::ExecutionMode;

    #[test]
    fn a_restored_reader_skips_what_was_emitted() {
        // The program makes the iterator again on restore: the test's reader factory does too.
        let source = IteratorSource::new(0..37u32, true);
        let reader = || -> Box<dyn SourceReader<u32, IteratorPosition>> {
            let mut r = IteratorReader::new(Some(0..37u32), None, 0);
            r.per_poll = 5;
            Box::new(r)
        };
        let expected = read_uninterrupted(&source, 1, &reader);
        assert_eq!(expected, (0..37).collect::<Vec<_>>());
        check_resume(&source, 1, &reader, &expected);
    }

    #[test]
    fn a_shorter_iterator_on_restore_is_an_error() {
        let mut r = IteratorReader::new(Some(0..3u32), None, 0);
        r.add_split(IteratorPosition { emitted: 5 }).unwrap();
        let mut out = Vec::new();
        let e = r.poll_next(&mut out).unwrap_err().to_string();
        assert!(
            e.contains("ended after 3 records") && e.contains("5 had been emitted"),
            "{e}"
        );
    }

    #[test]
    fn a_rate_spaces_records_out_without_a_busy_loop() {
        let source = IteratorSource::new(0..5u32, true).with_rate(1000.0);
        let ctx = TaskContext::standalone(ExecutionMode::Streaming);
        let mut r = source.create_reader(&ctx).unwrap();
        r.add_split(IteratorPosition::default()).unwrap();
        let mut out = Vec::new();
        let mut polls = 0;
        while r.poll_next(&mut out).unwrap() != ReadStatus::End {
            polls += 1;
            assert!(polls < 10_000, "a poll either sleeps or emits");
        }
        assert_eq!(out, [0, 1, 2, 3, 4]);
        assert!(
            r.snapshot_state().unwrap().is_empty(),
            "an ended reader holds nothing"
        );
    }
}
