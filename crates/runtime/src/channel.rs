//! Channels carry batches of records from producer subtasks to one consumer subtask.
//!
//! A consumer subtask has one channel, shared by every producer subtask of every input edge
//! (a union is several edges into one channel). Two kinds:
//! - **pipelined** (streaming): a bounded queue of batches. A producer whose batch does not fit
//!   waits, which is how backpressure travels upstream. Each producer ends with [`Envelope::End`];
//!   the consumer ends after it counted one from every producer.
//! - **blocking** (batch): a [`BlockingPartition`] that accepts everything, keeps serialized batches
//!   in memory up to a budget and spills the rest to a temporary file. It is read only after every
//!   producer finished (the scheduler guarantees it), so it needs no end markers.

use crate::context::JobControl;
use crate::error::{Error, Result};
use crate::remote::{encode_batch, encode_event, FrameKind, RemoteLink};
use crate::time::{StreamEvent, MAX_WATERMARK, NO_TIMESTAMP};
use crate::Data;
use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, TrySendError};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a blocked sender or receiver looks at the cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(50);
/// Largest serialized batch accepted when reading a spill file back (guards against corruption).
const MAX_FRAME: usize = 1 << 30;

/// A batch of records with their event timestamps (`timestamps` is empty when no record has
/// one, else as long as `records`).
#[derive(Debug, Default)]
pub struct Batch<T> {
    /// The records.
    pub records: Vec<T>,
    /// Their timestamps, or empty.
    pub timestamps: Vec<i64>,
}

impl<T> Batch<T> {
    /// An empty batch with room for `n` records.
    pub fn with_capacity(n: usize) -> Self {
        Batch {
            records: Vec::with_capacity(n),
            timestamps: Vec::new(),
        }
    }

