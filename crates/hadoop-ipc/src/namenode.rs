//! Calls to the NameNode (`ClientNamenodeProtocol`) that the engine needs and `hdfs-native` does
//! not expose: block locations (for locality-aware splits), file status, listings, delegation
//! tokens.
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

/// A client of one NameNode. Calls are serialized over one connection, which is re-made once
/// when it broke (e.g. the server closed an idle connection).
#[derive(Debug)]
pub struct NameNodeClient {
    addr: String,
    auth: Auth,
    opts: ConnectOptions,
    conn: Mutex<Option<Connection>>,
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
        let conn = Connection::connect(addr, CLIENT_PROTOCOL, &auth, &opts)?;
        Ok(NameNodeClient {
            addr: addr.to_string(),
            auth,
            opts,
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Connects to the NameNode of `fs.defaultFS` as `user`.
    pub fn from_conf(conf: &HadoopConf, user: &str) -> Result<Self> {
        Self::connect(&conf.namenode_address()?, user)
    }

    /// Connects to the NameNode of `$HADOOP_CONF_DIR` as [`current_user`].
    pub fn from_env() -> Result<Self> {
        Self::from_conf(&HadoopConf::from_env()?, &current_user())
    }

    /// The NameNode's `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
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
                self.addr
            ))
        })?;
        Ok(Token::from_proto(token))
    }

    fn call<Req: Message, Resp: Message + Default>(&self, method: &str, req: &Req) -> Result<Resp> {
        let mut guard = self.lock();
        let first = match guard.as_mut() {
            Some(conn) => conn.call(method, req),
            None => Err(Error::Io {
                addr: self.addr.clone(),
                source: std::io::Error::other("not connected"),
            }),
        };
        match first {
            Err(e) if e.breaks_connection() => {
                *guard = None;
                if !matches!(e, Error::Io { .. }) {
                    return Err(e);
                }
                tracing::debug!(addr = %self.addr, error = %e, "reconnecting to the namenode");
                let conn = guard.insert(Connection::connect(
                    &self.addr,
                    CLIENT_PROTOCOL,
                    &self.auth,
                    &self.opts,
                )?);
                let second = conn.call(method, req);
                if second.as_ref().is_err_and(Error::breaks_connection) {
                    *guard = None;
                }
                second
            }
            other => other,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
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
