use crate::checkpoint::{self, CheckpointId, OperatorSnapshot};
use crate::context::TaskContext;
use crate::failure;
use crate::metrics::OperatorCounters;
use crate::output::{combine, unerase, Collector, ErasedOutput, Output};
use crate::time::StreamEvent;
use spate_common::ids::OperatorId;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Counters are published to the shared atomics every this many records (a power of two).
const PUBLISH_EVERY: u64 = 4096;

/// A one-input operator. An instance lives in one subtask; it may keep state in `self`.
///
/// Operators are generic over the collector so that chained calls dispatch statically where the
/// compiler can see through them.
pub trait Operator<I, O>: Send + 'static {
    /// Receives the side outputs connected to this operator, before `open`.
    fn set_side_outputs(&mut self, _side: &mut SideOutputs) {}
    /// Called once before the first record.
    fn open(&mut self, _ctx: &TaskContext) {}
    /// Handles one record; its event timestamp is [`current_timestamp`](crate::time::current_timestamp).
    fn process<C: Output<O>>(&mut self, record: I, out: &mut C);
    /// Handles a watermark or idleness from the inputs and returns what to pass on (by default
    /// the event itself). Window operators fire here, before the watermark moves on.
    fn process_event<C: Output<O>>(&mut self, event: StreamEvent, _out: &mut C) -> Option<StreamEvent> {
        Some(event)
    }
    /// The task's clock advanced to `now_ms`.
    fn on_processing_time<C: Output<O>>(&mut self, _now_ms: i64, _out: &mut C) {}
    /// The task flushes (buffer timeout, idle input): make buffered effects visible.
    fn flush(&mut self) {}
    /// Called once after the last record of every input; may emit final results.
    fn end_input<C: Output<O>>(&mut self, _out: &mut C) {}
    /// Restores the operator's state from a checkpoint, before [`open`](Self::open). `state`
    /// holds the key groups this subtask owns now and its share of the operator state.
    fn initialize_state(&mut self, _ctx: &TaskContext, _state: OperatorSnapshot) -> crate::Result<()> {
        Ok(())
    }
    /// A checkpoint barrier passes: returns the operator's state as of now (keyed state per key
    /// group). An operator without state returns an empty snapshot (the default); an error
    /// aborts the checkpoint.
    fn snapshot_state(&mut self, _checkpoint: CheckpointId) -> crate::Result<OperatorSnapshot> {
        Ok(OperatorSnapshot::default())
    }
}

/// The lifecycle calls a side output needs from the chain it hangs off.
pub trait Lifecycle: Send {
    /// See [`Output::flush`].
    fn flush(&mut self);
    /// See [`Output::end_input`].
    fn end_input(&mut self);
    /// See [`Output::emit_event`].
    fn emit_event(&mut self, event: StreamEvent);
}

impl<T: Send> Lifecycle for Box<dyn Output<T>> {
    fn flush(&mut self) {
        Output::flush(&mut **self);
    }
    fn end_input(&mut self) {
        Output::end_input(&mut **self);
    }
    fn emit_event(&mut self, event: StreamEvent) {
        Output::emit_event(&mut **self, event);
    }
}

/// A side output an operator writes to; the chain flushes and ends it with the main output.
pub struct SideOutput<T>(Arc<Mutex<Box<dyn Output<T>>>>);

impl<T> Collector<T> for SideOutput<T> {
    fn collect(&mut self, record: T) {
        if let Ok(mut o) = self.0.lock() {
            o.collect(record);
        }
    }
}

/// Side outputs of an operator by tag (Flink's `OutputTag`), type-erased until the operator takes
/// the ones it knows.
#[derive(Default)]
pub struct SideOutputs {
    outputs: Vec<(String, ErasedOutput)>,
    taken: Vec<Arc<Mutex<dyn Lifecycle>>>,
}

impl SideOutputs {
    /// Side outputs from `(tag, output)` pairs; several outputs of one tag are combined.
    pub fn new(outputs: Vec<(String, ErasedOutput)>) -> Self {
        SideOutputs {
            outputs,
            taken: Vec::new(),
        }
    }

    /// Takes the output for `tag` (it discards records when nothing consumes the tag).
    pub fn take<T: crate::Data>(&mut self, tag: &str) -> crate::Result<SideOutput<T>> {
        let mut mine = Vec::new();
        let mut rest = Vec::new();
        for (t, o) in self.outputs.drain(..) {
            if t == tag {
                mine.push(unerase::<T>(o)?);
            } else {
                rest.push((t, o));
            }
        }
        self.outputs = rest;
        let shared = Arc::new(Mutex::new(combine(mine)));
        self.taken.push(shared.clone());
        Ok(SideOutput(shared))
    }

    /// Tags nobody took (a side output the operator does not produce).
    pub fn untaken(&self) -> Vec<&str> {
        self.outputs.iter().map(|(t, _)| t.as_str()).collect()
    }

    fn each(&self, f: impl Fn(&mut dyn Lifecycle)) {
        for o in &self.taken {
            if let Ok(mut o) = o.lock() {
                f(&mut *o);
            }
        }
    }
}

