//! The sending half of one connection: an unbounded queue of frames drained by a writer thread.

use super::frame::{encode_head, Frame};
use super::plane::Counters;
use crossbeam_channel::{Receiver, Sender};
use std::io::{self, IoSlice, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Bytes buffered before the writer writes them out even though more frames are queued.
const BUFFER_LEN: usize = 64 * 1024;
/// Payloads up to this size are copied into the buffer; larger ones are written from the
/// caller's memory, together with the buffered bytes in one vectored write.
const INLINE_PAYLOAD: usize = 16 * 1024;

enum Out {
    Frame(Frame),
    Close,
}

/// Queues frames for a connection's writer thread, and closes the connection.
pub(crate) struct Link {
    /// Unique within the data plane.
    pub(crate) id: u64,
    pub(crate) peer: SocketAddr,
    tx: Sender<Out>,
    /// A handle on the socket, to shut it down (which also wakes the connection's reader).
    stream: TcpStream,
    closed: AtomicBool,
}

impl Link {
    /// Starts the writer thread of `stream`.
    pub(crate) fn start(
        stream: &TcpStream,
        id: u64,
        peer: SocketAddr,
        counters: Arc<Counters>,
    ) -> io::Result<Arc<Link>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = stream.try_clone()?;
        let link = Arc::new(Link {
            id,
            peer,
            tx,
            stream: stream.try_clone()?,
            closed: AtomicBool::new(false),
        });
        spate_common::task::spawn_named(format!("spate-net-write-{peer}"), move || {
            if let Err(e) = run_writer(&writer, &rx, &counters) {
                tracing::debug!(peer = %peer, error = %e, "data connection: write failed");
            }
            // Wakes the reader, which reports the failure.
            let _ = writer.shutdown(Shutdown::Both);
        })?;
        Ok(link)
    }

    /// Queues a frame; false if the connection is closed.
    pub(crate) fn send(&self, frame: Frame) -> bool {
        !self.is_closed() && self.tx.send(Out::Frame(frame)).is_ok()
    }

    /// Closes the connection now (queued frames are dropped); idempotent.
    pub(crate) fn close(&self) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            let _ = self.stream.shutdown(Shutdown::Both);
            let _ = self.tx.send(Out::Close);
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

/// Writes queued frames until `Close` or an error, flushing whenever the queue is empty.
fn run_writer(stream: &TcpStream, rx: &Receiver<Out>, counters: &Counters) -> io::Result<()> {
    let mut w = FrameWriter::new(stream);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(out) = next {
            match out {
                Out::Frame(frame) => {
                    // Counted first, so the peer never counts a frame this side has not.
                    counters.sent(frame.wire_len());
                    w.write(&frame)?;
                }
                Out::Close => return Ok(()),
            }
            next = rx.try_recv().ok();
        }
        w.flush()?;
    }
    Ok(())
}

/// A `BufWriter` for frames that does not copy large payloads: they go out in one vectored
/// write with whatever is buffered before them (their header at least), so a header never
/// leaves as a packet of its own.
struct FrameWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> FrameWriter<W> {
    fn new(inner: W) -> Self {
        FrameWriter {
            inner,
            buf: Vec::with_capacity(BUFFER_LEN + INLINE_PAYLOAD + 64),
        }
    }

    fn write(&mut self, frame: &Frame) -> io::Result<()> {
        encode_head(frame, &mut self.buf);
        if let Frame::Data { payload, .. } = frame {
            if payload.len() > INLINE_PAYLOAD {
                write_all_vectored(&mut self.inner, &self.buf, payload)?;
                self.buf.clear();
                return Ok(());
            }
            self.buf.extend_from_slice(payload);
        }
        if self.buf.len() >= BUFFER_LEN {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.inner.flush()
    }
}

fn write_all_vectored<W: Write>(w: &mut W, a: &[u8], b: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(a), IoSlice::new(b)];
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match w.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::buffers::BufferPool;
    use super::super::frame::{read_frame, ChannelKey, FrameKind};
    use super::*;
    use bytes::Bytes;

    /// A writer that takes at most 7 bytes per call, to exercise partial vectored writes.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn small_and_large_frames_come_out_in_order() {
        let key = ChannelKey {
            job: 1,
            attempt: 0,
            vertex: 2,
            subtask: 3,
        };
        let frames = vec![
            Frame::Open { key, slot: 0 },
            Frame::Data {
                key,
                slot: 0,
                kind: FrameKind::Records,
                payload: Bytes::from(vec![1u8; 100]),
            },
            Frame::Data {
                key,
                slot: 0,
                kind: FrameKind::Records,
                payload: Bytes::from((0..100_000u32).map(|i| i as u8).collect::<Vec<_>>()),
            },
            Frame::Credit { key, slot: 1, n: 4 },
        ];
        let mut w = FrameWriter::new(Trickle(Vec::new()));
        for f in &frames {
            w.write(f).unwrap();
        }
        w.flush().unwrap();
        let bytes = w.inner.0;
        let mut r = &bytes[..];
        for f in &frames {
            assert_eq!(read_frame(&mut r, &BufferPool::new()).unwrap().as_ref(), Some(f));
        }
        assert!(r.is_empty());
    }
}
