//! The data plane: moves serialized records between the job worker processes of a cluster over
//! TCP, with authentication and credit-based flow control.
//!
//! Each worker process runs one [`DataPlane`]. It listens on a port, and opens at most one
//! connection to each peer plane it sends to (the sender connects, so two processes have at most
//! one connection per direction). Every logical channel from this process to that peer is
//! multiplexed on the connection. A channel is one consumer subtask's input ([`ChannelKey`]);
//! its producers are told apart by their slot. Payloads are opaque: the runtime encodes records
//! (postcard), the data plane moves frames.
//!
//! ```text
//!  producer task ── RemoteSender::send ──► queue ─► writer ══TCP══► reader ─► channel queue ─► delivery ─► Inbox::deliver
//!                    (waits for credit)                                        (per channel)    thread       (may block)
//!                  ◄──────────────────────── reader ◄══TCP══ writer ◄── CREDIT(1) after deliver returns
//! ```
//!
//! # Threads
//! - `spate-net-accept-PORT`: accepts connections and starts a reader thread for each.
//! - Per connection, on both ends: a reader (on the accepting side it also runs the handshake)
//!   and a writer that drains an unbounded queue of frames into the socket, buffering and
//!   flushing when the queue is momentarily empty. TCP_NODELAY is on.
//! - Per registered channel: a delivery thread calling [`Inbox::deliver`]. A consumer whose queue
//!   is full blocks only its own channel, never the connection's reader: otherwise a blocked
//!   consumer would hold up the other channels of the connection, and a consumer waiting on one
//!   of those (e.g. aligning checkpoint barriers) would deadlock the job.
//! - Producer tasks call [`RemoteSender::send`] on their own threads; it blocks while its
//!   producer slot has no credit.
//!
//! # Wire protocol, version 1
//!
//! Integers are big-endian. A channel key is `job u64 | attempt u32 | vertex u32 | subtask u32`
//! (20 bytes), a slot a `u32`.
//!
//! ## Handshake (challenge-response, driven by the accepting side)
//! 1. server → client: `"SPDP" | version u8 | nonce [32]` (nonce: fresh random bytes).
//! 2. client → server: `"SPDP" | version u8 | HMAC-SHA256(secret, nonce || "spate-data-plane") [32]`.
//! 3. server → client: `0x01` if the answer is right; otherwise the server closes the connection.
//!
//! Each side checks the magic and the version and closes the connection on a mismatch (the
//! client reports which version the server speaks). Every handshake read and write has a 5 s
//! timeout, so a silent client cannot hold a thread. A refused connection is logged (`WARN`,
//! with the peer's address); the server goes on serving the others. The secret is never sent,
//! and a nonce is never reused, so a recorded answer is worthless. Only the client proves
//! knowledge of the secret, and frames are not encrypted: the data plane belongs on a trusted
//! network.
//!
//! ## Frames (both directions, after the handshake)
//! `length u32 | type u8 | body`, where `length` counts the type byte and the body and is at most
//! 64 MiB ([`MAX_FRAME_LEN`]):
//!
//! | type | name   | direction       | body                                              |
//! |------|--------|-----------------|---------------------------------------------------|
//! | 1    | OPEN   | client → server | `key [20] \| slot u32`                            |
//! | 2    | CREDIT | server → client | `key [20] \| slot u32 \| n u32`                   |
//! | 3    | DATA   | client → server | `key [20] \| slot u32 \| kind u8 \| payload [..]` |
//!
//! `kind`: 0 = records, 1 = event, 2 = end ([`FrameKind`]). A length of 0 or above the limit, an
//! unknown type or kind, a body of the wrong size for its type, a frame in the wrong direction
//! and a connection closed in the middle of a frame are protocol errors: the connection is
//! closed (and logged).
//!
//! ## Credits
//! - A sender sends OPEN once before its first DATA. When the channel is registered (at once, or
//!   when [`DataPlane::register`] happens later), the server answers with one CREDIT whose `n`
//!   is its `credits` setting: the sender's window.
//! - Each DATA uses one credit; a sender without credit waits. After [`Inbox::deliver`] returned
//!   for a frame, the server sends CREDIT with `n = 1` for its (key, slot). So at most `credits`
//!   frames per (channel, slot) are in flight or queued at the receiver, and
//!   [`RemoteSender::finish`] knows everything was delivered when the whole window is back.
//! - DATA for a channel that was not granted credit is a protocol error. DATA for a released
//!   job attempt is discarded and its credit returned at once (as is an OPEN for one), so a
//!   producer that did not hear of the release yet does not hang.
//!
//! ## Failures
//! A connection that breaks (EOF, I/O or protocol error, peer shut down) fails every
//! [`RemoteSender`] on it with [`SendError::Broken`], waking those waiting for credit; the next
//! [`DataPlane::sender`] for that peer connects again. The server side forgets a broken
//! connection; frames it had not read are lost (the job fails over to a new attempt).

mod buffers;
mod error;
mod frame;
mod handshake;
mod inbound;
mod link;
mod outbound;
mod plane;
mod secret;
#[cfg(test)]
mod tests;

pub use error::{NetError, SendError};
pub use frame::{ChannelKey, FrameKind, MAX_FRAME_LEN, MAX_PAYLOAD};
pub use inbound::Inbox;
pub use outbound::RemoteSender;
pub use plane::{DataPlane, NetStats};
pub use secret::Secret;

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, ignoring poisoning (a panicked holder left no broken invariant behind: every
/// critical section here is a few map operations).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
