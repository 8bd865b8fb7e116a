//! HDFS through `hdfs-native`: the Hadoop configuration from `HADOOP_CONF_DIR` (`fs.defaultFS`,
//! HA nameservices), the Hadoop user (`HADOOP_USER_NAME`, else the OS user), on the crate's I/O
//! runtime.
//!
//! An authority is a NameNode (`host:port`) or a nameservice of the client configuration
//! (`dfs.nameservices`, `dfs.ha.namenodes.<ns>`, `dfs.namenode.rpc-address.<ns>.<nn>`); an empty
//! one means `fs.defaultFS`, which may name a nameservice too. For a nameservice both clients try
//! its NameNodes in the configured order and move on from one that refuses connections or is the
//! standby: `hdfs-native` for data and metadata calls (up to `dfs.client.failover.max.attempts`
//! failovers), `spate-hadoop-ipc`'s `NameNodeClient` for block locations (each NameNode once per
//! call).
//!
//! NameNode calls are bounded: each one is retried a few times with a short backoff when the
//! NameNode cannot be reached, within a deadline (10 s by default), then fail with
//! [`Error::Unreachable`] naming the URI. Reads and writes of block data rely on the DataNode
//! socket timeout of the Hadoop configuration (`dfs.client.socket-timeout`).

use crate::error::{Error, Result};
use crate::file_system::{BlockLocation, FileStatus, FileSystem, FileWriter};
use crate::hdfs_io::{HdfsReader, HdfsWriter};
use crate::runtime::{block_on, handle};
use crate::uri::FsUri;
use futures::StreamExt;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use spate_hadoop_ipc::conf::HadoopConf;
use spate_hadoop_ipc::namenode::{current_user, NameNodeClient};
use spate_hadoop_ipc::{Auth, ConnectOptions};
use std::future::Future;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How NameNode calls are bounded, and as whom they run.
#[derive(Clone, Debug)]
pub struct HdfsOptions {
    /// The Hadoop user; `None`: `HADOOP_USER_NAME`, else the OS user.
    pub user: Option<String>,
    /// Total time a NameNode call may take, retries included.
    pub deadline: Duration,
    /// Attempts of a call that failed to reach the NameNode.
    pub attempts: u32,
}

impl Default for HdfsOptions {
    fn default() -> Self {
        HdfsOptions {
            user: None,
            deadline: Duration::from_secs(10),
            attempts: 4,
        }
    }
}

/// One HDFS file system: a NameNode, an HA nameservice, or (empty authority) `fs.defaultFS`.
#[derive(Debug)]
pub struct HdfsFileSystem {
    client: Client,
    options: HdfsOptions,
    authority: String,
    /// Our own NameNode client, for the calls hdfs-native does not expose (block locations);
    /// connected on first use.
    namenode: Mutex<Option<NameNodeClient>>,
}

impl HdfsFileSystem {
    /// Connects lazily to `authority` (`host:port`, a nameservice, or empty for `fs.defaultFS`).
    pub fn connect(authority: &str) -> Result<Self> {
        Self::connect_with(authority, HdfsOptions::default())
    }

    /// [`HdfsFileSystem::connect`] with explicit options.
    pub fn connect_with(authority: &str, options: HdfsOptions) -> Result<Self> {
        let uri = format!("hdfs://{authority}");
        let mut builder = ClientBuilder::new().with_io_runtime(handle(&uri)?);
        if !authority.is_empty() {
            builder = builder.with_url(&uri);
        }
        if authority.contains(':') {
            // A single NameNode (an HA nameservice has no port): fail over to no one, so the
            // bounded retry here sees each connection error at once.
            builder = builder.with_config([("dfs.client.failover.max.attempts", "0")]);
        }
        if let Some(user) = &options.user {
            builder = builder.with_user(user);
        }
        let client = builder.build().map_err(|e| Error::InvalidUri {
            uri,
            reason: e.to_string(),
        })?;
        Ok(HdfsFileSystem {
            client,
            options,
            authority: authority.to_string(),
            namenode: Mutex::new(None),
        })
    }

    /// Runs one NameNode call with the bounded retry. `write` calls are retried only when the
    /// connection was refused (the call cannot have reached the NameNode).
    async fn call<T, Fut>(
        &self,
        op: &'static str,
        uri: &FsUri,
        write: bool,
        mut f: impl FnMut() -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = hdfs_native::Result<T>>,
    {
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.options.deadline.saturating_sub(start.elapsed());
            let last = match tokio::time::timeout(remaining, f()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(HdfsError::IOError(e)))
                    if !write || e.kind() == std::io::ErrorKind::ConnectionRefused =>
                {
                    e.to_string()
                }
                Ok(Err(e)) => return Err(map_error(op, uri, e)),
                Err(_) => format!("no answer within {:?}", self.options.deadline),
            };
            let backoff = Duration::from_millis(250 << (attempt - 1).min(4));
            if attempt >= self.options.attempts || start.elapsed() + backoff >= self.options.deadline {
                tracing::warn!(%uri, attempts = attempt, error = %last, "namenode unreachable");
                return Err(Error::Unreachable {
                    uri: uri.to_string(),
                    attempts: attempt,
                    elapsed: start.elapsed(),
                    message: last,
                });
            }
            tracing::debug!(%uri, attempt, error = %last, "namenode call failed, retrying");
            tokio::time::sleep(backoff).await;
        }
    }

    fn status_of(&self, uri: FsUri, s: &hdfs_native::client::FileStatus) -> FileStatus {
        FileStatus {
            uri,
            len: s.length as u64,
            is_dir: s.isdir,
            block_size: s.blocksize.filter(|b| *b > 0 && !s.isdir),
        }
    }
}

