//! The code of a job, apart from its shape.
//!
//! The job graph names operators and edges by id; [`JobCode`] maps those ids to typed factories
//! behind object-safe traits. Types meet only at chain links and channels, where an erased value
//! is converted back once per subtask (not per record): the factory of an operator with output `O`
//! receives its outputs as erased `Box<dyn Output<O>>` and returns its own input as an erased
//! `Box<dyn Output<I>>`.

use crate::channel::{self, ChannelRx, ChannelTx, Received};
use crate::context::{JobControl, TaskContext};
use crate::error::{Error, Result};
use crate::failure;
use crate::operator::{ChainLink, Chained, CountingOutput, Operator, SideOutputs};
use crate::output::{combine, erase, unerase, Discard, ErasedOutput, Output};
use crate::record_writer::{Partitioner, RecordWriter};
use crate::remote::{ChannelInbox, RemoteInbox, RemoteLink};
use crate::sink::{Sink, SinkOperator};
use crate::source::{ReadStatus, Source, SplitAssignment, SplitEnumerator, SPLIT_RETRY_INTERVAL};
use crate::time::{now_ms, set_current_timestamp, StreamEvent, MAX_WATERMARK, NO_TIMESTAMP};
use crate::Data;
use spate_common::config::Configuration;
use spate_common::ids::{EdgeId, OperatorId};
use spate_graph::{ExchangeMode, Partitioning};
use std::any::Any;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A type-erased [`ChannelTx<T>`].
pub type ErasedTx = Arc<dyn Any + Send + Sync>;
/// A type-erased [`ChannelRx<T>`].
pub type ErasedRx = Box<dyn Any + Send>;
/// A type-erased split.
pub type ErasedSplit = Box<dyn Any + Send>;

/// How to build the channel of one consumer subtask.
#[derive(Clone, Debug)]
pub struct ChannelSpec {
    /// Pipelined or blocking.
    pub mode: ExchangeMode,
    /// Pipelined: batches the channel holds.
    pub capacity: usize,
    /// Pipelined: producers whose end to wait for.
    pub producers: u32,
    /// Blocking: bytes kept in memory before spilling.
    pub memory_budget: u64,
    /// Blocking: where spill files go.
    pub spill_dir: PathBuf,
}

/// The input side of an operator, typed by its input type.
pub trait InputCode: Send + Sync {
    /// Creates the channel of one consumer subtask.
    fn channel(&self, spec: &ChannelSpec) -> (ErasedTx, ErasedRx);
    /// Feeds the channel into the chain head until every producer ended, then ends the chain.
    fn drive(&self, ctx: &TaskContext, rx: ErasedRx, head: ErasedOutput) -> Result<()>;
    /// The producer side of a consumer channel that lives in another process.
    fn remote_tx(&self, link: Arc<dyn RemoteLink>) -> ErasedTx;
    /// Delivers frames from other processes into the local channel `tx` (made by [`Self::channel`]).
    fn inbox(&self, tx: &ErasedTx, control: Arc<JobControl>) -> Result<Arc<dyn RemoteInbox>>;
    /// A second reader of a blocking channel (to run a failed consumer again); `None` for
    /// pipelined channels.
    fn reopen(&self, rx: &ErasedRx) -> Option<ErasedRx>;
    /// The consumer of channel `tx` finished: frees a blocking partition's contents.
    fn release(&self, tx: &ErasedTx);
}

