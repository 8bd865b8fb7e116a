//! Channels that cross a process boundary.
//!
//! The runtime does not know the network: a distributed runtime plugs in through two traits.
//! - On the producer side, [`RemoteLink`] is what a [`ChannelTx::Remote`](crate::channel::ChannelTx)
//!   sends serialized frames through (one link per consumer channel; the producer's slot travels
//!   with each frame). `send` blocks while the link has no credit for that slot: that is how
//!   backpressure crosses machines.
//! - On the consumer side, a [`RemoteInbox`] (built by the consumer's
//!   [`InputCode`](crate::code::InputCode), which knows the record type) decodes frames and puts
//!   them into the consumer's local channel.
//!
//! Frames: `Records` carries a postcard-encoded `(Vec<T>, Vec<i64>)` (records and timestamps, the
//! same encoding as blocking partitions), `Event` a postcard-encoded [`StreamEvent`], `End` nothing.

use crate::channel::{Batch, ChannelTx, Envelope, WasCancelled};
use crate::context::JobControl;
use crate::error::{Error, Result};
use crate::time::StreamEvent;
use crate::Data;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A batch of records.
    Records,
    /// A watermark or idleness.
    Event,
    /// The producer ended.
    End,
    /// The producer runs again (batch failover): what it sent before is void.
    Reset,
}

/// The producer side of a channel in another process.
pub trait RemoteLink: Send + Sync {
    /// Sends a frame from producer `slot`, waiting for credit. `Err(WasCancelled)` if the job was
    /// cancelled while waiting; `Ok(Err(_))` if the connection broke.
    fn send(
        &self,
        slot: u32,
        kind: FrameKind,
        payload: Vec<u8>,
        control: &JobControl,
    ) -> std::result::Result<Result<()>, WasCancelled>;
    /// Waits until every frame `slot` sent was delivered to the consumer's channel.
    fn finish(&self, slot: u32, control: &JobControl) -> std::result::Result<Result<()>, WasCancelled>;
}

/// The consumer side: puts decoded frames into the local channel.
pub trait RemoteInbox: Send + Sync {
    /// Delivers one frame of producer `slot` (may block while the consumer's channel is full).
    fn deliver(&self, slot: u32, kind: FrameKind, payload: &[u8]) -> Result<()>;
}

/// Time a task spent waiting and bytes it moved over the network, for the per-second
/// busy/idle/backpressured metrics. Shared by the task thread and the metrics reporter.
#[derive(Debug, Default)]
pub struct TaskIo {
    /// Nanoseconds waiting for input.
    pub idle_ns: AtomicU64,
    /// Nanoseconds waiting for room (a full channel or no credit).
    pub backpressured_ns: AtomicU64,
    /// Serialized bytes received from other processes.
    pub bytes_in: AtomicU64,
    /// Serialized bytes sent to other processes.
    pub bytes_out: AtomicU64,
}

