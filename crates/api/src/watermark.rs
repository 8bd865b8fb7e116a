//! Event time: timestamp assigners and watermark strategies (Flink's `WatermarkStrategy`).

use crate::stream::DataStream;
use spate_common::config::keys;
use spate_runtime::operator::Operator;
use spate_runtime::source::{Boundedness, ReadStatus, Source, SourceOutput, SourceReader, SplitEnumerator};
use spate_runtime::time::{current_timestamp_raw, set_current_timestamp, StreamEvent, MAX_WATERMARK};
use spate_runtime::{Collector, Data, Output, TaskContext};
use std::sync::Arc;
use std::time::Duration;

/// Where a [`WatermarkGenerator`] puts its watermarks.
#[derive(Debug, Default)]
pub struct WatermarkOutput {
    pending: Option<i64>,
    idle: bool,
}

impl WatermarkOutput {
    /// Emits a watermark (ignored unless it is above the last one emitted).
    pub fn emit_watermark(&mut self, watermark: i64) {
        self.pending = Some(self.pending.map_or(watermark, |p| p.max(watermark)));
        self.idle = false;
    }
    /// Marks the stream idle.
    pub fn mark_idle(&mut self) {
        self.idle = true;
    }
}

/// Turns event timestamps into watermarks (Flink's `WatermarkGenerator`).
pub trait WatermarkGenerator: Send {
    /// Sees every event's timestamp; may emit a watermark.
    fn on_event(&mut self, timestamp: i64, output: &mut WatermarkOutput);
    /// Called every `pipeline.auto-watermark-interval`; may emit a watermark.
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput);
}

/// Watermark = highest timestamp seen − bound − 1 ms (Flink's `BoundedOutOfOrdernessWatermarks`).
#[derive(Clone, Debug)]
pub struct BoundedOutOfOrderness {
    max_timestamp: i64,
    bound_ms: i64,
}

impl BoundedOutOfOrderness {
    /// Events may be up to `bound` late relative to the highest timestamp seen.
    pub fn new(bound: Duration) -> Self {
        let bound_ms = bound.as_millis() as i64;
        BoundedOutOfOrderness {
            max_timestamp: i64::MIN + bound_ms + 1,
            bound_ms,
        }
    }
}

impl WatermarkGenerator for BoundedOutOfOrderness {
    fn on_event(&mut self, timestamp: i64, _output: &mut WatermarkOutput) {
        self.max_timestamp = self.max_timestamp.max(timestamp);
    }
    fn on_periodic_emit(&mut self, output: &mut WatermarkOutput) {
        output.emit_watermark(self.max_timestamp - self.bound_ms - 1);
    }
}

type GeneratorFactory = Arc<dyn Fn() -> Box<dyn WatermarkGenerator> + Send + Sync>;
type TimestampFn<T> = Arc<dyn Fn(&T, i64) -> i64 + Send + Sync>;

/// How a stream gets event timestamps and watermarks.
pub struct WatermarkStrategy<T> {
    generator: GeneratorFactory,
    assigner: Option<TimestampFn<T>>,
    idleness: Option<Duration>,
    on_every_event: bool,
}

impl<T> Clone for WatermarkStrategy<T> {
    fn clone(&self) -> Self {
        WatermarkStrategy {
            generator: self.generator.clone(),
            assigner: self.assigner.clone(),
            idleness: self.idleness,
            on_every_event: self.on_every_event,
        }
    }
}

impl<T: Data> WatermarkStrategy<T> {
    /// Events arrive at most `bound` out of order.
    pub fn for_bounded_out_of_orderness(bound: Duration) -> Self {
        Self::for_generator(move || BoundedOutOfOrderness::new(bound))
    }

    /// Timestamps never decrease.
    pub fn for_monotonous_timestamps() -> Self {
        Self::for_bounded_out_of_orderness(Duration::ZERO)
    }