    /// Appends a record with its timestamp ([`NO_TIMESTAMP`] for none).
    #[inline]
    pub fn push(&mut self, record: T, ts: i64) {
        if ts != NO_TIMESTAMP || !self.timestamps.is_empty() {
            if self.timestamps.is_empty() {
                self.timestamps.reserve(self.records.capacity());
            }
            self.timestamps.resize(self.records.len(), NO_TIMESTAMP);
            self.timestamps.push(ts);
        }
        self.records.push(record);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// What travels through a pipelined channel. `producer` is the sender's slot in the channel
/// (`0..producers`).
#[derive(Debug)]
pub enum Envelope<T> {
    /// A batch of records.
    Records { producer: u32, batch: Batch<T> },
    /// A watermark or idleness of one producer.
    Event { producer: u32, event: StreamEvent },
    /// One producer has no more records (its watermark is now the maximum).
    End { producer: u32 },
}

/// The producer side.
pub enum ChannelTx<T> {
    /// Bounded queue.
    Pipelined(Sender<Envelope<T>>),
    /// Blocking partition.
    Blocking(Arc<BlockingPartition<T>>),
    /// A channel in another process (either kind), reached through the network.
    Remote(Arc<dyn RemoteLink>),
}

impl<T> Clone for ChannelTx<T> {
    fn clone(&self) -> Self {
        match self {
            ChannelTx::Pipelined(s) => ChannelTx::Pipelined(s.clone()),
            ChannelTx::Blocking(p) => ChannelTx::Blocking(p.clone()),
            ChannelTx::Remote(l) => ChannelTx::Remote(l.clone()),
        }
    }
}

/// Returned when the job was cancelled while waiting.
#[derive(Debug, PartialEq, Eq)]
pub struct WasCancelled;

impl<T: Data> ChannelTx<T> {
    /// Sends a batch, waiting while the channel is full (backpressure).
    pub fn send(
        &self,
        producer: u32,
        batch: Batch<T>,
        control: &JobControl,
    ) -> std::result::Result<Result<()>, WasCancelled> {
        match self {
            ChannelTx::Pipelined(tx) => {
                send_pipelined(tx, Envelope::Records { producer, batch }, control).map(Ok)
            }
            ChannelTx::Blocking(p) => Ok(p.write(producer, &batch)),
            ChannelTx::Remote(link) => match encode_batch(&batch) {
                Ok(bytes) => link.send(producer, FrameKind::Records, bytes, control),
                Err(e) => Ok(Err(e)),
            },
        }
    }

    /// Sends a watermark or idleness (blocking partitions need none: they are read after the end).
    pub fn event(
        &self,
        producer: u32,
        event: StreamEvent,
        control: &JobControl,
    ) -> std::result::Result<(), WasCancelled> {
        match self {
            ChannelTx::Pipelined(tx) => send_pipelined(tx, Envelope::Event { producer, event }, control),
            ChannelTx::Blocking(_) => Ok(()),
            ChannelTx::Remote(link) => match encode_event(event) {
                // An encoding failure of a plain enum cannot happen; the event is dropped if it does.
                Ok(bytes) => link.send(producer, FrameKind::Event, bytes, control).map(|_| ()),
                Err(_) => Ok(()),
            },
        }
    }

    /// A producer runs again (batch failover): a blocking partition forgets what that producer
    /// wrote before. Pipelined channels need nothing (a streaming job restarts whole).
    pub fn reset(&self, producer: u32, control: &JobControl) -> std::result::Result<(), WasCancelled> {
        match self {
            ChannelTx::Pipelined(_) => Ok(()),
            ChannelTx::Blocking(p) => {
                p.reset(producer);
                Ok(())
            }
            ChannelTx::Remote(link) => link
                .send(producer, FrameKind::Reset, Vec::new(), control)
                .map(|_| ()),
        }
    }

    /// The consumer finished for good: a blocking partition frees what it holds.
    pub fn release(&self) {
        if let ChannelTx::Blocking(p) = self {
            p.clear();
        }
    }

    /// Tells the consumer this producer is done.
    pub fn end(&self, producer: u32, control: &JobControl) -> std::result::Result<(), WasCancelled> {
        match self {
            ChannelTx::Pipelined(tx) => send_pipelined(tx, Envelope::End { producer }, control),
            ChannelTx::Blocking(_) => Ok(()),
            // The end waits until the consumer's process holds every frame: a batch consumer is
            // scheduled as soon as its producers ended, and must find its partition complete.
            ChannelTx::Remote(link) => match link.send(producer, FrameKind::End, Vec::new(), control)? {
                Ok(()) => link.finish(producer, control).map(|_| ()),
                Err(_) => Err(WasCancelled),
            },
        }
    }
}

fn send_pipelined<T>(
    tx: &Sender<Envelope<T>>,
    mut msg: Envelope<T>,
    control: &JobControl,
) -> std::result::Result<(), WasCancelled> {
    match tx.try_send(msg) {
        Ok(()) => return Ok(()),
        Err(TrySendError::Disconnected(_)) => return Err(WasCancelled),
        Err(TrySendError::Full(m)) => msg = m,
    }
    let waiting = std::time::Instant::now();
    let sent = loop {
        if control.is_cancelled() {
            break Err(WasCancelled);
        }
        match tx.send_timeout(msg, CANCEL_POLL) {
            Ok(()) => break Ok(()),
            Err(SendTimeoutError::Timeout(m)) => msg = m,
            Err(SendTimeoutError::Disconnected(_)) => break Err(WasCancelled),
        }
    };
    crate::remote::TaskIo::backpressured_since(waiting);
    sent
}

/// The consumer side.
pub enum ChannelRx<T> {
    /// Bounded queue with the number of producer slots.
    Pipelined {
        rx: Receiver<Envelope<T>>,
        producers: u32,
    },
    /// Blocking partition.
    Blocking(Arc<BlockingPartition<T>>),
}

/// Creates a pipelined channel holding at most `capacity` envelopes.
pub fn pipelined<T>(capacity: usize, producers: u32) -> (ChannelTx<T>, ChannelRx<T>) {
    let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
    (ChannelTx::Pipelined(tx), ChannelRx::Pipelined { rx, producers })
}

/// Creates a blocking partition.
pub fn blocking<T: Data>(memory_budget: u64, spill_dir: PathBuf) -> (ChannelTx<T>, ChannelRx<T>) {
    let p = Arc::new(BlockingPartition::new(memory_budget, spill_dir));
    (ChannelTx::Blocking(p.clone()), ChannelRx::Blocking(p))
}

/// What the consumer's input loop is handed.
#[derive(Debug)]
pub enum Received<T> {
    /// A batch of records.
    Batch(Batch<T>),
    /// The combined watermark of all producers advanced, or all producers became idle.
    Event(StreamEvent),
    /// The channel is empty (called again every poll interval while it stays empty): a moment to
    /// flush and to look at the clock.
    Dry,
}

/// The watermark of a channel: the minimum over its producers' watermarks, ignoring idle
/// producers; an ended producer counts as [`MAX_WATERMARK`].
#[derive(Debug)]
pub struct WatermarkGauge {
    marks: Vec<i64>,
    idle: Vec<bool>,
    emitted: i64,
    all_idle_emitted: bool,
}

impl WatermarkGauge {
    /// A gauge over `producers` producers.
    pub fn new(producers: u32) -> Self {
        WatermarkGauge {
            marks: vec![i64::MIN; producers as usize],
            idle: vec![false; producers as usize],
            emitted: i64::MIN,
            all_idle_emitted: false,
        }
    }

    /// A producer sent a record: it is active again.
    pub fn activity(&mut self, producer: u32) {
        if let Some(i) = self.idle.get_mut(producer as usize) {
            *i = false;
        }
    }

    /// Applies an event of one producer; returns the event to pass downstream, if any.
    pub fn update(&mut self, producer: u32, event: StreamEvent) -> Option<StreamEvent> {
        let p = producer as usize;
        if p >= self.marks.len() {
            return None;
        }
        match event {
            StreamEvent::Watermark(w) => {
                self.idle[p] = false;
                self.marks[p] = self.marks[p].max(w);
            }
            StreamEvent::Idle => self.idle[p] = true,
            StreamEvent::Barrier(_) => return None,
        }
        self.combined()
    }

    fn combined(&mut self) -> Option<StreamEvent> {
        let active = self
            .marks
            .iter()
            .zip(&self.idle)
            .filter(|(m, idle)| !**idle || **m == MAX_WATERMARK);
        match active.map(|(m, _)| *m).min() {
            None => {
                if self.all_idle_emitted {
                    None
                } else {
                    self.all_idle_emitted = true;
                    Some(StreamEvent::Idle)
                }
            }
            Some(min) => {
                self.all_idle_emitted = false;
                if min > self.emitted {
                    self.emitted = min;
                    Some(StreamEvent::Watermark(min))
                } else {
                    None
                }
            }
        }
    }
}

impl<T: Data> ChannelRx<T> {
    /// Feeds everything to `on`, until all producers ended, aligning checkpoint barriers
    /// (exactly-once). Blocking partitions end with a [`MAX_WATERMARK`] event. Returns
    /// `Err(WasCancelled)` inside `Ok` if the job was cancelled.
    pub fn drain(
        self,
        control: &JobControl,
        on: impl FnMut(Received<T>),
    ) -> Result<std::result::Result<(), WasCancelled>> {
        self.drain_with(control, false, on)
    }

    /// [`drain`](Self::drain); with `at_least_once`, barriers are not aligned (a producer whose
    /// barrier arrived is not held back).
    pub fn drain_with(
        self,
        control: &JobControl,
        at_least_once: bool,
        mut on: impl FnMut(Received<T>),
    ) -> Result<std::result::Result<(), WasCancelled>> {
        match self {
            ChannelRx::Pipelined { rx, producers } => {
                let mut gauge = WatermarkGauge::new(producers);
                let mut align = Aligner::new(producers, at_least_once);
                let mut ended = 0;
                while ended < producers {
                    let msg = match align.replay.pop_front() {
                        Some(m) => m,
                        None => match rx.try_recv() {
                            Ok(m) => m,
                            Err(_) => loop {
                                on(Received::Dry);
                                if control.is_cancelled() {
                                    return Ok(Err(WasCancelled));
                                }
                                let waiting = std::time::Instant::now();
                                let got = rx.recv_timeout(CANCEL_POLL);
                                crate::remote::TaskIo::idle_since(waiting);
                                match got {
                                    Ok(m) => break m,
                                    Err(RecvTimeoutError::Timeout) => continue,
                                    Err(RecvTimeoutError::Disconnected) => {
                                        return Err(Error::Internal(
                                            "every producer vanished without ending".into(),
                                        ))
                                    }
                                }
                            },
                        },
                    };
                    let Some(msg) = align.admit(msg) else { continue };
                    match msg {
                        Envelope::Records { producer, batch } => {
                            gauge.activity(producer);
                            on(Received::Batch(batch));
                        }
                        Envelope::Event {
                            producer,
                            event: StreamEvent::Barrier(id),
                        } => {
                            if let Some(done) = align.barrier(producer, id) {
                                on(Received::Event(StreamEvent::Barrier(done)));
                            }
                        }
                        Envelope::Event { producer, event } => {
                            if let Some(e) = gauge.update(producer, event) {
                                on(Received::Event(e));
                            }
                        }
                        Envelope::End { producer } => {
                            ended += 1;
                            if let Some(e) = gauge.update(producer, StreamEvent::Watermark(MAX_WATERMARK)) {
                                on(Received::Event(e));
                            }
                            if let Some(done) = align.ended(producer) {
                                on(Received::Event(StreamEvent::Barrier(done)));
                            }
                        }
                    }
                }
                Ok(Ok(()))
            }
            ChannelRx::Blocking(p) => {
                let r = p.read(|batch| {
                    if control.is_cancelled() {
                        return Err(WasCancelled);
                    }
                    on(Received::Batch(batch));
                    Ok(())
                })?;
                if r.is_ok() {
                    on(Received::Event(StreamEvent::Watermark(MAX_WATERMARK)));
                }
                Ok(r)
            }
        }
    }
}

fn producer_of<T>(m: &Envelope<T>) -> u32 {
    match m {
        Envelope::Records { producer, .. }
        | Envelope::Event { producer, .. }
        | Envelope::End { producer } => *producer,
    }
}

/// Barrier alignment of one channel (Flink's aligned checkpoints). When the barrier of
/// checkpoint `n` arrived from a producer, that producer is held back: what it sends next is
/// buffered until the barrier arrived from every producer (an ended producer counts as
/// arrived). Then the barrier is passed on once, and the buffered envelopes are replayed in
/// their order. A newer barrier before the alignment completed abandons the older checkpoint.
struct Aligner<T> {
    at_least_once: bool,
    current: Option<u64>,
    last_done: u64,
    arrived: Vec<bool>,
    ended: Vec<bool>,
    held: VecDeque<Envelope<T>>,
    replay: VecDeque<Envelope<T>>,
}

impl<T> Aligner<T> {
    fn new(producers: u32, at_least_once: bool) -> Self {
        Aligner {
            at_least_once,
            current: None,
            last_done: 0,
            arrived: vec![false; producers as usize],
            ended: vec![false; producers as usize],
            held: VecDeque::new(),
            replay: VecDeque::new(),
        }
    }

    /// The envelope to process now, or `None` if its producer is held back (buffered).
    fn admit(&mut self, m: Envelope<T>) -> Option<Envelope<T>> {
        let p = producer_of(&m) as usize;
        let held =
            !self.at_least_once && self.current.is_some() && self.arrived.get(p).copied().unwrap_or(false);
        if held {
            self.held.push_back(m);
            None
        } else {
            Some(m)
        }
    }

    /// The barrier of checkpoint `id` arrived from producer `p`; returns the checkpoint whose
    /// alignment completed, if any.
    fn barrier(&mut self, p: u32, id: u64) -> Option<u64> {
        let p = p as usize;
        if p >= self.arrived.len() || id <= self.last_done {
            return None;
        }
        match self.current {
            Some(c) if id < c => return None,
            Some(c) if id > c => self.release(),
            _ => {}
        }
        self.current = Some(id);
        self.arrived[p] = true;
        self.check()
    }

    /// Producer `p` ended; it no longer holds back an alignment.
    fn ended(&mut self, p: u32) -> Option<u64> {
        if let Some(e) = self.ended.get_mut(p as usize) {
            *e = true;
        }
        self.check()
    }

    fn check(&mut self) -> Option<u64> {
        let id = self.current?;
        let complete = self.arrived.iter().zip(&self.ended).all(|(a, e)| *a || *e);
        if !complete {
            return None;
        }
        self.last_done = id;
        self.release();
        Some(id)
    }

    /// Ends the alignment: held envelopes go first in the replay queue (they were received
    /// before anything still in it).
    fn release(&mut self) {
        self.current = None;
        self.arrived.iter_mut().for_each(|a| *a = false);
        let mut held = std::mem::take(&mut self.held);
        held.extend(self.replay.drain(..));
        self.replay = held;
    }
}

/// A blocking (batch) partition: the complete output of all producers for one consumer subtask.
pub struct BlockingPartition<T> {
    inner: Mutex<Stored>,
    budget: u64,
    spill_dir: PathBuf,
    _type: PhantomData<fn(T) -> T>,
}

/// Batches are kept with the producer slot and that producer's generation (bumped by a reset),
/// so that a producer that runs again voids what its earlier run wrote.
#[derive(Default)]
struct Stored {
    memory: Vec<(u32, u32, Vec<u8>)>,
    memory_bytes: u64,
    spill: Option<BufWriter<File>>,
    spilled_bytes: u64,
    generations: std::collections::HashMap<u32, u32>,
}

impl Stored {
    fn generation(&self, slot: u32) -> u32 {
        self.generations.get(&slot).copied().unwrap_or(0)
    }
}

impl<T: Data> BlockingPartition<T> {
    /// A partition that keeps `budget` serialized bytes in memory and spills the rest to `spill_dir`.
    pub fn new(budget: u64, spill_dir: PathBuf) -> Self {
        BlockingPartition {
            inner: Mutex::new(Stored::default()),
            budget,
            spill_dir,
            _type: PhantomData,
        }
    }

    /// Appends a batch of producer `slot`.
    pub fn write(&self, slot: u32, batch: &Batch<T>) -> Result<()> {
        let bytes = postcard::to_allocvec(&(&batch.records, &batch.timestamps))
            .map_err(|e| Error::Codec(format!("cannot encode a batch: {e}")))?;
        let mut s = self
            .inner
            .lock()
            // A reader's operator may panic while the lock is held (and run again): the data
            // stays consistent, so a poisoned lock is taken as is.
            .unwrap_or_else(|p| p.into_inner());
        let generation = s.generation(slot);
        if s.spill.is_none() && s.memory_bytes + bytes.len() as u64 <= self.budget {
            s.memory_bytes += bytes.len() as u64;
            s.memory.push((slot, generation, bytes));
            return Ok(());
        }
        if s.spill.is_none() {
            let f = tempfile::tempfile_in(&self.spill_dir).map_err(|e| {
                Error::io(
                    format!("cannot create a spill file in {}", self.spill_dir.display()),
                    e,
                )
            })?;
            s.spill = Some(BufWriter::with_capacity(1 << 16, f));
        }
        s.spilled_bytes += 12 + bytes.len() as u64;
        let len = u32::try_from(bytes.len()).map_err(|_| Error::Codec("batch larger than 4 GiB".into()))?;
        if let Some(w) = s.spill.as_mut() {
            w.write_all(&len.to_le_bytes())
                .and_then(|_| w.write_all(&slot.to_le_bytes()))
                .and_then(|_| w.write_all(&generation.to_le_bytes()))
                .and_then(|_| w.write_all(&bytes))
                .map_err(|e| Error::io("cannot write spill file", e))?;
        }
        Ok(())
    }

    /// Producer `slot` runs again: everything it wrote so far is void.
    pub fn reset(&self, slot: u32) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *s.generations.entry(slot).or_insert(0) += 1;
        let before = s.memory.len();
        s.memory.retain(|(p, _, _)| *p != slot);
        if s.memory.len() != before {
            s.memory_bytes = s.memory.iter().map(|(_, _, b)| b.len() as u64).sum();
        }
    }

    /// Frees everything (the consumer finished: its input is no longer needed).
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Stored::default();
    }

