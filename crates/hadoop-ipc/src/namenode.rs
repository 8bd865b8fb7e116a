//! Calls to the NameNode (`ClientNamenodeProtocol`) that the engine needs and `hdfs-native` does
//! not expose: block locations (for locality-aware splits), file status, listings, delegation
//! tokens.
//!
//! A client knows one NameNode, or the NameNodes of an HA nameservice in the configured order (see
//! [`crate::conf`]). It uses one at a time; when a call meets a NameNode that cannot be reached or
//! answers `org.apache.hadoop.ipc.StandbyException`, the call moves on to the next one, each tried
//! at most once per call, and the client stays with the one that answered. Failing over repeats a
//! call, which is safe here: every call is a read, except that a delegation token may be issued
//! twice (the first one is never used).
//!
//! ```no_run
//! # fn main() -> spate_hadoop_ipc::Result<()> {
//! let nn = spate_hadoop_ipc::NameNodeClient::from_env()?; // $HADOOP_CONF_DIR, $HADOOP_USER_NAME
//! for b in nn.get_block_locations("/data/input.txt", 0, u64::MAX)? {
//!     println!("{} +{} on {:?}", b.offset, b.length, b.hosts);
//! }
//! # Ok(()) }
//! ```

use std::sync::{Mutex, MutexGuard};

use prost::Message;

use crate::conf::HadoopConf;
use crate::connection::{Auth, ConnectOptions, Connection};
use crate::error::{Error, RemoteException, Result};
use crate::proto::common::{GetDelegationTokenRequestProto, GetDelegationTokenResponseProto};
use crate::proto::hdfs::{
    GetBlockLocationsRequestProto, GetBlockLocationsResponseProto, GetFileInfoRequestProto,
    GetFileInfoResponseProto, GetListingRequestProto, GetListingResponseProto,
};
use crate::token::Token;
use crate::types::{block_locations, BlockLocation, FileStatus};

/// The protocol name of client ↔ NameNode calls (version 1).
pub const CLIENT_PROTOCOL: &str = "org.apache.hadoop.hdfs.protocol.ClientProtocol";

/// A client of one NameNode or of an HA nameservice's NameNodes. Calls are serialized over one
/// connection, which is re-made once when it broke (e.g. the server closed an idle connection).
#[derive(Debug)]
pub struct NameNodeClient {
    /// The NameNodes, in the order to try them.
    addrs: Vec<String>,
    auth: Auth,
    opts: ConnectOptions,
    state: Mutex<Active>,
}

/// The NameNode in use and the connection to it.
#[derive(Debug)]
struct Active {
    /// Index into `addrs`.
    index: usize,
    conn: Option<Connection>,
}

impl NameNodeClient {
    /// Connects to the NameNode at `addr` (`host:port`) as `user`, with SIMPLE authentication.
    pub fn connect(addr: &str, user: &str) -> Result<Self> {
        Self::connect_with(
            addr,
            Auth::Simple {
                user: user.to_string(),
            },
            ConnectOptions::default(),
        )
    }

    /// Connects with the given authentication and options.
    pub fn connect_with(addr: &str, auth: Auth, opts: ConnectOptions) -> Result<Self> {
        Self::connect_any(&[addr.to_string()], auth, opts)
    }

