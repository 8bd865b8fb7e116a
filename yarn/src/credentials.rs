//! Hadoop token storage files (`Credentials`): what the NodeManager writes to
//! `$HADOOP_TOKEN_FILE_LOCATION` in every container, and what a container launch context's
//! `tokens` carry. An ApplicationMaster finds its AMRMToken here.
//!
//! Layout: `"HDTS"`, a format byte, then
//! - format 0 (Writable, what Hadoop 3.x writes): `VInt n`, n × (alias `Text`, token: `VInt len`
//!   identifier, `VInt len` password, kind `Text`, service `Text`), `VInt m`, m × (alias `Text`,
//!   `VInt len` secret). `Text` is a `VInt` length and UTF-8 bytes; `VInt` is Hadoop's
//!   `WritableUtils` variable-length integer, not a protobuf varint;
//! - format 1 (protobuf): a varint-length-delimited `CredentialsProto`.
//!
//! The parser takes untrusted bytes: truncated, oversized or garbage input is an error, never a
//! panic, and no length is trusted beyond the bytes present.

use std::path::Path;

use prost::Message;
use spate_hadoop_ipc::Token;

use crate::container::{token_from_proto, token_into_proto};
use crate::error::{Error, Result};
use crate::proto::common::{CredentialsKvProto, CredentialsProto};

/// The environment variable naming a container's token file.
pub const TOKEN_FILE_ENV: &str = "HADOOP_TOKEN_FILE_LOCATION";
/// The kind of the token an ApplicationMaster authenticates to the scheduler with.
pub const AMRM_TOKEN_KIND: &str = "YARN_AM_RM_TOKEN";
/// Token files larger than this are refused (real ones hold a few tokens of ~100 bytes).
pub const MAX_TOKEN_FILE_LEN: u64 = 16 * 1024 * 1024;

const MAGIC: &[u8; 4] = b"HDTS";
const FORMAT_WRITABLE: u8 = 0;
const FORMAT_PROTOBUF: u8 = 1;

/// Tokens and secrets by alias. `Debug` prints no passwords or secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// (alias, token) in file order. The AMRMToken's alias and service are empty.
    pub tokens: Vec<(String, Token)>,
    /// (alias, secret key) in file order.
    pub secrets: Vec<(String, Vec<u8>)>,
}

impl Credentials {
    /// The file named by `$HADOOP_TOKEN_FILE_LOCATION`.
    pub fn from_env() -> Result<Self> {
        let path = std::env::var_os(TOKEN_FILE_ENV).ok_or_else(|| Error::TokenFile {
            path: format!("${TOKEN_FILE_ENV}"),
            message: "environment variable is not set (not running in a YARN container?)".into(),
        })?;
        Self::read_file(Path::new(&path))
    }

