//! Wire framing: protobuf varints, varint-delimited parts, the 4-byte big-endian outer frame, and
//! the split of a response frame into its header and body. Every decoder here takes untrusted
//! bytes and returns an error (never panics) on truncated, oversized or garbage input.

use std::io::{self, Read};

use prost::Message;

use crate::error::{Error, RemoteException, Result};
use crate::proto::common::rpc_response_header_proto::RpcStatusProto;
use crate::proto::common::RpcResponseHeaderProto;

/// Largest frame this client reads. Hadoop's Java client allows 128 MiB
/// (`ipc.maximum.response.length`); no NameNode or YARN response Spate asks for comes near 64 MiB.
pub const MAX_FRAME_LEN: u32 = 64 * 1024 * 1024;

/// Longest encoding of a 64-bit varint.
const MAX_VARINT_LEN: usize = 10;

/// Appends `v` as a protobuf varint.
pub(crate) fn encode_varint(mut v: u64, buf: &mut Vec<u8>) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Decodes a protobuf varint at the start of `buf`: the value and the number of bytes it used.
pub(crate) fn decode_varint(buf: &[u8]) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        let bits = u64::from(b & 0x7f);
        if i == MAX_VARINT_LEN - 1 && b > 1 {
            return Err(Error::protocol("varint overflows 64 bits"));
        }
        value |= bits << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    if buf.len() >= MAX_VARINT_LEN {
        Err(Error::protocol("varint longer than 10 bytes"))
    } else {
        Err(Error::protocol("truncated varint"))
    }
}

/// Reads varint-delimited parts out of one frame.
pub(crate) struct Parts<'a> {
    buf: &'a [u8],
}

impl<'a> Parts<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Parts { buf }
    }

    /// The next delimited part, or `None` when the frame is used up.
    pub(crate) fn next_part(&mut self) -> Result<Option<&'a [u8]>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let (len, n) = decode_varint(self.buf)?;
        let rest = &self.buf[n..];
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= rest.len())
            .ok_or_else(|| {
                Error::protocol(format!(
                    "delimited part of {len} bytes but only {} left in the frame",
                    rest.len()
                ))
            })?;
        let (part, rest) = rest.split_at(len);
        self.buf = rest;
        Ok(Some(part))
    }

    /// The next delimited part decoded as `M`; an error if it is missing.
    pub(crate) fn next_message<M: Message + Default>(&mut self, what: &'static str) -> Result<M> {
        let part = self
            .next_part()?
            .ok_or_else(|| Error::protocol(format!("{what} missing from frame")))?;
        M::decode(part).map_err(|source| Error::Decode { what, source })
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
}

/// One outgoing packet: the 4-byte length, then each message varint-delimited.
pub(crate) fn encode_packet(parts: &[&dyn PacketPart]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        p.encode_delimited(&mut body);
    }
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A message that can go into a packet (object-safe wrapper over [`prost::Message`]).
pub(crate) trait PacketPart {
    fn encode_delimited(&self, buf: &mut Vec<u8>);
}

impl<M: Message> PacketPart for M {
    fn encode_delimited(&self, buf: &mut Vec<u8>) {
        encode_varint(self.encoded_len() as u64, buf);
        // Encoding into a Vec cannot run out of space.
        let _ = self.encode(buf);
    }
}

/// Reads one frame (4-byte big-endian length, then that many bytes), refusing lengths over `max`.
pub(crate) fn read_frame(r: &mut impl Read, max: u32) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(FrameError::TooLarge(len));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Why [`read_frame`] failed; the caller adds the server's address.
#[derive(Debug)]
pub(crate) enum FrameError {
    Io(io::Error),
    TooLarge(u32),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

impl FrameError {
    pub(crate) fn into_error(self, addr: &str) -> Error {
        match self {
            FrameError::Io(source) => Error::Io {
                addr: addr.to_string(),
                source,
            },
            FrameError::TooLarge(len) => Error::FrameTooLarge {
                len: len.into(),
                max: MAX_FRAME_LEN.into(),
            },
        }
    }
}

/// A decoded response frame.
#[derive(Debug)]
pub(crate) struct Response<'a> {
    /// The call id, as the signed value the client sent (-33 for SASL, -1 for auth failures).
    pub call_id: i32,
    /// The response message of a successful call (empty for a void response).
    pub body: std::result::Result<&'a [u8], RemoteException>,
}