    /// A custom generator, made once per subtask.
    pub fn for_generator<G: WatermarkGenerator + 'static>(f: impl Fn() -> G + Send + Sync + 'static) -> Self {
        WatermarkStrategy {
            generator: Arc::new(move || Box::new(f())),
            assigner: None,
            idleness: None,
            on_every_event: false,
        }
    }

    /// Extracts the event timestamp (ms) of a record; the second argument is the timestamp the
    /// record already has ([`i64::MIN`] for none).
    pub fn with_timestamp_assigner(mut self, f: impl Fn(&T, i64) -> i64 + Send + Sync + 'static) -> Self {
        self.assigner = Some(Arc::new(f));
        self
    }

    /// A subtask without records for `timeout` is marked idle, so it does not hold back the
    /// watermark of the operators downstream.
    pub fn with_idleness(mut self, timeout: Duration) -> Self {
        self.idleness = Some(timeout);
        self
    }

    /// Asks the generator for a watermark after every event, not only periodically (Flink's
    /// on-event emission); results then do not depend on timing.
    pub fn with_watermark_on_every_event(mut self) -> Self {
        self.on_every_event = true;
        self
    }
}

struct TimestampsAndWatermarks<T> {
    strategy: WatermarkStrategy<T>,
    generator: Box<dyn WatermarkGenerator>,
    output: WatermarkOutput,
    emitted: i64,
    interval_ms: i64,
    last_periodic: i64,
    last_record: i64,
    idle: bool,
}

impl<T: Data> TimestampsAndWatermarks<T> {
    fn flush_watermark<C: Output<T>>(&mut self, out: &mut C) {
        flush_pending(&mut self.output, &mut self.emitted, &mut self.idle, out);
        if self.output.idle && !self.idle {
            self.output.idle = false;
            self.idle = true;
            out.emit_event(StreamEvent::Idle);
        }
    }
}

impl<T: Data> Operator<T, T> for TimestampsAndWatermarks<T> {
    fn open(&mut self, ctx: &TaskContext) {
        self.interval_ms = ctx.config.get(&keys::AUTO_WATERMARK_INTERVAL).as_millis().max(1) as i64;
    }

    fn process<C: Output<T>>(&mut self, record: T, out: &mut C) {
        let previous = current_timestamp_raw();
        let ts = match &self.strategy.assigner {
            Some(f) => f(&record, previous),
            None => previous,
        };
        set_current_timestamp(ts);
        self.generator.on_event(ts, &mut self.output);
        out.collect(record);
        if self.strategy.on_every_event {
            self.generator.on_periodic_emit(&mut self.output);
        }
        if self.strategy.idleness.is_some() {
            self.last_record = spate_runtime::time::now_ms();
        }
        self.flush_watermark(out);
    }

    fn process_event<C: Output<T>>(&mut self, event: StreamEvent, _out: &mut C) -> Option<StreamEvent> {
        // This operator makes the watermarks; only the end of event time passes through.
        match event {
            StreamEvent::Watermark(MAX_WATERMARK) => {
                self.emitted = MAX_WATERMARK;
                Some(event)
            }
            _ => None,
        }
    }

    fn on_processing_time<C: Output<T>>(&mut self, now_ms: i64, out: &mut C) {
        if now_ms - self.last_periodic >= self.interval_ms {
            self.last_periodic = now_ms;
            if !self.idle {
                self.generator.on_periodic_emit(&mut self.output);
            }
        }
        if let Some(timeout) = self.strategy.idleness {
            if !self.idle && now_ms - self.last_record >= timeout.as_millis() as i64 {
                self.output.mark_idle();
            }
        }
        self.flush_watermark(out);
    }
}

