//! The challenge-response handshake that opens every data connection (see the wire spec in
//! [`super`]).

use super::{NetError, Secret};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// First bytes of both greetings.
const MAGIC: [u8; 4] = *b"SPDP";
/// Protocol version; a peer with another version is refused.
pub(crate) const VERSION: u8 = 1;
const NONCE_LEN: usize = 32;
/// The server's challenge and the client's answer have the same size.
const GREETING_LEN: usize = MAGIC.len() + 1 + NONCE_LEN;
/// Appended to the nonce before it is MACed, so the answer is of no use to other protocols that
/// share the secret.
const CONTEXT: &[u8] = b"spate-data-plane";
/// The server's last handshake byte.
const OK: u8 = 1;
/// Longest wait for any handshake read or write.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Server side: challenges the client that just connected. `Err` says why it is refused (the
/// caller logs it and drops the connection).
pub(crate) fn accept(stream: &TcpStream, secret: &Secret) -> Result<(), String> {
    set_timeouts(stream, Some(HANDSHAKE_TIMEOUT)).map_err(|e| format!("cannot set timeouts: {e}"))?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| format!("no random nonce: {e}"))?;
    (&*stream)
        .write_all(&greeting(&nonce))
        .map_err(|e| format!("cannot send the challenge: {e}"))?;
    let mut answer = [0u8; GREETING_LEN];
    (&*stream).read_exact(&mut answer).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("no answer to the challenge within {HANDSHAKE_TIMEOUT:?}")
        }
        io::ErrorKind::UnexpectedEof => "connection closed during the handshake".to_string(),
        _ => format!("cannot read the answer to the challenge: {e}"),
    })?;
    if answer[..4] != MAGIC {
        return Err("not a Spate data plane client (bad magic)".into());
    }
    if answer[4] != VERSION {
        return Err(format!(
            "client speaks data plane protocol version {}, this process version {VERSION}",
            answer[4]
        ));
    }
    if !secret.verify(&nonce, CONTEXT, &answer[5..]) {
        return Err("wrong answer to the challenge (a different cluster secret?)".into());
    }
    (&*stream)
        .write_all(&[OK])
        .map_err(|e| format!("cannot confirm the handshake: {e}"))?;
    set_timeouts(stream, None).map_err(|e| format!("cannot clear timeouts: {e}"))
}

/// Client side: answers the challenge of the server at `peer`.
pub(crate) fn connect(stream: &TcpStream, secret: &Secret, peer: SocketAddr) -> Result<(), NetError> {
    let failed = |reason: String| NetError::Handshake { peer, reason };
    set_timeouts(stream, Some(HANDSHAKE_TIMEOUT)).map_err(|e| failed(format!("cannot set timeouts: {e}")))?;
    let mut challenge = [0u8; GREETING_LEN];
    (&*stream)
        .read_exact(&mut challenge)
        .map_err(|e| failed(format!("no challenge received: {e}")))?;
    if challenge[..4] != MAGIC {
        return Err(failed("the peer is not a Spate data plane (bad magic)".into()));
    }
    if challenge[4] != VERSION {
        return Err(failed(format!(
            "the peer speaks data plane protocol version {}, this process version {VERSION}",
            challenge[4]
        )));
    }
    let answer = secret.answer(&challenge[5..], CONTEXT);
    let mut reply = [0u8; GREETING_LEN];
    reply[..4].copy_from_slice(&MAGIC);
    reply[4] = VERSION;
    reply[5..].copy_from_slice(&answer);
    (&*stream)
        .write_all(&reply)
        .map_err(|e| failed(format!("cannot send the answer: {e}")))?;
    let mut ok = [0u8; 1];
    match (&*stream).read_exact(&mut ok) {
        Ok(()) if ok[0] == OK => {}
        Ok(()) => return Err(failed(format!("unexpected confirmation byte {}", ok[0]))),
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            return Err(failed(format!("no confirmation within {HANDSHAKE_TIMEOUT:?}")))
        }
        // The server closes the connection on a wrong answer.
        Err(_) => return Err(NetError::Rejected { peer }),
    }
    set_timeouts(stream, None).map_err(|e| failed(format!("cannot clear timeouts: {e}")))
}

fn greeting(nonce: &[u8; NONCE_LEN]) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[..4].copy_from_slice(&MAGIC);
    g[4] = VERSION;
    g[5..].copy_from_slice(nonce);
    g
}

fn set_timeouts(stream: &TcpStream, t: Option<Duration>) -> io::Result<()> {
    stream.set_read_timeout(t)?;
    stream.set_write_timeout(t)
}