    /// Bytes spilled to disk so far.
    pub fn spilled_bytes(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).spilled_bytes
    }

    /// Reads every valid batch (memory first, then the spill file). The partition keeps its
    /// contents, so that a consumer that fails can read it again; [`Self::clear`] frees them.
    pub fn read<E>(
        &self,
        mut f: impl FnMut(Batch<T>) -> std::result::Result<(), E>,
    ) -> Result<std::result::Result<(), E>> {
        // Consumers read after every producer finished: holding the lock costs nobody.
        let mut s = self
            .inner
            .lock()
            // A reader's operator may panic while the lock is held (and run again): the data
            // stays consistent, so a poisoned lock is taken as is.
            .unwrap_or_else(|p| p.into_inner());
        for (slot, generation, bytes) in &s.memory {
            if *generation != s.generation(*slot) {
                continue;
            }
            if let Err(e) = f(decode(bytes)?) {
                return Ok(Err(e));
            }
        }
        let generations = s.generations.clone();
        if let Some(w) = s.spill.as_mut() {
            w.flush().map_err(|e| Error::io("cannot flush spill file", e))?;
            let mut r = BufReader::with_capacity(
                1 << 16,
                PositionalReader {
                    file: w.get_ref(),
                    pos: 0,
                },
            );
            let mut buf = Vec::new();
            let mut tag = [0u8; 8];
            loop {
                let mut len = [0u8; 4];
                match r.read_exact(&mut len) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(Error::io("cannot read spill file", e)),
                }
                r.read_exact(&mut tag)
                    .map_err(|e| Error::Codec(format!("truncated spill frame header: {e}")))?;
                let len = u32::from_le_bytes(len) as usize;
                if len > MAX_FRAME {
                    return Err(Error::Codec(format!(
                        "frame of {len} bytes exceeds the limit of {MAX_FRAME}"
                    )));
                }
                buf.resize(len, 0);
                r.read_exact(&mut buf)
                    .map_err(|e| Error::Codec(format!("truncated frame of {len} bytes: {e}")))?;
                let slot = u32::from_le_bytes([tag[0], tag[1], tag[2], tag[3]]);
                let generation = u32::from_le_bytes([tag[4], tag[5], tag[6], tag[7]]);
                if generation != generations.get(&slot).copied().unwrap_or(0) {
                    continue;
                }
                if let Err(e) = f(decode(&buf)?) {
                    return Ok(Err(e));
                }
            }
        }
        Ok(Ok(()))
    }
}