/// Splits a response frame into header and body, turning ERROR and FATAL into [`RemoteException`].
pub(crate) fn parse_response(frame: &[u8]) -> Result<Response<'_>> {
    let mut parts = Parts::new(frame);
    let header: RpcResponseHeaderProto = parts.next_message("rpc response header")?;
    let call_id = header.call_id as i32; // uint32 on the wire; negative ids arrive wrapped
    let status = RpcStatusProto::try_from(header.status)
        .map_err(|_| Error::protocol(format!("unknown rpc status {}", header.status)))?;
    let body = match status {
        RpcStatusProto::Success => Ok(parts.next_part()?.unwrap_or(&[])),
        RpcStatusProto::Error | RpcStatusProto::Fatal => Err(RemoteException {
            class_name: header
                .exception_class_name
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            message: header.error_msg.clone().unwrap_or_default(),
            fatal: status == RpcStatusProto::Fatal,
        }),
    };
    if parts.remaining() != 0 {
        return Err(Error::protocol(format!(
            "{} unexpected bytes after the response",
            parts.remaining()
        )));
    }
    Ok(Response { call_id, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::RequestHeaderProto;

    fn header(call_id: i32, status: RpcStatusProto) -> RpcResponseHeaderProto {
        RpcResponseHeaderProto {
            call_id: call_id as u32,
            status: status as i32,
            ..Default::default()
        }
    }

    #[test]
    fn varint_round_trip_and_edges() {
        for v in [0, 1, 127, 128, 300, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            encode_varint(v, &mut buf);
            assert_eq!(decode_varint(&buf).unwrap(), (v, buf.len()));
        }
        assert!(decode_varint(&[]).is_err());
        assert!(decode_varint(&[0x80, 0x80]).is_err()); // truncated
        assert!(decode_varint(&[0xff; 11]).is_err()); // too long
        assert!(decode_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).is_err());
    }

    #[test]
    fn parts_reject_lengths_past_the_frame() {
        let mut p = Parts::new(&[5, 1, 2]);
        assert!(p.next_part().is_err());
        let mut p = Parts::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(p.next_part().is_err());
        let mut p = Parts::new(&[2, 7, 8, 0]);
        assert_eq!(p.next_part().unwrap(), Some(&[7u8, 8][..]));
        assert_eq!(p.next_part().unwrap(), Some(&[][..]));
        assert_eq!(p.next_part().unwrap(), None);
    }

    #[test]
    fn packet_layout() {
        let h = RequestHeaderProto {
            method_name: "m".into(),
            declaring_class_protocol_name: "p".into(),
            client_protocol_version: 1,
        };
        let pkt = encode_packet(&[&h, &h]);
        let len = u32::from_be_bytes([pkt[0], pkt[1], pkt[2], pkt[3]]) as usize;
        assert_eq!(len, pkt.len() - 4);
        let mut parts = Parts::new(&pkt[4..]);
        let a: RequestHeaderProto = parts.next_message("a").unwrap();
        let b: RequestHeaderProto = parts.next_message("b").unwrap();
        assert_eq!((a, b), (h.clone(), h));
        assert_eq!(parts.remaining(), 0);
    }

    #[test]
    fn read_frame_caps_and_truncation() {
        let mut ok: &[u8] = &[0, 0, 0, 2, 9, 9];
        assert_eq!(read_frame(&mut ok, 10).unwrap(), vec![9, 9]);
        let mut big: &[u8] = &[0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut big, MAX_FRAME_LEN),
            Err(FrameError::TooLarge(_))
        ));
        let mut short: &[u8] = &[0, 0, 0, 5, 1];
        assert!(matches!(read_frame(&mut short, 10), Err(FrameError::Io(_))));
        let mut short_len: &[u8] = &[0, 0];
        assert!(matches!(read_frame(&mut short_len, 10), Err(FrameError::Io(_))));
        let e = FrameError::TooLarge(1 << 30).into_error("nn:8020");
        assert!(e.to_string().contains("exceeds the limit"), "{e}");
    }

    #[test]
    fn parse_success_error_and_fatal() {
        let ok = encode_packet(&[
            &header(7, RpcStatusProto::Success),
            &header(1, RpcStatusProto::Success),
        ]);
        let r = parse_response(&ok[4..]).unwrap();
        assert_eq!(r.call_id, 7);
        assert!(r.body.is_ok());

        let void = encode_packet(&[&header(8, RpcStatusProto::Success)]);
        assert_eq!(parse_response(&void[4..]).unwrap().body.unwrap(), &[] as &[u8]);

        let mut err = header(-1, RpcStatusProto::Fatal);
        err.exception_class_name = Some("javax.security.sasl.SaslException".into());
        err.error_msg = Some("bad".into());
        let pkt = encode_packet(&[&err]);
        let r = parse_response(&pkt[4..]).unwrap();
        assert_eq!(r.call_id, -1);
        let e = r.body.unwrap_err();
        assert!(e.fatal);
        assert_eq!(e.class_name, "javax.security.sasl.SaslException");
    }

    #[test]
    fn parse_rejects_garbage_truncation_and_leftovers() {
        assert!(parse_response(&[]).is_err());
        assert!(parse_response(&[0xff, 0xff, 0xff]).is_err());
        assert!(parse_response(&[3, 0xff, 0xff, 0xff]).is_err());
        let ok = encode_packet(&[&header(1, RpcStatusProto::Success)]);
        for cut in 0..ok.len() - 4 {
            assert!(parse_response(&ok[4..4 + cut]).is_err(), "cut at {cut}");
        }
        let mut bad_status = header(1, RpcStatusProto::Success);
        bad_status.status = 9;
        assert!(parse_response(&encode_packet(&[&bad_status])[4..]).is_err());
        let extra = encode_packet(&[
            &header(1, RpcStatusProto::Error),
            &header(1, RpcStatusProto::Error),
        ]);
        assert!(parse_response(&extra[4..]).is_err());
        // Random-ish garbage never panics.
        let mut x: u32 = 12345;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse_response(&bytes);
        }
    }
}