    /// Reads and parses a token storage file.
    pub fn read_file(path: &Path) -> Result<Self> {
        let err = |message: String| Error::TokenFile {
            path: path.display().to_string(),
            message,
        };
        let len = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.len();
        if len > MAX_TOKEN_FILE_LEN {
            return Err(err(format!(
                "{len} bytes, more than the {MAX_TOKEN_FILE_LEN} allowed"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Self::parse(&bytes).map_err(err)
    }

    /// Parses token storage bytes; the error says what is wrong and where.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .ok_or("does not start with the token storage magic \"HDTS\"")?;
        let (&format, body) = rest.split_first().ok_or("truncated: no format byte")?;
        match format {
            FORMAT_WRITABLE => parse_writable(body),
            FORMAT_PROTOBUF => parse_protobuf(body),
            other => Err(format!("unknown token storage format {other}")),
        }
    }

    /// The Writable form (format 0), what Hadoop writes by default.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(FORMAT_WRITABLE);
        write_vint(&mut out, self.tokens.len() as i64);
        for (alias, t) in &self.tokens {
            write_bytes(&mut out, alias.as_bytes());
            write_bytes(&mut out, &t.identifier);
            write_bytes(&mut out, &t.password);
            write_bytes(&mut out, t.kind.as_bytes());
            write_bytes(&mut out, t.service.as_bytes());
        }
        write_vint(&mut out, self.secrets.len() as i64);
        for (alias, s) in &self.secrets {
            write_bytes(&mut out, alias.as_bytes());
            write_bytes(&mut out, s);
        }
        out
    }

    /// The protobuf form (format 1).
    pub fn to_protobuf_bytes(&self) -> Vec<u8> {
        let msg = CredentialsProto {
            tokens: self
                .tokens
                .iter()
                .map(|(alias, t)| CredentialsKvProto {
                    alias: alias.clone(),
                    token: Some(token_into_proto(t.clone())),
                    secret: None,
                })
                .collect(),
            secrets: self
                .secrets
                .iter()
                .map(|(alias, s)| CredentialsKvProto {
                    alias: alias.clone(),
                    token: None,
                    secret: Some(s.clone()),
                })
                .collect(),
        };
        let mut out = MAGIC.to_vec();
        out.push(FORMAT_PROTOBUF);
        out.extend(msg.encode_length_delimited_to_vec());
        out
    }

    /// The first token of `kind`.
    pub fn token_of_kind(&self, kind: &str) -> Option<&Token> {
        self.tokens.iter().map(|(_, t)| t).find(|t| t.kind == kind)
    }

    /// The AMRMToken (chosen by kind: its alias and service are empty in the file).
    pub fn amrm_token(&self) -> Result<Token> {
        self.token_of_kind(AMRM_TOKEN_KIND).cloned().ok_or_else(|| {
            let kinds: Vec<&str> = self.tokens.iter().map(|(_, t)| t.kind.as_str()).collect();
            Error::TokenFile {
                path: format!("${TOKEN_FILE_ENV}"),
                message: format!("no {AMRM_TOKEN_KIND} token (kinds present: {kinds:?})"),
            }
        })
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secrets: Vec<&str> = self.secrets.iter().map(|(a, _)| a.as_str()).collect();
        f.debug_struct("Credentials")
            .field("tokens", &self.tokens)
            .field("secret_aliases", &secrets)
            .finish()
    }
}

fn parse_writable(body: &[u8]) -> std::result::Result<Credentials, String> {
    let mut r = Reader { buf: body, pos: 0 };
    let mut creds = Credentials::default();
    let n = r.count("token count")?;
    for i in 0..n {
        let at = |e: String| format!("token {i}: {e}");
        let alias = r.text("alias").map_err(at)?;
        let identifier = r.bytes("identifier").map_err(at)?.to_vec();
        let password = r.bytes("password").map_err(at)?.to_vec();
        let kind = r.text("kind").map_err(at)?;
        let service = r.text("service").map_err(at)?;
        let token = Token {
            identifier,
            password,
            kind,
            service,
        };
        creds.tokens.push((alias, token));
    }
    let m = r.count("secret count")?;
    for i in 0..m {
        let at = |e: String| format!("secret {i}: {e}");
        let alias = r.text("alias").map_err(at)?;
        let secret = r.bytes("secret").map_err(at)?.to_vec();
        creds.secrets.push((alias, secret));
    }
    if r.pos != body.len() {
        return Err(format!(
            "{} unexpected bytes after the secrets",
            body.len() - r.pos
        ));
    }
    Ok(creds)
}

fn parse_protobuf(body: &[u8]) -> std::result::Result<Credentials, String> {
    let mut buf = body;
    let msg = CredentialsProto::decode_length_delimited(&mut buf)
        .map_err(|e| format!("malformed protobuf credentials: {e}"))?;
    let mut creds = Credentials::default();
    for kv in msg.tokens {
        let token = kv
            .token
            .ok_or_else(|| format!("token entry '{}' without a token", kv.alias))?;
        creds.tokens.push((kv.alias, token_from_proto(token)));
    }
    for kv in msg.secrets {
        creds.secrets.push((kv.alias, kv.secret.unwrap_or_default()));
    }
    Ok(creds)
}

/// A cursor over untrusted bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &str) -> std::result::Result<u8, String> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| format!("truncated in {what} at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    /// Hadoop's `WritableUtils.readVLong`.
    fn vlong(&mut self, what: &str) -> std::result::Result<i64, String> {
        let first = self.byte(what)? as i8;
        if first >= -112 {
            return Ok(i64::from(first));
        }
        let negative = first < -120;
        let len = if negative { -(first + 120) } else { -(first + 112) };
        let mut v: i64 = 0;
        for _ in 0..len {
            v = (v << 8) | i64::from(self.byte(what)?);
        }
        Ok(if negative { !v } else { v })
    }

    /// A non-negative `VInt` no larger than what is left: an element count or a byte length.
    fn count(&mut self, what: &str) -> std::result::Result<usize, String> {
        let at = self.pos;
        let v = self.vlong(what)?;
        let left = self.buf.len() - self.pos;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| format!("{what} {v} at byte {at} is negative or exceeds the {left} bytes left"))
    }

    fn bytes(&mut self, what: &str) -> std::result::Result<&'a [u8], String> {
        let len = self.count(what)?;
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    fn text(&mut self, what: &str) -> std::result::Result<String, String> {
        let at = self.pos;
        let b = self.bytes(what)?;
        String::from_utf8(b.to_vec()).map_err(|_| format!("{what} at byte {at} is not UTF-8"))
    }
}

