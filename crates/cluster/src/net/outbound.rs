//! The sending side: one connection per peer data plane, the credit state of each producer slot
//! on it, and [`RemoteSender`].

use super::buffers::BufferPool;
use super::frame::{read_frame, ChannelKey, Frame, FrameKind, MAX_PAYLOAD};
use super::link::Link;
use super::plane::Shared;
use super::{handshake, lock, NetError, SendError};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often a sender waiting for credit or delivery asks `cancelled()`.
const CANCEL_POLL: Duration = Duration::from_millis(50);
/// Longest wait for the TCP connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Read buffer of a connection (it only carries CREDIT frames back).
const READ_BUFFER: usize = 8 * 1024;

/// A connection to a peer's data plane, on which this process sends.
pub(crate) struct Outbound {
    pub(crate) link: Arc<Link>,
    table: Mutex<Table>,
}

struct Table {
    /// Every producer slot that opened a channel on this connection, until its job is released.
    senders: HashMap<(ChannelKey, u32), Arc<SenderState>>,
    /// Set once, when the connection breaks.
    broken: Option<String>,
}

impl Outbound {
    /// Connects to `peer`, authenticates and starts the connection's reader and writer.
    pub(crate) fn connect(peer: SocketAddr, shared: &Arc<Shared>) -> Result<Arc<Outbound>, NetError> {
        let stream = TcpStream::connect_timeout(&peer, CONNECT_TIMEOUT)
            .map_err(|source| NetError::Connect { peer, source })?;
        stream
            .set_nodelay(true)
            .map_err(|source| NetError::Connect { peer, source })?;
        handshake::connect(&stream, &shared.secret, peer)?;
        let reader = stream
            .try_clone()
            .map_err(|source| NetError::Connect { peer, source })?;
        let link = Link::start(&stream, shared.next_link_id(), peer, shared.counters.clone())
            .map_err(NetError::Thread)?;
        let conn = Arc::new(Outbound {
            link,
            table: Mutex::new(Table {
                senders: HashMap::new(),
                broken: None,
            }),
        });
        let c = conn.clone();
        let sh = shared.clone();
        spate_common::task::spawn_named(format!("spate-net-credits-{peer}"), move || {
            c.run_reader(reader, &sh)
        })
        .map_err(|e| {
            conn.link.close();
            NetError::Thread(e)
        })?;
        tracing::debug!(peer = %peer, "data connection opened");
        Ok(conn)
    }

    pub(crate) fn is_broken(&self) -> bool {
        lock(&self.table).broken.is_some()
    }

    /// Registers producer `slot` of `key` and sends OPEN.
    pub(crate) fn open(self: &Arc<Self>, key: ChannelKey, slot: u32) -> Result<RemoteSender, NetError> {
        let peer = self.link.peer;
        let state = {
            let mut t = lock(&self.table);
            if let Some(reason) = &t.broken {
                return Err(NetError::Broken {
                    peer,
                    reason: reason.clone(),
                });
            }
            if t.senders.contains_key(&(key, slot)) {
                return Err(NetError::DuplicateSender { peer, key, slot });
            }
            let state = Arc::new(SenderState::default());
            t.senders.insert((key, slot), state.clone());
            state
        };
        self.link.send(Frame::Open { key, slot });
        Ok(RemoteSender {
            conn: self.clone(),
            state,
            key,
            slot,
        })
    }

    /// Forgets the senders of a job attempt; they fail with [`SendError::Cancelled`].
    pub(crate) fn release(&self, job: u64, attempt: u32) {
        let mut released = Vec::new();
        lock(&self.table).senders.retain(|(key, _), state| {
            let keep = key.job != job || key.attempt != attempt;
            if !keep {
                released.push(state.clone());
            }
            keep
        });
        for state in released {
            state.close(Closed::Released);
        }
    }

    /// Marks the connection broken, fails every sender on it and closes the socket; idempotent.
    /// `expected`: closed on purpose here (logged at debug level only).
    pub(crate) fn fail(&self, reason: &str, expected: bool) {
        let peer = self.link.peer;
        let message = format!("connection to the data plane at {peer} broke: {reason}");
        let states: Vec<_> = {
            let mut t = lock(&self.table);
            if t.broken.is_some() {
                return;
            }
            t.broken = Some(message.clone());
            t.senders.values().cloned().collect()
        };
        // A peer that exits after its job closes its connections: only lost frames are news.
        let waiting = states.iter().filter(|s| s.in_flight() > 0).count();
        if expected || waiting == 0 {
            tracing::debug!(peer = %peer, reason, "data connection closed");
        } else {
            tracing::warn!(peer = %peer, reason, senders_with_frames_in_flight = waiting, "data connection broke");
        }
        for state in states {
            state.close(Closed::Broken(message.clone()));
        }
        self.link.close();
    }

