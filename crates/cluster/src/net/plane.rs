//! [`DataPlane`]: the listener, the connections to peers, and the state they share.

use super::inbound::{run_acceptor, Inbox, Pump, Registry};
use super::link::Link;
use super::outbound::{Outbound, RemoteSender};
use super::{lock, ChannelKey, NetError, Secret};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Traffic counters of a data plane (frames of every type, bytes on the wire after the handshake).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Bytes written to peers.
    pub bytes_sent: u64,
    /// Bytes read from peers.
    pub bytes_received: u64,
    /// Frames written to peers.
    pub frames_sent: u64,
    /// Frames read from peers.
    pub frames_received: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
}

impl Counters {
    pub(crate) fn sent(&self, bytes: usize) {
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
        self.frames_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received.fetch_add(bytes as u64, Ordering::Relaxed);
        self.frames_received.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> NetStats {
        NetStats {
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            frames_received: self.frames_received.load(Ordering::Relaxed),
        }
    }
}

/// What the data plane's threads share.
pub(crate) struct Shared {
    pub(crate) local_addr: SocketAddr,
    pub(crate) secret: Secret,
    /// Frames a producer slot may have in flight per channel.
    pub(crate) credits: u32,
    pub(crate) counters: Arc<Counters>,
    closed: AtomicBool,
    pub(crate) registry: Mutex<Registry>,
    /// Accepted connections, by link id (to close them at shutdown).
    pub(crate) inbound: Mutex<HashMap<u64, Arc<Link>>>,
    /// The connection to each peer this process sends to.
    outbound: Mutex<HashMap<SocketAddr, Arc<Outbound>>>,
    /// One lock per peer, held while connecting to it, so a peer gets one connection.
    connecting: Mutex<HashMap<SocketAddr, Arc<Mutex<()>>>>,
    next_link: AtomicU64,
}

impl Shared {
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) fn next_link_id(&self) -> u64 {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }

    fn live_connection(&self, peer: SocketAddr) -> Option<Arc<Outbound>> {
        lock(&self.outbound)
            .get(&peer)
            .filter(|c| !c.is_broken())
            .cloned()
    }

    /// The connection to `peer`, opened now if there is none (or it broke).
    fn connection(self: &Arc<Self>, peer: SocketAddr) -> Result<Arc<Outbound>, NetError> {
        if let Some(conn) = self.live_connection(peer) {
            return Ok(conn);
        }
        let gate = lock(&self.connecting).entry(peer).or_default().clone();
        let _connecting = lock(&gate);
        if let Some(conn) = self.live_connection(peer) {
            return Ok(conn);
        }
        let conn = Outbound::connect(peer, self)?;
        let mut outbound = lock(&self.outbound);
        if self.is_closed() {
            drop(outbound);
            conn.fail("the local data plane shut down", true);
            return Err(NetError::ShutDown);
        }
        outbound.insert(peer, conn.clone());
        Ok(conn)
    }
}