/// Classifies an `hdfs-native` error, keeping the Java exception class where there is one.
fn map_error(op: &'static str, uri: &FsUri, e: HdfsError) -> Error {
    let path = uri.to_string();
    match e {
        HdfsError::FileNotFound(_) => Error::NotFound { path },
        HdfsError::AlreadyExists(_) => Error::AlreadyExists { path },
        HdfsError::RPCError(class, message) | HdfsError::FatalRPCError(class, message) => {
            if class.ends_with("FileNotFoundException") {
                Error::NotFound { path }
            } else if class.ends_with("AccessControlException") {
                Error::PermissionDenied {
                    path,
                    message: first_line(&message),
                }
            } else if class.ends_with("FileAlreadyExistsException") {
                Error::AlreadyExists { path }
            } else {
                Error::Hdfs {
                    op,
                    path,
                    message: format!("{class}: {}", first_line(&message)),
                    class: Some(class),
                }
            }
        }
        other => Error::Hdfs {
            op,
            path,
            class: None,
            message: other.to_string(),
        },
    }
}

/// Java exceptions carry their stack trace after the first line.
fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").to_string()
}

impl FileSystem for HdfsFileSystem {
    fn status(&self, uri: &FsUri) -> Result<FileStatus> {
        let s = block_on(
            &uri.to_string(),
            self.call("stat", uri, false, || self.client.get_file_info(&uri.path)),
        )??;
        Ok(self.status_of(uri.clone(), &s))
    }

    fn list_dir(&self, uri: &FsUri) -> Result<Vec<FileStatus>> {
        let list = block_on(
            &uri.to_string(),
            self.call("list", uri, false, || self.client.list_status(&uri.path, false)),
        )??;
        Ok(list
            .iter()
            .map(|s| {
                let name = s.path.rsplit('/').next().unwrap_or(&s.path);
                self.status_of(uri.join(name), s)
            })
            .collect())
    }

    fn open(&self, uri: &FsUri, offset: u64) -> Result<Box<dyn Read + Send>> {
        let name = uri.to_string();
        let reader = block_on(
            &name,
            self.call("open", uri, false, || self.client.read(&uri.path)),
        )??;
        let len = reader.file_length() as u64;
        if offset > len {
            return Err(Error::Hdfs {
                op: "open",
                path: name,
                class: None,
                message: format!("offset {offset} is beyond the end of the file ({len} bytes)"),
            });
        }
        let stream = reader
            .read_range_stream(offset as usize, (len - offset) as usize)
            .boxed();
        Ok(Box::new(HdfsReader::new(stream, name)))
    }

    fn create(&self, uri: &FsUri, overwrite: bool) -> Result<Box<dyn FileWriter>> {
        let name = uri.to_string();
        let options = WriteOptions::default().overwrite(overwrite);
        let writer = block_on(
            &name,
            self.call("create", uri, true, || self.client.create(&uri.path, &options)),
        )??;
        Ok(Box::new(HdfsWriter::new(writer, name)))
    }

    fn rename(&self, from: &FsUri, to: &FsUri) -> Result<()> {
        block_on(
            &from.to_string(),
            self.call("rename", from, true, || {
                self.client.rename(&from.path, &to.path, true)
            }),
        )?
    }

    fn delete(&self, uri: &FsUri, recursive: bool) -> Result<bool> {
        block_on(
            &uri.to_string(),
            self.call("delete", uri, true, || self.client.delete(&uri.path, recursive)),
        )?
    }

    fn mkdirs(&self, uri: &FsUri) -> Result<()> {
        block_on(
            &uri.to_string(),
            self.call("create directory", uri, true, || {
                self.client.mkdirs(&uri.path, 0o755, true)
            }),
        )?
    }

    fn block_locations(&self, uri: &FsUri) -> Result<Vec<BlockLocation>> {
        let failed = |message: String| Error::Hdfs {
            op: "get block locations of",
            path: uri.to_string(),
            message,
            class: None,
        };
        let mut guard = self
            .namenode
            .lock()
            .map_err(|_| failed("client lock poisoned".into()))?;
        if guard.is_none() {
            // A `host:port` authority names the NameNode; a nameservice (or, when empty,
            // fs.defaultFS) is resolved through the Hadoop configuration.
            let addrs = if self.authority.contains(':') {
                vec![self.authority.clone()]
            } else {
                let conf = HadoopConf::from_env().map_err(|e| failed(e.to_string()))?;
                match self.authority.as_str() {
                    "" => conf.namenode_addresses(),
                    ns => conf.namenode_addresses_of(ns),
                }
                .map_err(|e| failed(e.to_string()))?
            };
            let auth = Auth::Simple {
                user: self.options.user.clone().unwrap_or_else(current_user),
            };
            let client = NameNodeClient::connect_any(&addrs, auth, ConnectOptions::default())
                .map_err(|e| failed(e.to_string()))?;
            *guard = Some(client);
        }
        let Some(client) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let blocks = client
            .get_block_locations(&uri.path, 0, u64::MAX)
            .map_err(|e| match e.remote() {
                Some(r) if r.is_file_not_found() => Error::NotFound {
                    path: uri.to_string(),
                },
                _ => failed(e.to_string()),
            })?;
        Ok(blocks
            .into_iter()
            .map(|b| BlockLocation {
                offset: b.offset,
                len: b.length,
                hosts: b.hosts,
            })
            .collect())
    }
}
