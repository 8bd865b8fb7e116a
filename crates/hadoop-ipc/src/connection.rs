//! One Hadoop IPC connection over TCP: connect (bounded timeout and retries with backoff),
//! preamble, authentication (SIMPLE, or SASL TOKEN/DIGEST-MD5), connection context, then calls.
//!
//! Calls are made one at a time (`&mut self`); a response's call id must match the request's.
//! After an error for which [`Error::breaks_connection`] is true, drop the connection and make a
//! new one.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

use prost::Message;

use crate::error::{Error, Result};
use crate::frame::{encode_packet, parse_response, read_frame, MAX_FRAME_LEN};
use crate::proto::common::rpc_request_header_proto::OperationProto;
use crate::proto::common::{
    IpcConnectionContextProto, RequestHeaderProto, RpcKindProto, RpcRequestHeaderProto, UserInformationProto,
};
use crate::sasl::{self, Next};
use crate::token::Token;

/// Call id of the connection context.
const CONTEXT_CALL_ID: i32 = -3;
/// Auth protocol byte of the preamble: none (SIMPLE) or SASL.
const AUTH_NONE: u8 = 0;
const AUTH_SASL: u8 = 0xDF; // -33

/// How a connection authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No SASL; the server trusts the user name the client states (`hadoop.security.authentication=simple`).
    Simple { user: String },
    /// SASL DIGEST-MD5 with a token; the token defines the user.
    Token(Token),
}

/// Timeouts and retries of a connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Limit for one TCP connect attempt.
    pub connect_timeout: Duration,
    /// Limit for waiting for any response bytes (also bounds SASL).
    pub read_timeout: Duration,
    /// Connect attempts before giving up (at least 1).
    pub attempts: u32,
    /// Pause after the first failed attempt; doubles after each further one.
    pub backoff: Duration,
}

impl Default for ConnectOptions {
    /// 3 attempts of 2 s with 200 ms, 400 ms pauses: a refused connection fails in under a
    /// second, an unreachable host in under 7 s.
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// An authenticated connection to one server for one protocol.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    protocol: String,
    stream: TcpStream,
    client_id: [u8; 16],
    next_call_id: i32,
    read_timeout: Duration,
}

impl Connection {
    /// Connects to `addr` (`host:port`) for `protocol` (e.g.
    /// `org.apache.hadoop.hdfs.protocol.ClientProtocol`) and authenticates.
    pub fn connect(addr: &str, protocol: &str, auth: &Auth, opts: &ConnectOptions) -> Result<Self> {
        let stream = connect_with_retry(addr, opts)?;
        let io_err = |source| Error::Io {
            addr: addr.to_string(),
            source,
        };
        stream.set_read_timeout(Some(opts.read_timeout)).map_err(io_err)?;
        stream
            .set_write_timeout(Some(opts.read_timeout))
            .map_err(io_err)?;
        stream.set_nodelay(true).map_err(io_err)?;
        let mut conn = Connection {
            addr: addr.to_string(),
            protocol: protocol.to_string(),
            stream,
            client_id: crate::random::client_id(),
            next_call_id: 0,
            read_timeout: opts.read_timeout,
        };
        let user = match auth {
            Auth::Simple { user } => {
                conn.send(&preamble(AUTH_NONE))?;
                Some(user.as_str())
            }
            Auth::Token(token) => {
                conn.sasl_handshake(token)?;
                None // the token defines the user; the server refuses another one
            }
        };
        conn.send_context(user)?;
        tracing::debug!(addr, protocol, "hadoop ipc connection established");
        Ok(conn)
    }

    /// The server's address as given to [`Connection::connect`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Calls `method` of this connection's protocol and decodes its response.
    pub fn call<Req: Message, Resp: Message + Default>(
        &mut self,
        method: &str,
        request: &Req,
    ) -> Result<Resp> {
        let call_id = self.next_call_id;
        self.next_call_id = (self.next_call_id + 1) & i32::MAX;
        let header = self.request_header(call_id, 0);
        let method_header = RequestHeaderProto {
            method_name: method.to_string(),
            declaring_class_protocol_name: self.protocol.clone(),
            client_protocol_version: 1,
        };
        self.send(&encode_packet(&[&header, &method_header, request]))?;
        let frame = self.read_frame()?;
        let resp = parse_response(&frame)?;
        if resp.call_id != call_id {
            if let Err(remote) = resp.body {
                return Err(remote.into()); // e.g. a FATAL error with call id -1
            }
            return Err(Error::protocol(format!(
                "response for call {} while waiting for call {call_id}",
                resp.call_id
            )));
        }
        let body = resp.body?;
        Resp::decode(body).map_err(|source| Error::Decode {
            what: "rpc response",
            source,
        })
    }