/// One per job worker process: listens for data connections from peers, and sends to peers
/// over one connection each. See the [module docs](super) for the protocol and the threads.
pub struct DataPlane {
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl DataPlane {
    /// Listens on `bind` (port 0 = any); `credits` = frames a sender may have in flight per
    /// (channel, producer slot).
    pub fn start(bind: SocketAddr, secret: Secret, credits: u32) -> Result<Arc<DataPlane>, NetError> {
        if credits == 0 {
            return Err(NetError::NoCredits);
        }
        let listener = TcpListener::bind(bind).map_err(|source| NetError::Bind { addr: bind, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| NetError::Bind { addr: bind, source })?;
        let shared = Arc::new(Shared {
            local_addr,
            secret,
            credits,
            counters: Arc::default(),
            closed: AtomicBool::new(false),
            registry: Mutex::default(),
            inbound: Mutex::default(),
            outbound: Mutex::default(),
            connecting: Mutex::default(),
            next_link: AtomicU64::new(0),
        });
        let sh = shared.clone();
        let acceptor =
            spate_common::task::spawn_named(format!("spate-net-accept-{}", local_addr.port()), move || {
                run_acceptor(listener, sh)
            })
            .map_err(NetError::Thread)?;
        tracing::info!(addr = %local_addr, credits, "data plane listening");
        Ok(Arc::new(DataPlane {
            shared,
            acceptor: Mutex::new(Some(acceptor)),
        }))
    }

    /// The address peers connect to (with the actual port if `bind` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Frames for `key` are delivered to `inbox`, on a thread of the channel's own. Producers
    /// that opened the channel before get their credit now. Ignored for a released job attempt.
    pub fn register(&self, key: ChannelKey, inbox: Arc<dyn Inbox>) {
        let sh = &self.shared;
        if sh.is_closed() || lock(&sh.registry).is_released(key.job, key.attempt) {
            tracing::debug!(channel = %key, "channel of a released attempt or after shutdown not registered");
            return;
        }
        let pump = match Pump::start(key, inbox) {
            Ok(pump) => pump,
            Err(e) => {
                // Its producers wait for credit until the job is cancelled.
                tracing::error!(channel = %key, error = %e, "cannot start the delivery thread of a channel");
                return;
            }
        };
        let stale = lock(&sh.registry).register(key, pump, sh.credits);
        if let Some(pump) = stale {
            pump.stop();
        }
    }

    /// Forgets every channel of (job, attempt) in both directions: its inboxes are dropped
    /// (frames arriving later are discarded, their credit returned), its senders fail with
    /// [`SendError::Cancelled`](super::SendError::Cancelled). Final: the attempt cannot be
    /// registered or sent on again here.
    pub fn release(&self, job: u64, attempt: u32) {
        let sh = &self.shared;
        let pumps = lock(&sh.registry).release(job, attempt);
        for pump in pumps {
            pump.stop();
        }
        let conns: Vec<_> = lock(&sh.outbound).values().cloned().collect();
        for conn in conns {
            conn.release(job, attempt);
        }
    }

    /// A sender for producer `slot` of channel `key` living in the data plane at `peer`.
    /// Connects to the peer (once, and again after a break) and sends OPEN. One sender per
    /// (peer, key, slot).
    pub fn sender(
        self: &Arc<Self>,
        peer: SocketAddr,
        key: ChannelKey,
        slot: u32,
    ) -> Result<RemoteSender, NetError> {
        let sh = &self.shared;
        if sh.is_closed() {
            return Err(NetError::ShutDown);
        }
        if lock(&sh.registry).is_released(key.job, key.attempt) {
            return Err(NetError::Released {
                job: key.job,
                attempt: key.attempt,
            });
        }
        sh.connection(peer)?.open(key, slot)
    }

    /// Closes the listener and every connection, drops every inbox; senders fail with
    /// [`SendError::Broken`](super::SendError::Broken). Idempotent; also done on drop.
    pub fn shutdown(&self) {
        let sh = &self.shared;
        if sh.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        let woke = wake(sh.local_addr);
        let pumps = lock(&sh.registry).shutdown();
        for pump in pumps {
            pump.stop();
        }
        let inbound: Vec<_> = lock(&sh.inbound).values().cloned().collect();
        for link in inbound {
            link.close();
        }
        let outbound: Vec<_> = lock(&sh.outbound).drain().map(|(_, c)| c).collect();
        for conn in outbound {
            conn.fail("the local data plane shut down", true);
        }
        // If the wake-up connection failed the acceptor is still blocked: leave it.
        if woke {
            if let Some(acceptor) = lock(&self.acceptor).take() {
                let _ = acceptor.join();
            }
        }
        tracing::info!(addr = %sh.local_addr, "data plane shut down");
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Bytes and frames sent and received so far.
    pub fn stats(&self) -> NetStats {
        self.shared.counters.snapshot()
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Connects to the listener so that its blocking `accept` returns.
fn wake(addr: SocketAddr) -> bool {
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(match addr.ip() {
            IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    TcpStream::connect_timeout(&target, Duration::from_secs(1)).is_ok()
}
