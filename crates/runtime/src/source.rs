//! Sources in the shape of Flink's FLIP-27.
//!
//! A [`Source`] is a factory for two parts: a [`SplitEnumerator`] that runs once per job on the
//! coordinating side (in the embedded executor: the scheduling thread; later: the JobManager) and
//! hands out *splits* (units of work: a byte range of a file, a range of numbers), and one
//! [`SourceReader`] per parallel subtask that turns splits into records. Readers ask for a split
//! whenever they run out, so work is assigned lazily: a fast subtask takes more splits, and an
//! enumerator that knows where data lives can prefer local splits. An enumerator may also answer
//! "not now" ([`SplitAssignment::Wait`]): the reader asks again after [`SPLIT_RETRY_INTERVAL`]
//! (delay scheduling, so a split can wait a moment for a reader on a host that stores it).

use crate::context::TaskContext;
use crate::error::Result;
use crate::output::Collector;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::time::Duration;

/// How long a reader told to [`SplitAssignment::Wait`] sleeps before it asks again.
pub const SPLIT_RETRY_INTERVAL: Duration = Duration::from_millis(25);

/// Whether a source ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundedness {
    /// The source ends (a file, a collection): the job may run in batch mode.
    Bounded,
    /// The source never ends by itself (a generator, a socket, a queue).
    Unbounded,
}

/// A source of records of type `T`.
pub trait Source<T>: Send + Sync + 'static {
    /// A unit of work.
    type Split: Send + Clone + Serialize + DeserializeOwned + Debug + 'static;
    /// Name shown in the job graph, e.g. `Text(/data/in.txt)`.
    fn name(&self) -> String;
    /// Whether it ends.
    fn boundedness(&self) -> Boundedness;
    /// Creates the enumerator (once per job) for `parallelism` readers.
    fn create_enumerator(&self, parallelism: u32) -> Result<Box<dyn SplitEnumerator<Self::Split>>>;
    /// Creates the reader of one subtask.
    fn create_reader(&self, ctx: &TaskContext) -> Result<Box<dyn SourceReader<T, Self::Split>>>;
    /// Creates the enumerator of a job restored from a checkpoint, holding the splits that
    /// were not yet handed out. By default a queue of them (handed out in order).
    fn restore_enumerator(
        &self,
        _parallelism: u32,
        splits: Vec<Self::Split>,
    ) -> Result<Box<dyn SplitEnumerator<Self::Split>>> {
        Ok(Box::new(QueueEnumerator::new(splits)))
    }
}

/// What an enumerator answers a reader that asks for work.
#[derive(Debug, PartialEq, Eq)]
pub enum SplitAssignment<S> {
    /// Read this split.
    Split(S),
    /// Nothing for this reader right now, but there is work left (e.g. splits waiting for readers
    /// on the hosts that store them): ask again in a moment.
    Wait,
    /// No more work for this reader: it ends.
    NoMoreSplits,
}

impl<S> SplitAssignment<S> {
    /// Converts the split, if any.
    pub fn map<U>(self, f: impl FnOnce(S) -> U) -> SplitAssignment<U> {
        match self {
            SplitAssignment::Split(s) => SplitAssignment::Split(f(s)),
            SplitAssignment::Wait => SplitAssignment::Wait,
            SplitAssignment::NoMoreSplits => SplitAssignment::NoMoreSplits,
        }
    }
}

impl<S> From<Option<S>> for SplitAssignment<S> {
    fn from(split: Option<S>) -> Self {
        split.map_or(SplitAssignment::NoMoreSplits, SplitAssignment::Split)
    }
}

/// Hands out splits on request.
pub trait SplitEnumerator<S>: Send {
    /// The next split for the reader of `subtask` (on `host`, when known), without waiting. `None`
    /// means no more work for it.
    fn next_split(&mut self, subtask: u32, host: Option<&str>) -> Option<S>;
    /// What the runtime asks when the reader of `subtask` (on `host`) needs work: a split, "ask
    /// again soon", or no more work (the reader then ends). By default
    /// [`next_split`](Self::next_split), never waiting; an enumerator that delays splits for
    /// locality overrides it.
    fn assign(&mut self, subtask: u32, host: Option<&str>) -> SplitAssignment<S> {
        self.next_split(subtask, host).into()
    }
    /// Called once right after the enumerator is created, with the job's configuration (e.g. for
    /// `source.split.locality-wait`). By default it does nothing.
    fn configure(&mut self, _config: &spate_common::config::Configuration) {}
    /// Splits given back by a failed reader, to be handed out again.
    fn add_splits_back(&mut self, splits: Vec<S>);
    /// The splits not yet handed out, for a checkpoint. By default an error: the source does
    /// not support checkpoints.
    fn snapshot_state(&self) -> Result<Vec<S>> {
        Err(crate::Error::Other(
            "this source's enumerator does not support checkpoints".into(),
        ))
    }
    /// How many splits (and bytes) went to readers on a host that stores them, if the source
    /// knows where its data lives.
    fn assignment_stats(&self) -> Option<SplitStats> {
        None
    }
    /// The hosts that store the splits not handed out yet, with their bytes (a split stored on
    /// several hosts counts for each), so a resource manager can start readers there. Empty when
    /// the source does not know where its data lives (the default).
    fn pending_split_hosts(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// Locality of the splits an enumerator handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SplitStats {
    /// Splits read on a host that stores them.
    pub local_splits: u64,
    /// Splits read elsewhere.
    pub remote_splits: u64,
    /// Bytes of the local splits.
    pub local_bytes: u64,
    /// Bytes of the remote splits.
    pub remote_bytes: u64,
}

impl SplitStats {
    /// Adds another source's counts.
    pub fn add(&mut self, other: &SplitStats) {
        self.local_splits += other.local_splits;
        self.remote_splits += other.remote_splits;
        self.local_bytes += other.local_bytes;
        self.remote_bytes += other.remote_bytes;
    }
}

impl std::fmt::Display for SplitStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "splits: local={} remote={} local_bytes={} remote_bytes={}",
            self.local_splits, self.remote_splits, self.local_bytes, self.remote_bytes
        )
    }
}