/// The code of an operator (or sink).
pub trait OperatorCode: Send + Sync {
    /// Its input side.
    fn input(&self) -> &dyn InputCode;
    /// Builds the operator for one subtask, writing to `outputs`.
    fn build(
        &self,
        ctx: &TaskContext,
        link: ChainLink,
        outputs: Vec<ErasedOutput>,
        side: SideOutputs,
    ) -> Result<ErasedOutput>;
    /// Whether this works only in embedded mode (see [`Sink::embedded_only`]).
    fn embedded_only(&self) -> bool {
        false
    }
    /// Called once per job before it runs (sinks prepare their destination).
    fn prepare(&self, _parallelism: u32) -> Result<()> {
        Ok(())
    }
    /// Called once per job after every subtask ended (sinks commit or discard their output).
    fn finalize(&self, _success: bool) -> Result<()> {
        Ok(())
    }
    /// A checkpoint completed: sinks commit what they staged for it (see [`Sink::commit`]).
    fn commit(&self, _committables: Vec<Vec<u8>>) -> Result<()> {
        Ok(())
    }
    /// Instead of [`prepare`](Self::prepare) when the job starts from a checkpoint (see
    /// [`Sink::recover`]).
    fn recover(&self, parallelism: u32, _committables: Vec<Vec<u8>>) -> Result<()> {
        self.prepare(parallelism)
    }
}

/// Splits for one reader, from the coordinating side.
pub trait SplitProvider: Send + Sync {
    /// Work for `subtask` running on `host`: a split, "ask again soon", or no more work.
    /// `barrier` is the last checkpoint the reader injected: while a newer checkpoint is being
    /// started, the answer is "ask again soon", so that a split is never both in the
    /// enumerator's snapshot and in a reader's.
    fn assign(&self, subtask: u32, host: Option<&str>, barrier: u64) -> SplitAssignment<ErasedSplit>;
}

/// A type-erased split enumerator.
pub trait ErasedEnumerator: Send {
    /// See [`SplitEnumerator::assign`].
    fn assign(&mut self, subtask: u32, host: Option<&str>) -> SplitAssignment<ErasedSplit>;
    /// See [`SplitEnumerator::assignment_stats`].
    fn assignment_stats(&self) -> Option<crate::source::SplitStats>;
    /// The unassigned splits, encoded (see [`SplitEnumerator::snapshot_state`]).
    fn snapshot(&self) -> Result<Vec<Vec<u8>>>;
    /// See [`SplitEnumerator::pending_split_hosts`].
    fn pending_split_hosts(&self) -> Vec<(String, u64)>;
}

struct EnumeratorBox<S>(Box<dyn SplitEnumerator<S>>);

impl<S: Send + serde::Serialize + 'static> ErasedEnumerator for EnumeratorBox<S> {
    fn snapshot(&self) -> Result<Vec<Vec<u8>>> {
        self.0
            .snapshot_state()?
            .iter()
            .map(crate::checkpoint::encode)
            .collect()
    }
    fn assign(&mut self, subtask: u32, host: Option<&str>) -> SplitAssignment<ErasedSplit> {
        self.0.assign(subtask, host).map(|s| Box::new(s) as ErasedSplit)
    }
    fn assignment_stats(&self) -> Option<crate::source::SplitStats> {
        self.0.assignment_stats()
    }
    fn pending_split_hosts(&self) -> Vec<(String, u64)> {
        self.0.pending_split_hosts()
    }
}

/// The code of a source.
pub trait SourceCode: Send + Sync {
    /// Whether the source ends.
    fn bounded(&self) -> bool;
    /// Creates the job's split enumerator and configures it with the job's `config`.
    fn create_enumerator(
        &self,
        parallelism: u32,
        config: &Configuration,
    ) -> Result<Box<dyn ErasedEnumerator>>;
    /// Serializes a split made by this source's enumerator (to send it to another process).
    fn encode_split(&self, split: ErasedSplit) -> Result<Vec<u8>>;
    /// Reads back a split serialized by [`Self::encode_split`].
    fn decode_split(&self, bytes: &[u8]) -> Result<ErasedSplit>;
    /// Creates the enumerator of a job restored from a checkpoint, from the splits its
    /// enumerator had not handed out (as [`ErasedEnumerator::snapshot`] encoded them).
    fn restore_enumerator(
        &self,
        parallelism: u32,
        config: &Configuration,
        splits: &[Vec<u8>],
    ) -> Result<Box<dyn ErasedEnumerator>>;
    /// Runs the reader of one subtask until it ends, writing to `outputs`, then ends them.
    fn run(
        &self,
        ctx: &TaskContext,
        link: ChainLink,
        splits: &dyn SplitProvider,
        outputs: Vec<ErasedOutput>,
    ) -> Result<()>;
}

