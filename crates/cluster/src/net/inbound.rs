//! The receiving side: accepted connections, the registry of consumer channels, and the
//! delivery thread of each channel.

use super::buffers::BufferPool;
use super::frame::{read_frame, ChannelKey, Frame, FrameKind};
use super::link::Link;
use super::plane::Shared;
use super::{handshake, lock};
use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Read buffer of an accepted connection. Small, because a payload's bytes that land in it are
/// copied once more: the rest of a payload (chunks of at least this size) is read straight into
/// the payload's buffer.
const READ_BUFFER: usize = 16 * 1024;
/// Pause after a failed `accept` (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Receives the frames of one consumer channel.
pub trait Inbox: Send + Sync {
    /// Delivers one frame of producer `producer_slot`. May block (e.g. while the consumer's
    /// bounded queue is full): the frame's credit goes back to its sender only after it returns.
    /// Each channel has its own delivery thread, so a blocked inbox holds up no other channel.
    fn deliver(&self, producer_slot: u32, kind: FrameKind, payload: Bytes);
}

/// The consumer channels of this data plane.
#[derive(Default)]
pub(crate) struct Registry {
    channels: HashMap<ChannelKey, Channel>,
    /// Released job attempts: their frames are discarded, they cannot be registered again.
    released: HashSet<(u64, u32)>,
    /// Set by shutdown: nothing is registered any more.
    closed: bool,
}

enum Channel {
    Registered(Arc<Pump>),
    /// Producers opened the channel before it was registered: their credit waits.
    Pending(Vec<PendingOpen>),
}

struct PendingOpen {
    link: Arc<Link>,
    slot: u32,
}

/// Where a DATA frame goes.
enum Route {
    Deliver(Arc<Pump>),
    /// Its job attempt was released.
    Discard,
    /// Nobody was granted credit for it: the peer broke the protocol.
    Unknown,
}

impl Registry {
    pub(crate) fn is_released(&self, job: u64, attempt: u32) -> bool {
        self.released.contains(&(job, attempt))
    }

    /// Installs `pump` for `key` and grants credit to producers that opened it already. Returns
    /// a pump to stop: the one it replaces, or `pump` itself if it came too late.
    pub(crate) fn register(&mut self, key: ChannelKey, pump: Arc<Pump>, credits: u32) -> Option<Arc<Pump>> {
        if self.closed || self.is_released(key.job, key.attempt) {
            return Some(pump);
        }
        match self.channels.insert(key, Channel::Registered(pump)) {
            Some(Channel::Pending(opens)) => {
                for open in opens {
                    open.link.send(Frame::Credit {
                        key,
                        slot: open.slot,
                        n: credits,
                    });
                }
                None
            }
            Some(Channel::Registered(old)) => {
                tracing::warn!(channel = %key, "channel registered twice; the new inbox replaces the old one");
                Some(old)
            }
            None => None,
        }
    }

    /// A producer slot opened `key` on `link`: grants it `credits` now or at registration.
    fn open(&mut self, key: ChannelKey, slot: u32, link: &Arc<Link>, credits: u32) {
        if self.closed {
            return;
        }
        if self.is_released(key.job, key.attempt) {
            // Its frames will be discarded; credit keeps a late producer from waiting forever.
            link.send(Frame::Credit {
                key,
                slot,
                n: credits,
            });
            return;
        }
        let pending = PendingOpen {
            link: link.clone(),
            slot,
        };
        match self.channels.entry(key) {
            Entry::Occupied(mut e) => match e.get_mut() {
                Channel::Registered(_) => {
                    link.send(Frame::Credit {
                        key,
                        slot,
                        n: credits,
                    });
                }
                Channel::Pending(opens) => opens.push(pending),
            },
            Entry::Vacant(e) => {
                e.insert(Channel::Pending(vec![pending]));
            }
        }
    }