    /// Reads CREDIT frames until the connection ends, then fails the connection.
    fn run_reader(&self, stream: TcpStream, shared: &Shared) {
        let mut r = BufReader::with_capacity(READ_BUFFER, stream);
        // Only a misbehaving peer sends payloads this way.
        let payloads = BufferPool::new();
        let reason = loop {
            match read_frame(&mut r, &payloads) {
                Ok(Some(frame)) => {
                    shared.counters.received(frame.wire_len());
                    let Frame::Credit { key, slot, n } = frame else {
                        break format!("protocol error: unexpected {} frame", frame.name());
                    };
                    let state = lock(&self.table).senders.get(&(key, slot)).cloned();
                    // None: the job was released here meanwhile.
                    if let Some(state) = state {
                        state.grant(n);
                    }
                }
                Ok(None) => break "closed by the peer".to_string(),
                Err(e) => break format!("{e}"),
            }
        };
        self.fail(&reason, self.link.is_closed() || shared.is_closed());
    }
}

/// Why a sender cannot send any more.
#[derive(Clone)]
enum Closed {
    Broken(String),
    Released,
}

impl Closed {
    fn error(&self) -> SendError {
        match self {
            Closed::Broken(message) => SendError::Broken(message.clone()),
            Closed::Released => SendError::Cancelled,
        }
    }
}

/// Credit of one producer slot of one channel.
#[derive(Default)]
struct SenderState {
    credit: Mutex<Credit>,
    changed: Condvar,
}

#[derive(Default)]
struct Credit {
    /// Frames that may be sent now.
    available: u32,
    /// Whether the first CREDIT (the window) arrived; later ones return credit for delivered frames.
    granted: bool,
    /// Frames sent whose credit has not come back (not yet delivered).
    in_flight: u64,
    closed: Option<Closed>,
}

impl SenderState {
    fn grant(&self, n: u32) {
        let mut c = lock(&self.credit);
        c.available = c.available.saturating_add(n);
        if c.granted {
            c.in_flight = c.in_flight.saturating_sub(u64::from(n));
        } else {
            c.granted = true;
        }
        drop(c);
        self.changed.notify_all();
    }

    fn in_flight(&self) -> u64 {
        lock(&self.credit).in_flight
    }

    fn close(&self, why: Closed) {
        let mut c = lock(&self.credit);
        if c.closed.is_none() {
            c.closed = Some(why);
        }
        drop(c);
        self.changed.notify_all();
    }

    /// Waits for and takes one credit.
    fn acquire(&self, cancelled: &dyn Fn() -> bool) -> Result<(), SendError> {
        let mut c = lock(&self.credit);
        loop {
            if let Some(closed) = &c.closed {
                return Err(closed.error());
            }
            if c.available > 0 {
                c.available -= 1;
                c.in_flight += 1;
                return Ok(());
            }
            if cancelled() {
                return Err(SendError::Cancelled);
            }
            c = self
                .changed
                .wait_timeout(c, CANCEL_POLL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until no frame is in flight.
    fn drain(&self, cancelled: &dyn Fn() -> bool) -> Result<(), SendError> {
        let mut c = lock(&self.credit);
        loop {
            if c.in_flight == 0 {
                return Ok(());
            }
            if let Some(closed) = &c.closed {
                return Err(closed.error());
            }
            if cancelled() {
                return Err(SendError::Cancelled);
            }
            c = self
                .changed
                .wait_timeout(c, CANCEL_POLL)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Sends the frames of one producer slot of one channel to a peer's data plane. Several
/// senders share a connection; each has its own credit.
pub struct RemoteSender {
    conn: Arc<Outbound>,
    state: Arc<SenderState>,
    key: ChannelKey,
    slot: u32,
}

impl RemoteSender {
    /// Waits for a credit (asking `cancelled()` at least every 50 ms), then queues the frame.
    /// Fails with [`SendError::Broken`] if the connection is broken (or the payload exceeds the
    /// frame limit), [`SendError::Cancelled`] if cancelled or the job attempt was released here.
    pub fn send(
        &self,
        kind: FrameKind,
        payload: Bytes,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<(), SendError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(SendError::Broken(format!(
                "cannot send {} bytes to the data plane at {}: the limit is {MAX_PAYLOAD} bytes per frame",
                payload.len(),
                self.conn.link.peer
            )));
        }
        self.state.acquire(cancelled)?;
        let frame = Frame::Data {
            key: self.key,
            slot: self.slot,
            kind,
            payload,
        };
        if self.conn.link.send(frame) {
            Ok(())
        } else {
            // The reader reports a break before or right after the link closes.
            Err(match lock(&self.conn.table).broken.clone() {
                Some(message) => SendError::Broken(message),
                None => SendError::Broken(format!(
                    "connection to the data plane at {} is closed",
                    self.conn.link.peer
                )),
            })
        }
    }

    /// Waits until every frame sent so far was delivered to the consumer's inbox (all credit is
    /// back), asking `cancelled()` at least every 50 ms.
    pub fn finish(&self, cancelled: &dyn Fn() -> bool) -> Result<(), SendError> {
        self.state.drain(cancelled)
    }

    /// The channel this sender sends on.
    pub fn key(&self) -> ChannelKey {
        self.key
    }

    /// The producer slot it sends as.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// The peer data plane's address.
    pub fn peer(&self) -> SocketAddr {
        self.conn.link.peer
    }
}
