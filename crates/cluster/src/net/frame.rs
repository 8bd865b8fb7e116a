//! The frames of the data plane and their encoding (see the wire spec in [`super`]).
//!
//! Decoding is [`read_frame`]: a function of the bytes it reads and nothing else, so the tests
//! feed it byte slices. Encoding is [`encode_head`]: everything but a DATA payload, which the
//! writer sends from the caller's buffer without copying it.

use super::buffers::BufferPool;
use bytes::Bytes;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

/// Largest value of a frame's length field (type byte + body). Longer frames are a protocol error.
pub const MAX_FRAME_LEN: u32 = 64 << 20;

/// OPEN: client → server, `key | slot`.
const T_OPEN: u8 = 1;
/// CREDIT: server → client, `key | slot | n`.
const T_CREDIT: u8 = 2;
/// DATA: client → server, `key | slot | kind | payload`.
const T_DATA: u8 = 3;

/// `job u64 | attempt u32 | vertex u32 | subtask u32`.
const KEY_LEN: usize = 20;
const OPEN_BODY: usize = KEY_LEN + 4;
const CREDIT_BODY: usize = KEY_LEN + 8;
/// The part of a DATA body before the payload.
const DATA_HEAD: usize = KEY_LEN + 5;
/// Length field + type byte.
const PREFIX_LEN: usize = 5;

/// Largest payload a DATA frame can carry.
pub const MAX_PAYLOAD: usize = MAX_FRAME_LEN as usize - 1 - DATA_HEAD;

/// Identifies one consumer subtask's input channel (shared by all its producers, told apart by
/// their slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey {
    /// The job.
    pub job: u64,
    /// The job's execution attempt (a restart is a new attempt).
    pub attempt: u32,
    /// The consumer vertex.
    pub vertex: u32,
    /// The consumer subtask.
    pub subtask: u32,
}

impl fmt::Display for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "job {} attempt {} vertex {} subtask {}",
            self.job, self.attempt, self.vertex, self.subtask
        )
    }
}

/// What a DATA frame carries (opaque to the data plane): the runtime's frame kinds.
pub use spate_runtime::remote::FrameKind;

fn kind_to_wire(kind: FrameKind) -> u8 {
    match kind {
        FrameKind::Records => 0,
        FrameKind::Event => 1,
        FrameKind::End => 2,
        FrameKind::Reset => 3,
    }
}

fn kind_from_wire(b: u8) -> Result<FrameKind, FrameError> {
    match b {
        0 => Ok(FrameKind::Records),
        1 => Ok(FrameKind::Event),
        2 => Ok(FrameKind::End),
        3 => Ok(FrameKind::Reset),
        other => Err(FrameError::UnknownKind(other)),
    }
}

/// One frame after the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A producer slot starts sending on a channel.
    Open { key: ChannelKey, slot: u32 },
    /// The receiver grants `n` more frames to a producer slot.
    Credit { key: ChannelKey, slot: u32, n: u32 },
    /// A payload for a channel from a producer slot.
    Data {
        key: ChannelKey,
        slot: u32,
        kind: FrameKind,
        payload: Bytes,
    },
}

impl Frame {
    /// Bytes on the wire, length field included.
    pub(crate) fn wire_len(&self) -> usize {
        PREFIX_LEN
            + match self {
                Frame::Open { .. } => OPEN_BODY,
                Frame::Credit { .. } => CREDIT_BODY,
                Frame::Data { payload, .. } => DATA_HEAD + payload.len(),
            }
    }

    /// The frame type's name, for error messages.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Frame::Open { .. } => "OPEN",
            Frame::Credit { .. } => "CREDIT",
            Frame::Data { .. } => "DATA",
        }
    }
}

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    Oversized(u32),
    #[error("frame with a zero length")]
    Empty,
    #[error("unknown frame type {0}")]
    UnknownType(u8),
    #[error("frame type {ty} cannot have a body of {len} bytes")]
    BadLength { ty: u8, len: usize },
    #[error("unknown payload kind {0}")]
    UnknownKind(u8),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("{0}")]
    Io(io::Error),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    }
}