    fn route(&self, key: &ChannelKey) -> Route {
        match self.channels.get(key) {
            Some(Channel::Registered(pump)) => Route::Deliver(pump.clone()),
            _ if self.is_released(key.job, key.attempt) => Route::Discard,
            _ => Route::Unknown,
        }
    }

    /// Forgets the channels of a job attempt; returns their pumps, to stop.
    pub(crate) fn release(&mut self, job: u64, attempt: u32) -> Vec<Arc<Pump>> {
        self.released.insert((job, attempt));
        let mut pumps = Vec::new();
        self.channels.retain(|key, channel| {
            if key.job != job || key.attempt != attempt {
                return true;
            }
            if let Channel::Registered(pump) = channel {
                pumps.push(pump.clone());
            }
            false
        });
        pumps
    }

    /// Forgets everything; returns the pumps, to stop.
    pub(crate) fn shutdown(&mut self) -> Vec<Arc<Pump>> {
        self.closed = true;
        self.channels
            .drain()
            .filter_map(|(_, channel)| match channel {
                Channel::Registered(pump) => Some(pump),
                Channel::Pending(_) => None,
            })
            .collect()
    }

    /// Drops the pending opens of a closed connection.
    fn forget_link(&mut self, link_id: u64) {
        self.channels.retain(|_, channel| match channel {
            Channel::Registered(_) => true,
            Channel::Pending(opens) => {
                opens.retain(|o| o.link.id != link_id);
                !opens.is_empty()
            }
        });
    }
}

/// The delivery thread of one registered channel and its queue. The queue is unbounded but
/// holds at most `credits` frames per producer slot (more is a protocol violation by the peer).
pub(crate) struct Pump {
    key: ChannelKey,
    tx: Sender<PumpMsg>,
    stopped: AtomicBool,
}

enum PumpMsg {
    Deliver(Delivery),
    Stop,
}

struct Delivery {
    slot: u32,
    kind: FrameKind,
    payload: Bytes,
    /// Where the frame's credit goes back.
    reply: Arc<Link>,
}

impl Pump {
    pub(crate) fn start(key: ChannelKey, inbox: Arc<dyn Inbox>) -> io::Result<Arc<Pump>> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let pump = Arc::new(Pump {
            key,
            tx,
            stopped: AtomicBool::new(false),
        });
        let p = pump.clone();
        let name = format!("spate-net-inbox-{}-{}-{}", key.job, key.vertex, key.subtask);
        spate_common::task::spawn_named(name, move || p.run(&*inbox, &rx))?;
        Ok(pump)
    }

    /// Stops the thread after the frame it is delivering; later frames are discarded (with
    /// their credit returned).
    pub(crate) fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            let _ = self.tx.send(PumpMsg::Stop);
        }
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Queues a frame; gives it back if the thread is gone.
    fn push(&self, d: Delivery) -> Result<(), Delivery> {
        match self.tx.send(PumpMsg::Deliver(d)) {
            Ok(()) => Ok(()),
            Err(e) => match e.into_inner() {
                PumpMsg::Deliver(d) => Err(d),
                PumpMsg::Stop => Ok(()),
            },
        }
    }

    fn run(&self, inbox: &dyn Inbox, rx: &Receiver<PumpMsg>) {
        while let Ok(PumpMsg::Deliver(d)) = rx.recv() {
            if !self.is_stopped() {
                let delivered = catch_unwind(AssertUnwindSafe(|| inbox.deliver(d.slot, d.kind, d.payload)));
                if delivered.is_err() {
                    tracing::error!(channel = %self.key, "inbox panicked; later frames of the channel are dropped");
                    self.stopped.store(true, Ordering::SeqCst);
                }
            }
            self.credit(&d.reply, d.slot);
        }
        // Frames queued behind Stop are dropped; their credit still goes back.
        while let Ok(msg) = rx.try_recv() {
            if let PumpMsg::Deliver(d) = msg {
                self.credit(&d.reply, d.slot);
            }
        }
    }

    fn credit(&self, link: &Link, slot: u32) {
        link.send(Frame::Credit {
            key: self.key,
            slot,
            n: 1,
        });
    }
}