impl TaskIo {
    /// Adds the time since `start` to a counter.
    pub fn add_since(counter: &AtomicU64, start: Instant) {
        counter.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    /// Makes `io` the counters of the task running on this thread.
    pub fn enter(io: Arc<TaskIo>) {
        CURRENT_IO.with(|c| *c.borrow_mut() = Some(io));
    }

    /// Runs `f` on the counters of the task running on this thread, if any.
    pub fn with_current(f: impl FnOnce(&TaskIo)) {
        CURRENT_IO.with(|c| {
            if let Some(io) = c.borrow().as_deref() {
                f(io)
            }
        });
    }

    /// Adds the time since `start` to this thread's task as backpressured time.
    pub fn backpressured_since(start: Instant) {
        Self::with_current(|io| Self::add_since(&io.backpressured_ns, start));
    }

    /// Adds the time since `start` to this thread's task as idle time.
    pub fn idle_since(start: Instant) {
        Self::with_current(|io| Self::add_since(&io.idle_ns, start));
    }
}

thread_local! {
    static CURRENT_IO: std::cell::RefCell<Option<Arc<TaskIo>>> = const { std::cell::RefCell::new(None) };
}

/// Encodes a batch as a `Records` payload.
pub fn encode_batch<T: Data>(batch: &Batch<T>) -> Result<Vec<u8>> {
    postcard::to_allocvec(&(&batch.records, &batch.timestamps))
        .map_err(|e| Error::Codec(format!("cannot encode a batch: {e}")))
}

/// Decodes a `Records` payload.
pub fn decode_batch<T: Data>(payload: &[u8]) -> Result<Batch<T>> {
    let (records, timestamps): (Vec<T>, Vec<i64>) = postcard::from_bytes(payload)
        .map_err(|e| Error::Codec(format!("cannot decode a batch from the network: {e}")))?;
    if !timestamps.is_empty() && timestamps.len() != records.len() {
        return Err(Error::Codec("batch with a wrong number of timestamps".into()));
    }
    Ok(Batch { records, timestamps })
}

/// Encodes an `Event` payload.
pub fn encode_event(event: StreamEvent) -> Result<Vec<u8>> {
    postcard::to_allocvec(&event).map_err(|e| Error::Codec(format!("cannot encode an event: {e}")))
}

/// Decodes an `Event` payload.
pub fn decode_event(payload: &[u8]) -> Result<StreamEvent> {
    postcard::from_bytes(payload).map_err(|e| Error::Codec(format!("cannot decode an event: {e}")))
}

/// Delivers remote frames into a local channel of records of type `T`.
pub struct ChannelInbox<T> {
    tx: ChannelTx<T>,
    control: Arc<JobControl>,
    _t: PhantomData<fn(T) -> T>,
}

impl<T: Data> ChannelInbox<T> {
    /// An inbox writing into `tx`; waits are abandoned when `control` is cancelled.
    pub fn new(tx: ChannelTx<T>, control: Arc<JobControl>) -> Self {
        ChannelInbox {
            tx,
            control,
            _t: PhantomData,
        }
    }
}

impl<T: Data> RemoteInbox for ChannelInbox<T> {
    fn deliver(&self, slot: u32, kind: FrameKind, payload: &[u8]) -> Result<()> {
        let sent = match kind {
            FrameKind::Records => {
                let batch = decode_batch::<T>(payload)?;
                match self.tx.send(slot, batch, &self.control) {
                    Ok(r) => return r,
                    Err(WasCancelled) => Ok(()),
                }
            }
            FrameKind::Event => self.tx.event(slot, decode_event(payload)?, &self.control),
            FrameKind::End => self.tx.end(slot, &self.control),
            FrameKind::Reset => self.tx.reset(slot, &self.control),
        };
        // A cancelled job drops what is still in flight.
        let _ = sent;
        Ok(())
    }
}

/// Builds the envelope a remote frame stands for (used by tests and by local loopback).
pub fn envelope_of<T: Data>(slot: u32, kind: FrameKind, payload: &[u8]) -> Result<Envelope<T>> {
    Ok(match kind {
        FrameKind::Records => Envelope::Records {
            producer: slot,
            batch: decode_batch(payload)?,
        },
        FrameKind::Event => Envelope::Event {
            producer: slot,
            event: decode_event(payload)?,
        },
        FrameKind::End | FrameKind::Reset => Envelope::End { producer: slot },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip() {
        let mut b = Batch::with_capacity(2);
        b.push("a".to_string(), 5);
        b.push("b".to_string(), 7);
        let bytes = encode_batch(&b).unwrap();
        let back: Batch<String> = decode_batch(&bytes).unwrap();
        assert_eq!(back.records, vec!["a", "b"]);
        assert_eq!(back.timestamps, vec![5, 7]);
    }

    #[test]
    fn truncated_and_garbage_payloads_are_errors() {
        let mut b = Batch::with_capacity(2);
        b.push(123_456u64, 1);
        let bytes = encode_batch(&b).unwrap();
        assert!(decode_batch::<u64>(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_batch::<String>(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(decode_event(&[9, 9, 9]).is_err());
        // An oversized length prefix must not allocate or panic.
        assert!(decode_batch::<u8>(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }
}