/// Appends the frame's length field, type and fixed fields to `out`; for DATA the payload must
/// follow. The payload must not exceed [`MAX_PAYLOAD`] (senders check it).
pub(crate) fn encode_head(frame: &Frame, out: &mut Vec<u8>) {
    let len = (frame.wire_len() - 4) as u32;
    out.extend_from_slice(&len.to_be_bytes());
    match frame {
        Frame::Open { key, slot } => {
            out.push(T_OPEN);
            put_key(out, key);
            out.extend_from_slice(&slot.to_be_bytes());
        }
        Frame::Credit { key, slot, n } => {
            out.push(T_CREDIT);
            put_key(out, key);
            out.extend_from_slice(&slot.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
        }
        Frame::Data { key, slot, kind, .. } => {
            out.push(T_DATA);
            put_key(out, key);
            out.extend_from_slice(&slot.to_be_bytes());
            out.push(kind_to_wire(*kind));
        }
    }
}

fn put_key(out: &mut Vec<u8>, key: &ChannelKey) {
    out.extend_from_slice(&key.job.to_be_bytes());
    out.extend_from_slice(&key.attempt.to_be_bytes());
    out.extend_from_slice(&key.vertex.to_be_bytes());
    out.extend_from_slice(&key.subtask.to_be_bytes());
}

/// Reads the next frame. `Ok(None)` at a clean end of stream (between frames). Only a DATA
/// payload takes memory (from `payloads`), after its length was checked.
pub(crate) fn read_frame<R: Read>(
    r: &mut R,
    payloads: &Arc<BufferPool>,
) -> Result<Option<Frame>, FrameError> {
    let mut prefix = [0u8; PREFIX_LEN];
    if !read_or_eof(r, &mut prefix)? {
        return Ok(None);
    }
    let (ty, body_len) = parse_prefix(prefix)?;
    let mut fixed = [0u8; CREDIT_BODY];
    match ty {
        T_OPEN | T_CREDIT => {
            let body = &mut fixed[..body_len];
            r.read_exact(body)?;
            let (key, slot) = parse_key_slot(body);
            Ok(Some(if ty == T_OPEN {
                Frame::Open { key, slot }
            } else {
                Frame::Credit {
                    key,
                    slot,
                    n: be_u32(&body[24..28]),
                }
            }))
        }
        _ => {
            let head = &mut fixed[..DATA_HEAD];
            r.read_exact(head)?;
            let (key, slot) = parse_key_slot(head);
            let kind = kind_from_wire(head[24])?;
            let payload = payloads.read(r, body_len - DATA_HEAD)?;
            Ok(Some(Frame::Data {
                key,
                slot,
                kind,
                payload,
            }))
        }
    }
}

/// Checks a frame's length field and type; returns the type and the body length.
fn parse_prefix(prefix: [u8; PREFIX_LEN]) -> Result<(u8, usize), FrameError> {
    let len = be_u32(&prefix[..4]);
    if len == 0 {
        return Err(FrameError::Empty);
    }
    if len > MAX_FRAME_LEN {
        return Err(FrameError::Oversized(len));
    }
    let ty = prefix[4];
    let body_len = len as usize - 1;
    let fits = match ty {
        T_OPEN => body_len == OPEN_BODY,
        T_CREDIT => body_len == CREDIT_BODY,
        T_DATA => body_len >= DATA_HEAD,
        other => return Err(FrameError::UnknownType(other)),
    };
    if !fits {
        return Err(FrameError::BadLength { ty, len: body_len });
    }
    Ok((ty, body_len))
}

/// The key and slot at the start of a body (at least 24 bytes).
fn parse_key_slot(b: &[u8]) -> (ChannelKey, u32) {
    let mut job = [0u8; 8];
    job.copy_from_slice(&b[..8]);
    let key = ChannelKey {
        job: u64::from_be_bytes(job),
        attempt: be_u32(&b[8..12]),
        vertex: be_u32(&b[12..16]),
        subtask: be_u32(&b[16..20]),
    };
    (key, be_u32(&b[20..24]))
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

/// Fills `buf`; `Ok(false)` if the stream ended before its first byte.
fn read_or_eof<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<bool, FrameError> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: ChannelKey = ChannelKey {
        job: 0x0102_0304_0506_0708,
        attempt: 3,
        vertex: 4,
        subtask: u32::MAX,
    };

    fn read(r: &mut &[u8]) -> Result<Option<Frame>, FrameError> {
        read_frame(r, &BufferPool::new())
    }

    fn encode(frame: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        encode_head(frame, &mut out);
        if let Frame::Data { payload, .. } = frame {
            out.extend_from_slice(payload);
        }
        assert_eq!(out.len(), frame.wire_len());
        out
    }

    fn samples() -> Vec<Frame> {
        vec![
            Frame::Open { key: KEY, slot: 7 },
            Frame::Credit {
                key: KEY,
                slot: 7,
                n: 9,
            },
            Frame::Data {
                key: KEY,
                slot: 1,
                kind: FrameKind::Records,
                payload: Bytes::from_static(b"hello"),
            },
            Frame::Data {
                key: KEY,
                slot: 2,
                kind: FrameKind::End,
                payload: Bytes::new(),
            },
            Frame::Data {
                key: KEY,
                slot: 0,
                kind: FrameKind::Event,
                payload: Bytes::from(vec![0xab; 70_000]),
            },
        ]
    }

    #[test]
    fn frames_round_trip_back_to_back() {
        let frames = samples();
        let bytes: Vec<u8> = frames.iter().flat_map(encode).collect();
        let mut r = &bytes[..];
        for f in &frames {
            assert_eq!(read(&mut r).unwrap().as_ref(), Some(f));
        }
        assert!(read(&mut r).unwrap().is_none());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_frame() {
        for frame in samples() {
            let bytes = encode(&frame);
            // Cutting inside a large payload is checked at a few points only.
            let cuts: Vec<usize> = (1..bytes.len()).filter(|c| *c < 64 || c % 4099 == 0).collect();
            for cut in cuts {
                let mut r = &bytes[..cut];
                assert!(
                    matches!(read(&mut r), Err(FrameError::Truncated)),
                    "{} cut at {cut}",
                    frame.name()
                );
            }
        }
        assert!(read(&mut &[][..]).unwrap().is_none());
    }

    #[test]
    fn oversized_frames_are_refused_before_allocating() {
        let mut bytes = (MAX_FRAME_LEN + 1).to_be_bytes().to_vec();
        bytes.push(T_DATA);
        assert!(matches!(read(&mut &bytes[..]), Err(FrameError::Oversized(_))));
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.push(T_DATA);
        assert!(matches!(read(&mut &bytes[..]), Err(FrameError::Oversized(_))));
        // The largest legal DATA frame is accepted (as far as its header goes).
        let mut bytes = MAX_FRAME_LEN.to_be_bytes().to_vec();
        bytes.push(T_DATA);
        assert!(matches!(read(&mut &bytes[..]), Err(FrameError::Truncated)));
    }

    #[test]
    fn garbage_is_an_error() {
        // An HTTP request: the length field reads as ~1.2 GB.
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(matches!(read(&mut &http[..]), Err(FrameError::Oversized(_))));
        assert!(matches!(read(&mut &[0, 0, 0, 0, 1][..]), Err(FrameError::Empty)));
        assert!(matches!(
            read(&mut &[0, 0, 0, 1, 9][..]),
            Err(FrameError::UnknownType(9))
        ));
        // OPEN and CREDIT have fixed sizes, DATA a minimum.
        for (ty, len) in [(T_OPEN, 10u32), (T_OPEN, 26), (T_CREDIT, 25), (T_DATA, 25)] {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.push(ty);
            bytes.resize(4 + len as usize, 0);
            assert!(
                matches!(read(&mut &bytes[..]), Err(FrameError::BadLength { .. })),
                "type {ty} length {len}"
            );
        }
        let mut bytes = encode(&samples()[2]);
        bytes[PREFIX_LEN + 24] = 77;
        assert!(matches!(read(&mut &bytes[..]), Err(FrameError::UnknownKind(77))));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..2000 {
            let len = round % 97;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Small length fields now and then, so some inputs get past the prefix.
                    if x.is_multiple_of(5) {
                        0
                    } else {
                        x as u8
                    }
                })
                .collect();
            let mut r = &bytes[..];
            while let Ok(Some(_)) = read(&mut r) {}
        }
    }
}