impl<T: Data> DataStream<T> {
    /// Gives every record an event timestamp and emits watermarks (Flink's
    /// `assignTimestampsAndWatermarks`). Watermarks from upstream are replaced by this strategy's.
    pub fn assign_timestamps_and_watermarks(&self, strategy: WatermarkStrategy<T>) -> DataStream<T> {
        self.add_operator("Timestamps/Watermarks", move |_| TimestampsAndWatermarks {
            generator: (strategy.generator)(),
            strategy: strategy.clone(),
            output: WatermarkOutput::default(),
            emitted: i64::MIN,
            interval_ms: 200,
            last_periodic: 0,
            last_record: spate_runtime::time::now_ms(),
            idle: false,
        })
    }
}

/// A source whose reader assigns timestamps and generates watermarks itself, with one watermark
/// generator per split (Flink's `fromSource(source, watermarkStrategy)`): a split's generator
/// starts when the reader takes the split and stops holding the watermark back when the split is
/// finished.
pub(crate) struct WatermarkedSource<S, T> {
    pub inner: S,
    pub strategy: WatermarkStrategy<T>,
}

impl<T: Data, S: Source<T>> Source<T> for WatermarkedSource<S, T> {
    type Split = S::Split;

    fn name(&self) -> String {
        self.inner.name()
    }
    fn boundedness(&self) -> Boundedness {
        self.inner.boundedness()
    }
    fn create_enumerator(
        &self,
        parallelism: u32,
    ) -> spate_runtime::Result<Box<dyn SplitEnumerator<S::Split>>> {
        self.inner.create_enumerator(parallelism)
    }
    fn restore_enumerator(
        &self,
        parallelism: u32,
        splits: Vec<S::Split>,
    ) -> spate_runtime::Result<Box<dyn SplitEnumerator<S::Split>>> {
        self.inner.restore_enumerator(parallelism, splits)
    }
    fn create_reader(&self, ctx: &TaskContext) -> spate_runtime::Result<Box<dyn SourceReader<T, S::Split>>> {
        Ok(Box::new(WatermarkedReader {
            inner: self.inner.create_reader(ctx)?,
            strategy: self.strategy.clone(),
            split: None,
            splits_started: 0,
            output: WatermarkOutput::default(),
            emitted: i64::MIN,
            interval_ms: ctx.config.get(&keys::AUTO_WATERMARK_INTERVAL).as_millis().max(1) as i64,
            last_periodic: 0,
            last_record: spate_runtime::time::now_ms(),
            idle: false,
        }))
    }
}

struct WatermarkedReader<T, S> {
    inner: Box<dyn SourceReader<T, S>>,
    strategy: WatermarkStrategy<T>,
    /// The generator of the split being read (the runtime hands a reader one split at a time).
    split: Option<Box<dyn WatermarkGenerator>>,
    splits_started: u64,
    output: WatermarkOutput,
    emitted: i64,
    interval_ms: i64,
    last_periodic: i64,
    last_record: i64,
    idle: bool,
}

/// Emits a pending watermark if it advances the reader's watermark.
fn flush_pending(
    output: &mut WatermarkOutput,
    emitted: &mut i64,
    idle: &mut bool,
    out: &mut dyn SourceOutput<impl Sized>,
) {
    if let Some(w) = output.pending.take() {
        if w > *emitted {
            *emitted = w;
            *idle = false;
            out.emit_event(StreamEvent::Watermark(w));
        }
    }
}

/// Stamps records with their timestamp and feeds the split's generator.
struct Stamping<'a, T> {
    out: &'a mut dyn SourceOutput<T>,
    assigner: Option<&'a TimestampFn<T>>,
    generator: Option<&'a mut Box<dyn WatermarkGenerator>>,
    output: &'a mut WatermarkOutput,
    emitted: &'a mut i64,
    idle: &'a mut bool,
    on_every_event: bool,
    records: u64,
}