/// What [`SourceReader::poll_next`] says about the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStatus {
    /// Emitted records; more are ready.
    MoreAvailable,
    /// Nothing right now (an unbounded source waiting for data); poll again soon.
    NothingAvailable,
    /// Finished every split it had: it needs a new split.
    NeedSplit,
    /// The reader ended (no further splits wanted).
    End,
}

/// Reads the splits of one subtask.
pub trait SourceReader<T, S>: Send {
    /// Adds a split to read.
    fn add_split(&mut self, split: S) -> Result<()>;
    /// Emits some records (a bounded amount, so the task can flush and check for cancellation).
    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> Result<ReadStatus>;

    /// Like [`poll_next`](Self::poll_next), for readers that also emit watermarks or idleness
    /// in between their records (per-split watermarks). The runtime calls this one; by default it
    /// is `poll_next`.
    fn poll_next_with_events(&mut self, out: &mut dyn SourceOutput<T>) -> Result<ReadStatus> {
        self.poll_next(out)
    }

    /// For a checkpoint: the splits this reader holds, each with its progress (a file split
    /// from the next unread offset), so that a restored reader goes on where this one was. Called
    /// between two [`poll_next`](Self::poll_next) calls. By default an error: the source does not
    /// support checkpoints.
    fn snapshot_state(&mut self) -> Result<Vec<S>> {
        Err(crate::Error::Other(
            "this source does not support checkpoints".into(),
        ))
    }
}

/// Where a source reader emits records and, in between them, watermarks or idleness.
pub trait SourceOutput<T>: Collector<T> {
    /// Emits a watermark or idleness after the records emitted so far.
    fn emit_event(&mut self, event: crate::time::StreamEvent);
}

impl<T, O: crate::output::Output<T> + ?Sized> SourceOutput<T> for O {
    fn emit_event(&mut self, event: crate::time::StreamEvent) {
        crate::output::Output::emit_event(self, event)
    }
}

/// An enumerator over a fixed list of splits, handed out in order to whoever asks first.
pub struct QueueEnumerator<S> {
    splits: VecDeque<S>,
}

impl<S> QueueEnumerator<S> {
    /// Hands out `splits` in order.
    pub fn new(splits: impl IntoIterator<Item = S>) -> Self {
        QueueEnumerator {
            splits: splits.into_iter().collect(),
        }
    }
}

impl<S: Send + Clone> SplitEnumerator<S> for QueueEnumerator<S> {
    fn next_split(&mut self, _subtask: u32, _host: Option<&str>) -> Option<S> {
        self.splits.pop_front()
    }
    fn snapshot_state(&self) -> Result<Vec<S>> {
        Ok(self.splits.iter().cloned().collect())
    }
    fn add_splits_back(&mut self, splits: Vec<S>) {
        self.splits.extend(splits);
    }
}

/// An enumerator that gives split `i` to subtask `i` only (for sources whose splits are tied to a
/// subtask, such as generators).
pub struct PerSubtaskEnumerator<S> {
    splits: Vec<Option<S>>,
}

impl<S> PerSubtaskEnumerator<S> {
    /// `splits[i]` goes to subtask `i`.
    pub fn new(splits: Vec<S>) -> Self {
        PerSubtaskEnumerator {
            splits: splits.into_iter().map(Some).collect(),
        }
    }
}

impl<S: Send + Clone> SplitEnumerator<S> for PerSubtaskEnumerator<S> {
    fn next_split(&mut self, subtask: u32, _host: Option<&str>) -> Option<S> {
        self.splits.get_mut(subtask as usize).and_then(Option::take)
    }
    fn snapshot_state(&self) -> Result<Vec<S>> {
        Ok(self.splits.iter().flatten().cloned().collect())
    }
    fn add_splits_back(&mut self, _splits: Vec<S>) {}
}