/// Accepts connections until the data plane shuts down; each gets its own thread.
pub(crate) fn run_acceptor(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.is_closed() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => {
                let sh = shared.clone();
                let spawned = spate_common::task::spawn_named(format!("spate-net-read-{peer}"), move || {
                    serve(stream, peer, &sh)
                });
                if let Err(e) = spawned {
                    tracing::warn!(peer = %peer, error = %e, "cannot start a thread for a data connection");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "data plane: accept failed");
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
    tracing::debug!(addr = %shared.local_addr, "data plane listener closed");
}

/// Authenticates an accepted connection, then routes its frames until it ends.
fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    if let Err(reason) = handshake::accept(&stream, &shared.secret) {
        tracing::warn!(peer = %peer, reason, "data plane refused a connection");
        return;
    }
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(peer = %peer, error = %e, "cannot set TCP_NODELAY");
    }
    let link = match Link::start(&stream, shared.next_link_id(), peer, shared.counters.clone()) {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(peer = %peer, error = %e, "cannot start the writer of a data connection");
            return;
        }
    };
    lock(&shared.inbound).insert(link.id, link.clone());
    if shared.is_closed() {
        link.close();
    }
    tracing::debug!(peer = %peer, "data connection accepted");
    let outcome = read_loop(&stream, &link, shared);
    let closed_here = link.is_closed();
    link.close();
    lock(&shared.inbound).remove(&link.id);
    lock(&shared.registry).forget_link(link.id);
    match outcome {
        Ok(()) => tracing::debug!(peer = %peer, "data connection closed by the peer"),
        Err(reason) if closed_here || shared.is_closed() => {
            tracing::debug!(peer = %peer, reason, "data connection closed")
        }
        Err(reason) => tracing::warn!(peer = %peer, reason, "data connection failed"),
    }
}

/// Handles OPEN and DATA frames until the peer closes (`Ok`) or something fails.
fn read_loop(stream: &TcpStream, link: &Arc<Link>, shared: &Shared) -> Result<(), String> {
    let mut r = BufReader::with_capacity(READ_BUFFER, stream);
    let payloads = BufferPool::new();
    // Saves a registry lookup per frame.
    let mut pumps: HashMap<ChannelKey, Arc<Pump>> = HashMap::new();
    loop {
        let frame = match read_frame(&mut r, &payloads) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        shared.counters.received(frame.wire_len());
        match frame {
            Frame::Open { key, slot } => lock(&shared.registry).open(key, slot, link, shared.credits),
            Frame::Data {
                key,
                slot,
                kind,
                payload,
            } => {
                let pump = match pumps.get(&key) {
                    Some(pump) if !pump.is_stopped() => Some(pump.clone()),
                    _ => {
                        pumps.retain(|_, p| !p.is_stopped());
                        match lock(&shared.registry).route(&key) {
                            Route::Deliver(pump) => {
                                pumps.insert(key, pump.clone());
                                Some(pump)
                            }
                            Route::Discard => None,
                            Route::Unknown => {
                                return Err(format!(
                                    "protocol error: DATA for {key} producer slot {slot}, which has no credit"
                                ))
                            }
                        }
                    }
                };
                let delivery = Delivery {
                    slot,
                    kind,
                    payload,
                    reply: link.clone(),
                };
                let discarded = match pump {
                    Some(pump) => pump.push(delivery).err(),
                    None => Some(delivery),
                };
                if let Some(d) = discarded {
                    link.send(Frame::Credit {
                        key,
                        slot: d.slot,
                        n: 1,
                    });
                }
            }
            Frame::Credit { .. } => return Err("protocol error: unexpected CREDIT frame".into()),
        }
    }
}