impl<T> Collector<T> for Stamping<'_, T> {
    fn collect(&mut self, record: T) {
        let ts = match self.assigner {
            Some(f) => f(&record, current_timestamp_raw()),
            None => current_timestamp_raw(),
        };
        set_current_timestamp(ts);
        self.records += 1;
        let Some(g) = self.generator.as_deref_mut() else {
            self.out.collect(record);
            return;
        };
        g.on_event(ts, self.output);
        self.out.collect(record);
        if self.on_every_event {
            g.on_periodic_emit(self.output);
            flush_pending(self.output, self.emitted, self.idle, self.out);
        }
    }
}

impl<T: Data, S: Send> SourceReader<T, S> for WatermarkedReader<T, S> {
    /// The inner reader's splits with their progress; the watermark generators start afresh on
    /// restore (as in Flink), and downstream operators keep their restored watermarks.
    fn snapshot_state(&mut self) -> spate_runtime::Result<Vec<S>> {
        self.inner.snapshot_state()
    }

    fn add_split(&mut self, split: S) -> spate_runtime::Result<()> {
        self.split = Some((self.strategy.generator)());
        self.splits_started += 1;
        self.inner.add_split(split)
    }

    fn poll_next(&mut self, out: &mut dyn Collector<T>) -> spate_runtime::Result<ReadStatus> {
        // Without an event channel: timestamps only.
        let assigner = self.strategy.assigner.clone();
        let mut stamp = |r: T| {
            let ts = match &assigner {
                Some(f) => f(&r, current_timestamp_raw()),
                None => current_timestamp_raw(),
            };
            set_current_timestamp(ts);
            out.collect(r);
        };
        let mut adapter = FnCollector(&mut stamp);
        self.inner.poll_next(&mut adapter)
    }

    fn poll_next_with_events(&mut self, out: &mut dyn SourceOutput<T>) -> spate_runtime::Result<ReadStatus> {
        let (status, records) = {
            let mut stamping = Stamping {
                out: &mut *out,
                assigner: self.strategy.assigner.as_ref(),
                generator: self.split.as_mut(),
                output: &mut self.output,
                emitted: &mut self.emitted,
                idle: &mut self.idle,
                on_every_event: self.strategy.on_every_event,
                records: 0,
            };
            let status = self.inner.poll_next(&mut stamping)?;
            (status, stamping.records)
        };
        let now = spate_runtime::time::now_ms();
        if records > 0 {
            self.last_record = now;
        }
        if now - self.last_periodic >= self.interval_ms {
            self.last_periodic = now;
            if let Some(g) = self.split.as_mut() {
                g.on_periodic_emit(&mut self.output);
            }
        }
        flush_pending(&mut self.output, &mut self.emitted, &mut self.idle, out);
        if let Some(timeout) = self.strategy.idleness {
            if !self.idle && records == 0 && now - self.last_record >= timeout.as_millis() as i64 {
                self.idle = true;
                out.emit_event(StreamEvent::Idle);
            }
        }
        if matches!(status, ReadStatus::NeedSplit | ReadStatus::End) {
            // The split is finished: its generator no longer holds the watermark back.
            self.split = None;
        }
        Ok(status)
    }
}

struct FnCollector<'a, F>(&'a mut F);

impl<T, F: FnMut(T)> Collector<T> for FnCollector<'_, F> {
    fn collect(&mut self, record: T) {
        (self.0)(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_out_of_orderness_is_max_minus_bound_minus_one() {
        let mut g = BoundedOutOfOrderness::new(Duration::from_millis(200));
        let mut out = WatermarkOutput::default();
        g.on_event(1000, &mut out);
        g.on_event(700, &mut out);
        assert_eq!(out.pending, None, "no watermark on events");
        g.on_periodic_emit(&mut out);
        assert_eq!(out.pending, Some(799));
        let mut fresh = WatermarkOutput::default();
        BoundedOutOfOrderness::new(Duration::from_millis(5)).on_periodic_emit(&mut fresh);
        assert!(
            fresh.pending.unwrap() < -1_000_000_000_000,
            "no events: far in the past"
        );
    }
}