/// Hadoop's `WritableUtils.writeVLong`.
fn write_vint(out: &mut Vec<u8>, v: i64) {
    if (-112..=127).contains(&v) {
        out.push(v as i8 as u8);
        return;
    }
    let (mut len, magnitude): (i64, i64) = if v < 0 { (-120, !v) } else { (-112, v) };
    let mut tmp = magnitude;
    while tmp != 0 {
        tmp >>= 8;
        len -= 1;
    }
    out.push(len as i8 as u8);
    let bytes = if len < -120 { -(len + 120) } else { -(len + 112) };
    for idx in (0..bytes).rev() {
        out.push((magnitude >> (idx * 8)) as u8);
    }
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_vint(out, b.len() as i64);
    out.extend_from_slice(b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amrm() -> Token {
        Token {
            identifier: (0..21).collect(),
            password: vec![7; 20],
            kind: AMRM_TOKEN_KIND.into(),
            service: String::new(),
        }
    }

    fn sample() -> Credentials {
        Credentials {
            tokens: vec![
                (String::new(), amrm()),
                (
                    "127.0.0.1:9000".into(),
                    Token {
                        identifier: vec![1; 300],
                        password: vec![2; 3],
                        kind: "HDFS_DELEGATION_TOKEN".into(),
                        service: "127.0.0.1:9000".into(),
                    },
                ),
            ],
            secrets: vec![("key".into(), vec![9; 130])],
        }
    }

    #[test]
    fn vints_match_hadoops_encoding() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0]),
            (127, &[0x7f]),
            (-112, &[0x90]),
            (128, &[0x8f, 0x80]),
            (300, &[0x8e, 0x01, 0x2c]),
            (-113, &[0x87, 0x70]),
            (i64::MAX, &[0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            (i64::MIN, &[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ];
        for &(v, bytes) in cases {
            let mut out = Vec::new();
            write_vint(&mut out, v);
            assert_eq!(out, bytes, "{v}");
            let mut r = Reader { buf: bytes, pos: 0 };
            assert_eq!(r.vlong("v").unwrap(), v);
            assert_eq!(r.pos, bytes.len());
        }
    }

    #[test]
    fn a_real_am_token_file() {
        // The layout of a NodeManager-written AM token file: one token with an empty alias and
        // service, no secrets.
        let mut file = b"HDTS\x00\x01\x00\x15".to_vec();
        file.extend(0..21u8);
        file.push(0x14);
        file.extend([7u8; 20]);
        file.push(0x10);
        file.extend(b"YARN_AM_RM_TOKEN");
        file.extend([0x00, 0x00]);
        assert_eq!(file.len(), 69);
        let creds = Credentials::parse(&file).unwrap();
        assert_eq!(creds.tokens, vec![(String::new(), amrm())]);
        assert!(creds.secrets.is_empty());
        assert_eq!(creds.amrm_token().unwrap(), amrm());
        assert_eq!(creds.to_bytes(), file);
    }

    #[test]
    fn both_formats_round_trip() {
        let c = sample();
        assert_eq!(Credentials::parse(&c.to_bytes()).unwrap(), c);
        assert_eq!(Credentials::parse(&c.to_protobuf_bytes()).unwrap(), c);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("[9, 9") && dbg.contains("secret_aliases"), "{dbg}");
        let none = Credentials::default();
        assert!(none.amrm_token().is_err());
        assert_eq!(Credentials::parse(&none.to_bytes()).unwrap(), none);
    }

    #[test]
    fn truncated_input_is_an_error_at_every_length() {
        for bytes in [sample().to_bytes(), sample().to_protobuf_bytes()] {
            for cut in 0..bytes.len() {
                assert!(Credentials::parse(&bytes[..cut]).is_err(), "cut at {cut}");
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"HDT",
            b"XDTS\x00\x00\x00",
            b"HDTS\x02\x00\x00",
            // A huge token count, a negative length, an 8-byte length.
            b"HDTS\x00\x8c\x7f\xff\xff\xff",
            b"HDTS\x00\x01\x00\xff",
            b"HDTS\x00\x01\x00\x88\x7f\xff\xff\xff\xff\xff\xff\xff",
            // Alias not UTF-8.
            b"HDTS\x00\x01\x01\xff\x00\x00\x00\x00\x00",
            // Trailing bytes.
            b"HDTS\x00\x00\x00\x00",
            // Protobuf: bad length, bad message.
            b"HDTS\x01\xff\xff\xff\xff\x0f",
            b"HDTS\x01\x02\x0a\x05",
        ] {
            assert!(Credentials::parse(bad).is_err(), "{bad:?}");
        }
        // Every single-byte corruption of a valid file parses or fails, without panicking.
        let good = sample().to_bytes();
        for i in 0..good.len() {
            for v in [0x00, 0x7f, 0x80, 0x88, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = Credentials::parse(&b);
            }
        }
    }

    #[test]
    fn files_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("container_tokens");
        std::fs::write(&path, sample().to_bytes()).unwrap();
        assert_eq!(Credentials::read_file(&path).unwrap(), sample());
        std::fs::write(&path, b"HDTS\x00\x05").unwrap();
        let err = Credentials::read_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("container_tokens") && err.contains("token count"),
            "{err}"
        );
        assert!(Credentials::read_file(&dir.path().join("missing")).is_err());
    }
}