/// The code of an exchange's producer side.
pub trait EdgeCode: Send + Sync {
    /// Creates the writer of one producer subtask into the connected consumer channels, each with
    /// this producer's slot in it.
    fn writer(
        &self,
        ctx: &TaskContext,
        partitioning: Partitioning,
        targets: &[(ErasedTx, u32)],
    ) -> Result<ErasedOutput>;
}

/// The code behind a stream-graph node.
#[derive(Clone)]
pub enum NodeCode {
    /// A source.
    Source(Arc<dyn SourceCode>),
    /// An operator or sink.
    Operator(Arc<dyn OperatorCode>),
    /// A union: no code, dissolved by the planner.
    Virtual,
}

/// All the code of a job, by id.
#[derive(Clone, Default)]
pub struct JobCode {
    /// Node code.
    pub nodes: HashMap<OperatorId, NodeCode>,
    /// Edge code.
    pub edges: HashMap<EdgeId, Arc<dyn EdgeCode>>,
}

impl JobCode {
    /// The code of a node.
    pub fn node(&self, id: OperatorId) -> Result<&NodeCode> {
        self.nodes
            .get(&id)
            .ok_or_else(|| Error::Internal(format!("no code for operator {id}")))
    }
    /// The code of an edge.
    pub fn edge(&self, id: EdgeId) -> Result<&Arc<dyn EdgeCode>> {
        self.edges
            .get(&id)
            .ok_or_else(|| Error::Internal(format!("no code for edge {id}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Typed implementations.

/// Input side for records of type `I`.
pub struct TypedInput<I>(PhantomData<fn(I) -> I>);

impl<I> Default for TypedInput<I> {
    fn default() -> Self {
        TypedInput(PhantomData)
    }
}

impl<I: Data> InputCode for TypedInput<I> {
    fn channel(&self, spec: &ChannelSpec) -> (ErasedTx, ErasedRx) {
        let (tx, rx) = match spec.mode {
            ExchangeMode::Pipelined => channel::pipelined::<I>(spec.capacity, spec.producers),
            ExchangeMode::Blocking => channel::blocking::<I>(spec.memory_budget, spec.spill_dir.clone()),
        };
        (Arc::new(tx), Box::new(rx))
    }

    fn drive(&self, ctx: &TaskContext, rx: ErasedRx, head: ErasedOutput) -> Result<()> {
        let rx = rx
            .downcast::<ChannelRx<I>>()
            .map_err(|_| Error::Internal("channel type mismatch".into()))?;
        let mut head = unerase::<I>(head)?;
        let mut clock = Ticker::default();
        let at_least_once = ctx
            .checkpoints
            .as_ref()
            .is_some_and(|c| c.mode == crate::checkpoint::CheckpointingMode::AtLeastOnce);
        let drained = rx.drain_with(&ctx.control, at_least_once, |received| match received {
            Received::Batch(batch) => {
                if batch.timestamps.is_empty() {
                    set_current_timestamp(NO_TIMESTAMP);
                    batch.records.into_iter().for_each(|r| head.collect(r));
                } else {
                    for (r, ts) in batch.records.into_iter().zip(batch.timestamps) {
                        set_current_timestamp(ts);
                        head.collect(r);
                    }
                }
                if let Some(now) = clock.due() {
                    head.on_processing_time(now);
                }
            }
            Received::Event(StreamEvent::Barrier(id)) => {
                head.emit_event(StreamEvent::Barrier(id));
                crate::checkpoint::complete_barrier(ctx, id);
            }
            Received::Event(e) => head.emit_event(e),
            Received::Dry => {
                head.flush();
                if let Some(now) = clock.due() {
                    head.on_processing_time(now);
                }
            }
        })?;
        if drained.is_err() {
            failure::cancelled();
        }
        head.end_input();
        Ok(())
    }

    fn reopen(&self, rx: &ErasedRx) -> Option<ErasedRx> {
        match rx.downcast_ref::<ChannelRx<I>>()? {
            ChannelRx::Blocking(p) => Some(Box::new(ChannelRx::<I>::Blocking(p.clone()))),
            ChannelRx::Pipelined { .. } => None,
        }
    }

    fn release(&self, tx: &ErasedTx) {
        if let Some(tx) = tx.downcast_ref::<ChannelTx<I>>() {
            tx.release();
        }
    }

    fn remote_tx(&self, link: Arc<dyn RemoteLink>) -> ErasedTx {
        Arc::new(ChannelTx::<I>::Remote(link))
    }

    fn inbox(&self, tx: &ErasedTx, control: Arc<JobControl>) -> Result<Arc<dyn RemoteInbox>> {
        let tx = tx
            .downcast_ref::<ChannelTx<I>>()
            .cloned()
            .ok_or_else(|| Error::Internal("channel type mismatch".into()))?;
        Ok(Arc::new(ChannelInbox::new(tx, control)))
    }
}

struct OperatorFactory<I, O, F> {
    factory: F,
    input: TypedInput<I>,
    _out: PhantomData<fn() -> O>,
}

impl<I, O, Op, F> OperatorCode for OperatorFactory<I, O, F>
where
    I: Data,
    O: Data,
    Op: Operator<I, O>,
    F: Fn(&TaskContext) -> Op + Send + Sync + 'static,
{
    fn input(&self) -> &dyn InputCode {
        &self.input
    }

    fn build(
        &self,
        ctx: &TaskContext,
        link: ChainLink,
        outputs: Vec<ErasedOutput>,
        mut side: SideOutputs,
    ) -> Result<ErasedOutput> {
        let outs = outputs
            .into_iter()
            .map(unerase::<O>)
            .collect::<Result<Vec<_>>>()?;
        let op = (self.factory)(ctx);
        let chained: Box<dyn Output<I>> = Box::new(Chained::new(op, ctx, link, combine(outs), &mut side));
        if let Some(tag) = side.untaken().first() {
            return Err(Error::Other(format!("the operator has no side output '{tag}'")));
        }
        Ok(erase(chained))
    }
}

/// The code of an operator built by `factory` once per subtask.
pub fn operator<I, O, Op, F>(factory: F) -> Arc<dyn OperatorCode>
where
    I: Data,
    O: Data,
    Op: Operator<I, O>,
    F: Fn(&TaskContext) -> Op + Send + Sync + 'static,
{
    Arc::new(OperatorFactory {
        factory,
        input: TypedInput::<I>::default(),
        _out: PhantomData,
    })
}

struct SinkCode<T> {
    sink: Arc<dyn Sink<T>>,
    input: TypedInput<T>,
}

impl<T: Data> OperatorCode for SinkCode<T> {
    fn input(&self) -> &dyn InputCode {
        &self.input
    }

    fn build(
        &self,
        ctx: &TaskContext,
        link: ChainLink,
        _outputs: Vec<ErasedOutput>,
        mut side: SideOutputs,
    ) -> Result<ErasedOutput> {
        let writer = self.sink.create_writer(ctx)?;
        let op = SinkOperator::new(writer);
        let chained: Box<dyn Output<T>> = Box::new(Chained::new(op, ctx, link, Box::new(Discard), &mut side));
        Ok(erase(chained))
    }

    fn embedded_only(&self) -> bool {
        self.sink.embedded_only()
    }

    fn prepare(&self, parallelism: u32) -> Result<()> {
        self.sink.initialize(parallelism)
    }

    fn finalize(&self, success: bool) -> Result<()> {
        self.sink.finalize(success)
    }

    fn commit(&self, committables: Vec<Vec<u8>>) -> Result<()> {
        self.sink.commit(committables)
    }

    fn recover(&self, parallelism: u32, committables: Vec<Vec<u8>>) -> Result<()> {
        self.sink.recover(parallelism, committables)
    }
}

/// The code of a sink.
pub fn sink<T: Data>(sink: Arc<dyn Sink<T>>) -> Arc<dyn OperatorCode> {
    Arc::new(SinkCode {
        sink,
        input: TypedInput::default(),
    })
}

struct SourceCodeImpl<T, S> {
    source: S,
    _t: PhantomData<fn() -> T>,
}

impl<T: Data, S: Source<T>> SourceCode for SourceCodeImpl<T, S> {
    fn bounded(&self) -> bool {
        self.source.boundedness() == crate::source::Boundedness::Bounded
    }

    fn create_enumerator(
        &self,
        parallelism: u32,
        config: &Configuration,
    ) -> Result<Box<dyn ErasedEnumerator>> {
        let mut enumerator = self.source.create_enumerator(parallelism)?;
        enumerator.configure(config);
        Ok(Box::new(EnumeratorBox(enumerator)))
    }

    fn restore_enumerator(
        &self,
        parallelism: u32,
        config: &Configuration,
        splits: &[Vec<u8>],
    ) -> Result<Box<dyn ErasedEnumerator>> {
        let splits = splits
            .iter()
            .map(|b| crate::checkpoint::decode::<S::Split>(b))
            .collect::<Result<Vec<_>>>()?;
        let mut enumerator = self.source.restore_enumerator(parallelism, splits)?;
        enumerator.configure(config);
        Ok(Box::new(EnumeratorBox(enumerator)))
    }

    fn encode_split(&self, split: ErasedSplit) -> Result<Vec<u8>> {
        let split = split
            .downcast::<S::Split>()
            .map_err(|_| Error::Internal("split type mismatch".into()))?;
        postcard::to_allocvec(&*split).map_err(|e| Error::Codec(format!("cannot encode a split: {e}")))
    }

    fn decode_split(&self, bytes: &[u8]) -> Result<ErasedSplit> {
        let split: S::Split =
            postcard::from_bytes(bytes).map_err(|e| Error::Codec(format!("cannot decode a split: {e}")))?;
        Ok(Box::new(split))
    }

    fn run(
        &self,
        ctx: &TaskContext,
        link: ChainLink,
        splits: &dyn SplitProvider,
        outputs: Vec<ErasedOutput>,
    ) -> Result<()> {
        let outs = outputs
            .into_iter()
            .map(unerase::<T>)
            .collect::<Result<Vec<_>>>()?;
        let mut out = CountingOutput::new(combine(outs), link.counters.clone());
        let name = link.name.clone();
        let ok_or_fail = |r: Result<ReadStatus>| r.unwrap_or_else(|e| failure::fail(e.to_string()));
        let operator = link.operator;
        failure::guard(&name, || {
            let mut reader = self
                .source
                .create_reader(ctx)
                .unwrap_or_else(|e| failure::fail(e.to_string()));
            // Restored splits (with their progress) are read first.
            let checkpoints = ctx.checkpoints.as_deref();
            if let Some(state) = checkpoints.and_then(|c| c.take_restored(operator)) {
                for bytes in &state.operator {
                    let split = crate::checkpoint::decode::<S::Split>(bytes)
                        .unwrap_or_else(|e| failure::fail(format!("cannot restore a split: {e}")));
                    reader
                        .add_split(split)
                        .unwrap_or_else(|e| failure::fail(e.to_string()));
                }
            }
            let mut injected = 0u64;
            set_current_timestamp(NO_TIMESTAMP);
            let mut last_flush = Instant::now();
            let mut clock = Ticker::default();
            loop {
                if ctx.is_cancelled() {
                    failure::cancelled();
                }
                if let Some(id) = checkpoints.and_then(|c| c.due(injected)) {
                    injected = id;
                    // The reader's splits and progress, then the barrier behind what was emitted.
                    match reader.snapshot_state() {
                        Ok(splits) => match splits.iter().map(crate::checkpoint::encode).collect() {
                            Ok(items) => crate::checkpoint::record_snapshot(
                                operator,
                                crate::checkpoint::OperatorSnapshot {
                                    operator: items,
                                    ..Default::default()
                                },
                            ),
                            Err(e) => crate::checkpoint::record_failure(&name, e.to_string()),
                        },
                        Err(e) => crate::checkpoint::record_failure(&name, e.to_string()),
                    }
                    out.emit_event(StreamEvent::Barrier(id));
                    crate::checkpoint::complete_barrier(ctx, id);
                }
                match ok_or_fail(reader.poll_next_with_events(&mut out)) {
                    ReadStatus::MoreAvailable => {
                        if last_flush.elapsed() >= ctx.buffer_timeout {
                            out.flush();
                            last_flush = Instant::now();
                        }
                        if let Some(now) = clock.due() {
                            out.on_processing_time(now);
                        }
                    }
                    ReadStatus::NothingAvailable => {
                        out.flush();
                        last_flush = Instant::now();
                        if let Some(now) = clock.due() {
                            out.on_processing_time(now);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    ReadStatus::NeedSplit => {
                        match splits.assign(ctx.subtask, ctx.host.as_deref(), injected) {
                            SplitAssignment::Split(split) => match split.downcast::<S::Split>() {
                                Ok(s) => reader
                                    .add_split(*s)
                                    .unwrap_or_else(|e| failure::fail(e.to_string())),
                                Err(_) => failure::fail("split type mismatch"),
                            },
                            // Not yet (a split waits for a reader on its host): pass on what was read,
                            // then ask again (cancellation is checked at the top of the loop).
                            SplitAssignment::Wait => {
                                out.flush();
                                last_flush = Instant::now();
                                if let Some(now) = clock.due() {
                                    out.on_processing_time(now);
                                }
                                std::thread::sleep(SPLIT_RETRY_INTERVAL);
                            }
                            SplitAssignment::NoMoreSplits => break,
                        }
                    }
                    ReadStatus::End => break,
                }
            }
            // A bounded input ends event time: every remaining event-time window fires.
            out.emit_event(StreamEvent::Watermark(MAX_WATERMARK));
        });
        out.end_input();
        Ok(())
    }
}

/// Tells a task loop when to advance processing time (every few milliseconds).
#[derive(Default)]
struct Ticker {
    last: i64,
}

impl Ticker {
    const EVERY_MS: i64 = 5;

    fn due(&mut self) -> Option<i64> {
        let now = now_ms();
        (now - self.last >= Self::EVERY_MS).then(|| {
            self.last = now;
            now
        })
    }
}

/// The code of a source.
pub fn source<T: Data, S: Source<T>>(source: S) -> Arc<dyn SourceCode> {
    Arc::new(SourceCodeImpl {
        source,
        _t: PhantomData,
    })
}

struct TypedEdge<T> {
    partitioner: Partitioner<T>,
}

impl<T: Data> EdgeCode for TypedEdge<T> {
    fn writer(
        &self,
        ctx: &TaskContext,
        partitioning: Partitioning,
        targets: &[(ErasedTx, u32)],
    ) -> Result<ErasedOutput> {
        let txs = targets
            .iter()
            .map(|(t, slot)| {
                t.downcast_ref::<ChannelTx<T>>()
                    .cloned()
                    .map(|tx| (tx, *slot))
                    .ok_or_else(|| Error::Internal("channel type mismatch".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        let w: Box<dyn Output<T>> = Box::new(RecordWriter::new(
            ctx,
            partitioning,
            self.partitioner.clone(),
            txs,
        ));
        Ok(erase(w))
    }
}

/// The code of an edge carrying records of type `T`.
pub fn edge<T: Data>(partitioner: Partitioner<T>) -> Arc<dyn EdgeCode> {
    Arc::new(TypedEdge { partitioner })
}