    /// Connects to the first of `addrs` (the NameNodes of one nameservice, in order) that can be
    /// reached; calls fail over to the others (see the module docs).
    pub fn connect_any(addrs: &[String], auth: Auth, opts: ConnectOptions) -> Result<Self> {
        let mut last = Error::InvalidAddress(String::new());
        for (index, addr) in addrs.iter().enumerate() {
            match Connection::connect(addr, CLIENT_PROTOCOL, &auth, &opts) {
                Ok(conn) => {
                    return Ok(NameNodeClient {
                        addrs: addrs.to_vec(),
                        auth,
                        opts,
                        state: Mutex::new(Active {
                            index,
                            conn: Some(conn),
                        }),
                    })
                }
                Err(e) if fails_over(&e) => {
                    tracing::debug!(%addr, error = %e, "namenode unreachable, trying the next one");
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Connects to the NameNode(s) of `fs.defaultFS` as `user`.
    pub fn from_conf(conf: &HadoopConf, user: &str) -> Result<Self> {
        Self::connect_any(
            &conf.namenode_addresses()?,
            Auth::Simple {
                user: user.to_string(),
            },
            ConnectOptions::default(),
        )
    }

    /// Connects to the NameNode(s) of the `hdfs://` authority `authority` (a `host:port` or a
    /// nameservice of `conf`) as `user`.
    pub fn for_authority(conf: &HadoopConf, authority: &str, user: &str) -> Result<Self> {
        Self::connect_any(
            &conf.namenode_addresses_of(authority)?,
            Auth::Simple {
                user: user.to_string(),
            },
            ConnectOptions::default(),
        )
    }

    /// Connects to the NameNode of `$HADOOP_CONF_DIR` as [`current_user`].
    pub fn from_env() -> Result<Self> {
        Self::from_conf(&HadoopConf::from_env()?, &current_user())
    }

    /// The `host:port` of the NameNode in use.
    pub fn addr(&self) -> String {
        self.addrs[self.lock().index].clone()
    }

    /// The blocks overlapping `[offset, offset + length)` of a file, in file order.
    /// A missing path is an [`Error::Remote`] with [`RemoteException::is_file_not_found`].
    pub fn get_block_locations(&self, path: &str, offset: u64, length: u64) -> Result<Vec<BlockLocation>> {
        let src = hdfs_path(path)?;
        // The NameNode takes signed longs: clamp so u64::MAX means "to the end".
        let clamp = |v: u64| v.min(i64::MAX as u64);
        let req = GetBlockLocationsRequestProto {
            src: src.clone(),
            offset: clamp(offset),
            length: clamp(length),
        };
        let resp: GetBlockLocationsResponseProto = self.call("getBlockLocations", &req)?;
        let located = resp.locations.ok_or_else(|| not_found(&src))?;
        Ok(block_locations(located))
    }

    /// The status of a path, or `None` if it does not exist.
    pub fn get_file_info(&self, path: &str) -> Result<Option<FileStatus>> {
        let src = hdfs_path(path)?;
        let resp: GetFileInfoResponseProto =
            self.call("getFileInfo", &GetFileInfoRequestProto { src: src.clone() })?;
        resp.fs.map(|fs| FileStatus::from_proto(fs, &src)).transpose()
    }

    /// The entries of a directory (or the file itself), fetching every page.
    pub fn list(&self, path: &str) -> Result<Vec<FileStatus>> {
        let src = hdfs_path(path)?;
        let mut out = Vec::new();
        let mut start_after = Vec::new();
        loop {
            let req = GetListingRequestProto {
                src: src.clone(),
                start_after,
                need_location: false,
            };
            let resp: GetListingResponseProto = self.call("getListing", &req)?;
            let page = resp.dir_list.ok_or_else(|| not_found(&src))?;
            let last = page.partial_listing.last().map(|s| s.path.clone());
            for status in page.partial_listing {
                // Listing a file returns the file itself, with an empty name.
                out.push(FileStatus::from_proto(status, &src)?);
            }
            match last {
                Some(name) if page.remaining_entries > 0 => start_after = name,
                None if page.remaining_entries > 0 => {
                    return Err(Error::protocol("empty listing page with entries remaining"));
                }
                _ => return Ok(out),
            }
        }
    }

    /// A new HDFS delegation token that `renewer` may renew. The NameNode issues them only on
    /// secure clusters, or with `dfs.namenode.delegation.token.always-use=true`.
    pub fn get_delegation_token(&self, renewer: &str) -> Result<Token> {
        let req = GetDelegationTokenRequestProto {
            renewer: renewer.to_string(),
        };
        let resp: GetDelegationTokenResponseProto = self.call("getDelegationToken", &req)?;
        let token = resp.token.ok_or_else(|| {
            Error::protocol(format!(
                "the NameNode at {} issued no delegation token (simple auth without \
                 dfs.namenode.delegation.token.always-use=true?)",
                self.addr()
            ))
        })?;
        Ok(Token::from_proto(token))
    }

    /// Calls `method`, failing over to the next NameNode when one is unreachable or standby.
    fn call<Req: Message, Resp: Message + Default>(&self, method: &str, req: &Req) -> Result<Resp> {
        let mut active = self.lock();
        let mut tried = 1;
        loop {
            match self.call_active(&mut active, method, req) {
                Err(e) if tried < self.addrs.len() && fails_over(&e) => {
                    active.conn = None;
                    active.index = (active.index + 1) % self.addrs.len();
                    tracing::debug!(
                        method,
                        error = %e,
                        next = %self.addrs[active.index],
                        "failing over to the next namenode"
                    );
                    tried += 1;
                }
                other => return other,
            }
        }
    }

    /// Calls `method` on the NameNode in use (connecting first if needed), once more on a new
    /// connection when the old one broke.
    fn call_active<Req: Message, Resp: Message + Default>(
        &self,
        active: &mut Active,
        method: &str,
        req: &Req,
    ) -> Result<Resp> {
        let addr = &self.addrs[active.index];
        let connect = || Connection::connect(addr, CLIENT_PROTOCOL, &self.auth, &self.opts);
        let first = match active.conn.as_mut() {
            Some(conn) => conn.call(method, req),
            None => Err(Error::Io {
                addr: addr.clone(),
                source: std::io::Error::other("not connected"),
            }),
        };
        match first {
            Err(e) if e.breaks_connection() => {
                active.conn = None;
                if !matches!(e, Error::Io { .. }) {
                    return Err(e);
                }
                tracing::debug!(%addr, error = %e, "reconnecting to the namenode");
                let conn = active.conn.insert(connect()?);
                let second = conn.call(method, req);
                if second.as_ref().is_err_and(Error::breaks_connection) {
                    active.conn = None;
                }
                second
            }
            other => other,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Active> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether a call that failed so may succeed on another NameNode of the nameservice: this one
/// cannot be reached, or it is the standby.
fn fails_over(e: &Error) -> bool {
    matches!(e, Error::Connect { .. } | Error::Io { .. })
        || e.remote().is_some_and(RemoteException::is_standby)
}

/// The Hadoop user name: `$HADOOP_USER_NAME`, else `$USER`, else `spate`.
pub fn current_user() -> String {
    ["HADOOP_USER_NAME", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "spate".to_string())
}

/// The NameNode's view of a path: `hdfs://host:port/p` → `/p`; absolute paths unchanged.
fn hdfs_path(path: &str) -> Result<String> {
    let p = match path.strip_prefix("hdfs://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    if !p.starts_with('/') {
        return Err(Error::InvalidPath(path.to_string()));
    }
    Ok(p.to_string())
}

/// What Java's client throws when the NameNode returns nothing for a path.
fn not_found(path: &str) -> Error {
    Error::Remote(RemoteException {
        class_name: "java.io.FileNotFoundException".into(),
        message: format!("File {path} does not exist."),
        fatal: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{encode_packet, read_frame, Parts, MAX_FRAME_LEN};
    use crate::proto::common::rpc_response_header_proto::RpcStatusProto;
    use crate::proto::common::{RpcRequestHeaderProto, RpcResponseHeaderProto};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    const STANDBY: &str = "org.apache.hadoop.ipc.StandbyException";

    /// A NameNode on a local port answering every call on one connection: with a
    /// `StandbyException` when `standby`, else with "no such file". Counts the calls it gets.
    fn fake_namenode(standby: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        std::thread::Builder::new()
            .name("fake-namenode".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { return };
                    let mut preamble = [0u8; 7];
                    if stream.read_exact(&mut preamble).is_err() {
                        continue;
                    }
                    let _context = read_frame(&mut stream, MAX_FRAME_LEN);
                    while let Ok(frame) = read_frame(&mut stream, MAX_FRAME_LEN) {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let request: RpcRequestHeaderProto =
                            Parts::new(&frame).next_message("request header").unwrap();
                        let mut header = RpcResponseHeaderProto {
                            call_id: request.call_id as u32,
                            status: RpcStatusProto::Success as i32,
                            ..Default::default()
                        };
                        let reply = if standby {
                            header.status = RpcStatusProto::Error as i32;
                            header.exception_class_name = Some(STANDBY.into());
                            header.error_msg =
                                Some("Operation category READ is not supported in state standby".into());
                            encode_packet(&[&header])
                        } else {
                            encode_packet(&[&header, &GetFileInfoResponseProto { fs: None }])
                        };
                        if stream.write_all(&reply).is_err() {
                            break;
                        }
                    }
                }
            })
            .unwrap();
        (addr, calls)
    }

    fn refused_addr() -> String {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        format!("127.0.0.1:{port}")
    }

    fn quick() -> ConnectOptions {
        ConnectOptions {
            backoff: Duration::from_millis(10),
            ..Default::default()
        }
    }

    fn simple() -> Auth {
        Auth::Simple { user: "u".into() }
    }

    #[test]
    fn calls_fail_over_past_unreachable_and_standby_namenodes_and_stay() {
        let (standby, standby_calls) = fake_namenode(true);
        let (active, active_calls) = fake_namenode(false);
        let addrs = [refused_addr(), standby.clone(), active.clone()];
        let nn = NameNodeClient::connect_any(&addrs, simple(), quick()).unwrap();
        assert_eq!(nn.addr(), standby, "the first reachable one");
        assert_eq!(nn.get_file_info("/x").unwrap(), None);
        assert_eq!(nn.addr(), active);
        assert_eq!(nn.get_file_info("/y").unwrap(), None);
        assert_eq!(standby_calls.load(Ordering::SeqCst), 1, "the active one is kept");
        assert_eq!(active_calls.load(Ordering::SeqCst), 2);

        // Only standbys: the call fails with the standby's exception.
        let nn = NameNodeClient::connect_any(&[standby.clone(), standby], simple(), quick()).unwrap();
        let e = nn.get_file_info("/x").unwrap_err();
        assert!(e.remote().is_some_and(RemoteException::is_standby), "{e}");
        // None reachable: the last connect error, naming its address.
        let dead = [refused_addr(), refused_addr()];
        let e = NameNodeClient::connect_any(&dead, simple(), quick())
            .unwrap_err()
            .to_string();
        assert!(e.contains(&dead[1]), "{e}");
        assert!(NameNodeClient::connect_any(&[], simple(), quick()).is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(hdfs_path("/a/b").unwrap(), "/a/b");
        assert_eq!(hdfs_path("hdfs://nn:8020/a").unwrap(), "/a");
        assert_eq!(hdfs_path("hdfs://nn:8020").unwrap(), "/");
        assert!(hdfs_path("a/b").is_err());
        assert!(hdfs_path("file:///a").is_err());
        assert!(not_found("/x")
            .remote()
            .is_some_and(RemoteException::is_file_not_found));
    }
}