/// Reads a file from a position of its own (`pread`), leaving the file's offset to the writer.
struct PositionalReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for PositionalReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt as _;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Decodes one serialized batch.
pub fn decode<T: Data>(bytes: &[u8]) -> Result<Batch<T>> {
    let (records, timestamps): (Vec<T>, Vec<i64>) = postcard::from_bytes(bytes)
        .map_err(|e| Error::Codec(format!("corrupt batch of {} bytes: {e}", bytes.len())))?;
    if !timestamps.is_empty() && timestamps.len() != records.len() {
        return Err(Error::Codec(format!(
            "corrupt batch: {} timestamps for {} records",
            timestamps.len(),
            records.len()
        )));
    }
    Ok(Batch { records, timestamps })
}

/// Reads one length-prefixed frame; `None` at a clean end of input.
pub fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> Result<Option<()>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(Error::io("cannot read spill file", e)),
    }
    r.read_exact(&mut len[1..])
        .map_err(|e| Error::Codec(format!("truncated frame header: {e}")))?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(Error::Codec(format!(
            "frame of {len} bytes exceeds the limit of {MAX_FRAME}"
        )));
    }
    buf.resize(len, 0);
    r.read_exact(buf)
        .map_err(|e| Error::Codec(format!("truncated frame of {len} bytes: {e}")))?;
    Ok(Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch<T>(records: Vec<T>) -> Batch<T> {
        Batch {
            records,
            timestamps: Vec::new(),
        }
    }

    /// Runs `msgs` through a pipelined channel of `producers` and returns what the consumer saw:
    /// `r<value>` per record, `b<id>` per barrier passed on.
    fn aligned(producers: u32, at_least_once: bool, msgs: Vec<Envelope<u32>>) -> Vec<String> {
        let (tx, rx) = pipelined::<u32>(msgs.len() + 1, producers);
        let ChannelTx::Pipelined(s) = tx else {
            unreachable!()
        };
        for m in msgs {
            s.send(m).unwrap();
        }
        let mut seen = Vec::new();
        rx.drain_with(&JobControl::default(), at_least_once, |r| match r {
            Received::Batch(b) => seen.extend(b.records.iter().map(|r| format!("r{r}"))),
            Received::Event(StreamEvent::Barrier(id)) => seen.push(format!("b{id}")),
            _ => {}
        })
        .unwrap()
        .unwrap();
        seen
    }

    fn rec(producer: u32, r: u32) -> Envelope<u32> {
        Envelope::Records {
            producer,
            batch: batch(vec![r]),
        }
    }

    fn bar(producer: u32, id: u64) -> Envelope<u32> {
        Envelope::Event {
            producer,
            event: StreamEvent::Barrier(id),
        }
    }

    #[test]
    fn exactly_once_alignment_holds_back_a_producer_past_its_barrier() {
        let msgs = vec![
            rec(0, 1),
            bar(0, 1),
            rec(0, 2), // after producer 0's barrier: held until producer 1's barrier
            rec(1, 10),
            bar(1, 1),
            rec(1, 11),
            Envelope::End { producer: 0 },
            Envelope::End { producer: 1 },
        ];
        assert_eq!(aligned(2, false, msgs), ["r1", "r10", "b1", "r2", "r11"]);
    }

    #[test]
    fn at_least_once_passes_records_on_and_the_barrier_after_the_last() {
        let msgs = vec![
            rec(0, 1),
            bar(0, 1),
            rec(0, 2),
            rec(1, 10),
            bar(1, 1),
            Envelope::End { producer: 0 },
            Envelope::End { producer: 1 },
        ];
        assert_eq!(aligned(2, true, msgs), ["r1", "r2", "r10", "b1"]);
    }

    #[test]
    fn an_ended_producer_counts_as_aligned_and_a_newer_barrier_abandons_an_older_one() {
        let msgs = vec![
            Envelope::End { producer: 1 },
            bar(0, 1),
            rec(0, 5),
            Envelope::End { producer: 0 },
        ];
        assert_eq!(aligned(2, false, msgs), ["b1", "r5"]);
        // Producer 1 never sends barrier 1 (its checkpoint was aborted); barrier 2 from both
        // completes checkpoint 2, and producer 0's held records come through in order.
        let msgs = vec![
            bar(0, 1),
            rec(0, 1),
            bar(0, 2),
            rec(0, 2),
            rec(1, 10),
            bar(1, 2),
            Envelope::End { producer: 0 },
            Envelope::End { producer: 1 },
        ];
        assert_eq!(aligned(2, false, msgs), ["r10", "r1", "b2", "r2"]);
        // A stale barrier (older than the last completed one) is ignored.
        let msgs = vec![
            bar(0, 2),
            bar(1, 2),
            bar(0, 1),
            rec(0, 3),
            Envelope::End { producer: 0 },
            Envelope::End { producer: 1 },
        ];
        assert_eq!(aligned(2, false, msgs), ["b2", "r3"]);
    }

    #[test]
    fn blocking_partition_spills_past_its_budget_and_reads_everything_back_with_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let p: BlockingPartition<(String, u64)> = BlockingPartition::new(1024, dir.path().to_path_buf());
        let mut expected = Vec::new();
        for b in 0..50u64 {
            let mut batch = Batch::with_capacity(20);
            for i in 0..20 {
                let ts = if b % 2 == 0 {
                    NO_TIMESTAMP
                } else {
                    (b * 100 + i) as i64
                };
                batch.push((format!("k{b}-{i}"), b * 100 + i), ts);
                expected.push(((format!("k{b}-{i}"), b * 100 + i), ts));
            }
            p.write(0, &batch).unwrap();
        }
        assert!(p.spilled_bytes() > 0);
        let mut got = Vec::new();
        p.read(|b| {
            let ts = if b.timestamps.is_empty() {
                vec![NO_TIMESTAMP; b.len()]
            } else {
                b.timestamps
            };
            got.extend(b.records.into_iter().zip(ts));
            Ok::<_, ()>(())
        })
        .unwrap()
        .unwrap();
        assert_eq!(got, expected);
    }

    fn all_of(p: &BlockingPartition<u32>) -> Vec<u32> {
        let mut got = Vec::new();
        p.read(|b| {
            got.extend(b.records);
            Ok::<_, ()>(())
        })
        .unwrap()
        .unwrap();
        got.sort_unstable();
        got
    }

    #[test]
    fn a_reset_producer_voids_its_earlier_batches_in_memory_and_spilled_and_reads_repeat() {
        let dir = tempfile::tempdir().unwrap();
        // A tiny budget: most batches spill.
        let p: BlockingPartition<u32> = BlockingPartition::new(64, dir.path().to_path_buf());
        for i in 0..20 {
            p.write(i % 2, &batch(vec![i, i + 100])).unwrap();
        }
        assert!(p.spilled_bytes() > 0);
        // Producer 1 fails and runs again: its first run's batches disappear.
        p.reset(1);
        p.write(1, &batch(vec![1000])).unwrap();
        let mut expected: Vec<u32> = (0..20).step_by(2).flat_map(|i| [i, i + 100]).collect();
        expected.push(1000);
        expected.sort_unstable();
        assert_eq!(all_of(&p), expected);
        // A consumer that failed reads the same again.
        assert_eq!(all_of(&p), expected);
        p.clear();
        assert!(all_of(&p).is_empty());
    }

    fn records(rx: ChannelRx<u32>) -> (Vec<u32>, Vec<StreamEvent>) {
        let mut got = Vec::new();
        let mut events = Vec::new();
        rx.drain(&JobControl::default(), |r| match r {
            Received::Batch(b) => got.extend(b.records),
            Received::Event(e) => events.push(e),
            Received::Dry => {}
        })
        .unwrap()
        .unwrap();
        (got, events)
    }

    #[test]
    fn pipelined_channel_applies_backpressure_and_counts_ends() {
        let control = JobControl::default();
        let (tx, rx) = pipelined::<u32>(1, 2);
        tx.send(0, batch(vec![1]), &control).unwrap().unwrap();
        // The channel is full: a second send waits until cancelled.
        let control2 = Arc::new(JobControl::default());
        let c = control2.clone();
        let t2 = tx.clone();
        let h = spate_common::task::spawn_named("sender", move || t2.send(0, batch(vec![2]), &c).map(|_| ()))
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!h.is_finished());
        control2.cancel();
        assert_eq!(h.join().unwrap(), Err(WasCancelled));
        let consumer = spate_common::task::spawn_named("consumer", move || records(rx)).unwrap();
        tx.end(0, &control).unwrap();
        tx.end(1, &control).unwrap();
        let (got, events) = consumer.join().unwrap();
        assert_eq!(got, vec![1]);
        assert_eq!(events, [StreamEvent::Watermark(MAX_WATERMARK)]);
    }

    #[test]
    fn the_channel_watermark_is_the_minimum_over_active_producers() {
        let mut g = WatermarkGauge::new(3);
        assert_eq!(g.update(0, StreamEvent::Watermark(10)), None);
        assert_eq!(g.update(1, StreamEvent::Watermark(5)), None);
        assert_eq!(
            g.update(2, StreamEvent::Watermark(7)),
            Some(StreamEvent::Watermark(5))
        );
        assert_eq!(
            g.update(1, StreamEvent::Watermark(20)),
            Some(StreamEvent::Watermark(7))
        );
        // An idle producer stops holding the watermark back.
        assert_eq!(g.update(2, StreamEvent::Idle), Some(StreamEvent::Watermark(10)));
        // Watermarks never go back.
        assert_eq!(g.update(2, StreamEvent::Watermark(8)), None);
        assert_eq!(g.update(0, StreamEvent::Idle), None);
        assert_eq!(g.update(1, StreamEvent::Idle), None);
        assert_eq!(g.update(2, StreamEvent::Idle), Some(StreamEvent::Idle));
        assert_eq!(
            g.update(0, StreamEvent::Watermark(30)),
            Some(StreamEvent::Watermark(30))
        );
        // Unknown producers are ignored.
        assert_eq!(g.update(9, StreamEvent::Watermark(99)), None);
    }

    #[test]
    fn frames_reject_truncated_oversized_and_garbage_input() {
        let mut buf = Vec::new();
        assert!(read_frame(&mut &[][..], &mut buf).unwrap().is_none());
        assert!(read_frame(&mut &[1, 0][..], &mut buf).is_err());
        assert!(read_frame(&mut &[5, 0, 0, 0, 1, 2][..], &mut buf).is_err());
        assert!(read_frame(&mut &[0xff, 0xff, 0xff, 0xff][..], &mut buf).is_err());
        assert!(decode::<(String, u64)>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode::<String>(&[1, 3, b'a', 0xff, 0xfe]).is_err());
        // Two records but one timestamp.
        assert!(decode::<u8>(&[2, 1, 2, 1, 0]).is_err());
    }
}
