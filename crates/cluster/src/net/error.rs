//! Errors of the data plane.

use super::ChannelKey;
use std::io;
use std::net::SocketAddr;

/// Why the data plane could not start, connect or create a sender.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A cluster secret that is not 64 hex characters.
    #[error("invalid cluster secret: {0}")]
    InvalidSecret(String),
    /// `credits` was zero: nothing could ever be sent.
    #[error("the data plane needs at least 1 credit per channel and producer")]
    NoCredits,
    /// The listening socket could not be opened.
    #[error("cannot listen for data connections on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The TCP connection to a peer failed.
    #[error("cannot connect to the data plane at {peer}: {source}")]
    Connect {
        /// The peer's address.
        peer: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// The peer is not a compatible data plane, or it stopped answering.
    #[error("handshake with the data plane at {peer} failed: {reason}")]
    Handshake {
        /// The peer's address.
        peer: SocketAddr,
        /// What went wrong.
        reason: String,
    },
    /// The peer closed the connection after our answer to its challenge.
    #[error("the data plane at {peer} refused the handshake (does it use the same cluster secret?)")]
    Rejected {
        /// The peer's address.
        peer: SocketAddr,
    },
    /// The connection broke while the sender was being set up.
    #[error("the connection to the data plane at {peer} is broken: {reason}")]
    Broken {
        /// The peer's address.
        peer: SocketAddr,
        /// What broke it.
        reason: String,
    },
    /// A sender for this channel and producer slot to this peer already exists.
    #[error("a sender for {key} producer slot {slot} to {peer} already exists")]
    DuplicateSender {
        /// The peer's address.
        peer: SocketAddr,
        /// The channel.
        key: ChannelKey,
        /// The producer slot.
        slot: u32,
    },
    /// The job attempt was released on this data plane.
    #[error("job {job} attempt {attempt} was released on this data plane")]
    Released {
        /// The job.
        job: u64,
        /// The attempt.
        attempt: u32,
    },
    /// [`DataPlane::shutdown`](super::DataPlane::shutdown) was called.
    #[error("the data plane is shut down")]
    ShutDown,
    /// A thread could not be started.
    #[error("cannot start a data plane thread: {0}")]
    Thread(io::Error),
}

/// Why [`RemoteSender::send`](super::RemoteSender::send) or
/// [`finish`](super::RemoteSender::finish) gave up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The caller's `cancelled()` returned true, or the job attempt was released on this data plane.
    #[error("cancelled")]
    Cancelled,
    /// The connection broke (the message names the peer), or the payload is too large.
    #[error("{0}")]
    Broken(String),
}