    fn sasl_handshake(&mut self, token: &Token) -> Result<()> {
        let mut first = preamble(AUTH_SASL);
        first.extend_from_slice(&sasl::negotiate_packet());
        self.send(&first)?;
        let reply = sasl::decode_reply(&self.read_frame()?)?;
        match sasl::on_negotiate(&reply, token)? {
            Next::Simple => Ok(()),
            Next::Initiate { packet, digest } => {
                self.send(&packet)?;
                let reply = sasl::decode_reply(&self.read_frame()?)?;
                sasl::on_final(&reply, &digest)
            }
        }
    }

    fn send_context(&mut self, user: Option<&str>) -> Result<()> {
        let header = self.request_header(CONTEXT_CALL_ID, -1);
        let context = IpcConnectionContextProto {
            user_info: user.map(|u| UserInformationProto {
                effective_user: Some(u.to_string()),
                real_user: None,
            }),
            protocol: Some(self.protocol.clone()),
        };
        self.send(&encode_packet(&[&header, &context]))
    }

    fn request_header(&self, call_id: i32, retry_count: i32) -> RpcRequestHeaderProto {
        RpcRequestHeaderProto {
            rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
            rpc_op: Some(OperationProto::RpcFinalPacket as i32),
            call_id,
            client_id: self.client_id.to_vec(),
            retry_count: Some(retry_count),
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).map_err(|source| Error::Io {
            addr: self.addr.clone(),
            source,
        })
    }

    fn read_frame(&mut self) -> Result<Vec<u8>> {
        read_frame(&mut self.stream, MAX_FRAME_LEN).map_err(|e| {
            let e = e.into_error(&self.addr);
            match e {
                Error::Io { addr, source }
                    if matches!(source.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
                {
                    let msg = format!("no response within {:?}", self.read_timeout);
                    Error::Io {
                        addr,
                        source: io::Error::new(io::ErrorKind::TimedOut, msg),
                    }
                }
                Error::Io { addr, source } if source.kind() == io::ErrorKind::UnexpectedEof => {
                    let msg = "the server closed the connection";
                    Error::Io {
                        addr,
                        source: io::Error::new(io::ErrorKind::UnexpectedEof, msg),
                    }
                }
                other => other,
            }
        })
    }
}

/// `hrpc`, version 9, service class 0, auth protocol.
fn preamble(auth: u8) -> Vec<u8> {
    vec![b'h', b'r', b'p', b'c', 9, 0, auth]
}

/// Resolves `addr` and connects, retrying with backoff; the error names the address.
fn connect_with_retry(addr: &str, opts: &ConnectOptions) -> Result<TcpStream> {
    let attempts = opts.attempts.max(1);
    let mut backoff = opts.backoff;
    let mut last = io::Error::other("no attempt made");
    for attempt in 1..=attempts {
        match try_connect(addr, opts.connect_timeout) {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::debug!(addr, attempt, error = %e, "hadoop ipc connect failed");
                last = e;
            }
        }
        if attempt < attempts {
            thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
        }
    }
    Err(Error::Connect {
        addr: addr.to_string(),
        attempts,
        source: last,
    })
}

fn try_connect(addr: &str, timeout: Duration) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "address resolves to nothing");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    /// A named thread playing a misbehaving server.
    fn fake_server(f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
        thread::Builder::new()
            .name("fake-ipc-server".into())
            .spawn(f)
            .unwrap()
    }

    #[test]
    fn refused_connection_fails_fast_naming_the_address() {
        // Bind then drop to get a port nobody listens on.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        let opts = ConnectOptions {
            backoff: Duration::from_millis(10),
            ..Default::default()
        };
        let err = Connection::connect(&addr, "p", &Auth::Simple { user: "u".into() }, &opts).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        let msg = err.to_string();
        assert!(msg.contains(&addr) && msg.contains("3 attempt"), "{msg}");
    }

    #[test]
    fn silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = fake_server(move || {
            let (s, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(800));
            drop(s);
        });
        let opts = ConnectOptions {
            read_timeout: Duration::from_millis(200),
            ..Default::default()
        };
        let mut conn = Connection::connect(&addr, "p", &Auth::Simple { user: "u".into() }, &opts).unwrap();
        let req = RequestHeaderProto::default();
        let err = conn.call::<_, RequestHeaderProto>("m", &req).unwrap_err();
        assert!(err.to_string().contains("no response within"), "{err}");
        assert!(err.breaks_connection());
        server.join().unwrap();
    }

    #[test]
    fn garbage_server_gives_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = fake_server(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
            thread::sleep(Duration::from_millis(200));
        });
        let mut conn = Connection::connect(
            &addr,
            "p",
            &Auth::Simple { user: "u".into() },
            &Default::default(),
        )
        .unwrap();
        let err = conn
            .call::<_, RequestHeaderProto>("m", &RequestHeaderProto::default())
            .unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { .. }), "{err}");
        server.join().unwrap();
    }
}