/// The identity of an operator inside a subtask: its name (for errors) and counters.
#[derive(Clone, Debug)]
pub struct ChainLink {
    /// The operator.
    pub operator: OperatorId,
    /// Operator name.
    pub name: Arc<str>,
    /// Counters of this operator in this subtask.
    pub counters: Arc<OperatorCounters>,
}

/// An output that counts what passes through it.
pub struct CountingOutput<O> {
    inner: Box<dyn Output<O>>,
    count: u64,
    link: Arc<OperatorCounters>,
}

impl<O> CountingOutput<O> {
    /// Counts into `records_out` of `counters`.
    pub fn new(inner: Box<dyn Output<O>>, counters: Arc<OperatorCounters>) -> Self {
        CountingOutput {
            inner,
            count: 0,
            link: counters,
        }
    }
    fn publish(&self) {
        self.link.records_out.store(self.count, Ordering::Relaxed);
    }
}

impl<O> Collector<O> for CountingOutput<O> {
    #[inline]
    fn collect(&mut self, record: O) {
        self.count += 1;
        if self.count & (PUBLISH_EVERY - 1) == 0 {
            self.publish();
        }
        self.inner.collect(record);
    }
}

impl<O: Send> Output<O> for CountingOutput<O> {
    fn flush(&mut self) {
        self.publish();
        self.inner.flush();
    }
    fn end_input(&mut self) {
        self.publish();
        self.inner.end_input();
    }
    fn emit_event(&mut self, event: StreamEvent) {
        self.inner.emit_event(event);
    }
    fn on_processing_time(&mut self, now_ms: i64) {
        self.inner.on_processing_time(now_ms);
    }
}

/// An operator inside a chain: counts records in and out, attributes panics to itself, and passes
/// its output on to the next link.
pub struct Chained<I, O, Op> {
    op: Op,
    operator: OperatorId,
    name: Arc<str>,
    out: CountingOutput<O>,
    side: SideOutputs,
    count_in: u64,
    _in: PhantomData<fn(I)>,
}

impl<I, O, Op: Operator<I, O>> Chained<I, O, Op> {
    /// Wraps `op`, giving it its side outputs and opening it.
    pub fn new(
        mut op: Op,
        ctx: &TaskContext,
        link: ChainLink,
        out: Box<dyn Output<O>>,
        side: &mut SideOutputs,
    ) -> Self {
        let restored = ctx
            .checkpoints
            .as_ref()
            .and_then(|c| c.take_restored(link.operator));
        failure::guard(&link.name, || {
            op.set_side_outputs(side);
            if let Some(state) = restored {
                if let Err(e) = op.initialize_state(ctx, state) {
                    failure::fail(format!("cannot restore state: {e}"));
                }
            }
            op.open(ctx)
        });
        let side = SideOutputs {
            outputs: Vec::new(),
            taken: std::mem::take(&mut side.taken),
        };
        Chained {
            op,
            operator: link.operator,
            name: link.name,
            side,
            out: CountingOutput::new(out, link.counters),
            count_in: 0,
            _in: PhantomData,
        }
    }
    fn publish(&self) {
        self.out.link.records_in.store(self.count_in, Ordering::Relaxed);
    }
}

impl<I, O: Send, Op: Operator<I, O>> Collector<I> for Chained<I, O, Op> {
    #[inline]
    fn collect(&mut self, record: I) {
        self.count_in += 1;
        if self.count_in & (PUBLISH_EVERY - 1) == 0 {
            self.publish();
        }
        let (op, out) = (&mut self.op, &mut self.out);
        failure::guard(&self.name, || op.process(record, out));
    }
}

impl<I: Send, O: Send, Op: Operator<I, O>> Output<I> for Chained<I, O, Op> {
    fn flush(&mut self) {
        self.publish();
        let op = &mut self.op;
        failure::guard(&self.name, || op.flush());
        self.out.flush();
        self.side.each(|o| o.flush());
    }
    fn end_input(&mut self) {
        self.publish();
        let (op, out) = (&mut self.op, &mut self.out);
        failure::guard(&self.name, || op.end_input(out));
        self.out.end_input();
        self.side.each(|o| o.end_input());
    }
    fn emit_event(&mut self, event: StreamEvent) {
        if let StreamEvent::Barrier(id) = event {
            // Snapshot, then pass the barrier on behind everything emitted so far.
            let op = &mut self.op;
            match failure::guard(&self.name, || op.snapshot_state(id)) {
                Ok(s) => checkpoint::record_snapshot(self.operator, s),
                Err(e) => checkpoint::record_failure(&self.name, e.to_string()),
            }
            self.out.emit_event(event);
            self.side.each(|o| o.emit_event(event));
            return;
        }
        let (op, out) = (&mut self.op, &mut self.out);
        if let Some(e) = failure::guard(&self.name, || op.process_event(event, out)) {
            self.out.emit_event(e);
            self.side.each(|o| o.emit_event(e));
        }
    }
    fn on_processing_time(&mut self, now_ms: i64) {
        let (op, out) = (&mut self.op, &mut self.out);
        failure::guard(&self.name, || op.on_processing_time(now_ms, out));
        self.out.on_processing_time(now_ms);
    }
}
