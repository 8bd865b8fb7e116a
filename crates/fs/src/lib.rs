//! Spate's file-system layer: one small blocking API over local files and HDFS.
//!
//! A URI names the file system: `hdfs://namenode:8020/path`, `hdfs://nameservice/path`,
//! `hdfs:///path` (the `fs.defaultFS` of `HADOOP_CONF_DIR`), `file:///path` or a bare local path.
//! [`resolve`] returns the shared [`FileSystem`] for it; every call blocks the calling thread.
//!
//! ```no_run
//! # fn main() -> spate_fs::Result<()> {
//! use std::io::Read;
//! let (fs, uri) = spate_fs::resolve("hdfs:///data/in.txt")?;
//! let mut text = String::new();
//! fs.open(&uri, 0)?.read_to_string(&mut text).ok();
//! for file in spate_fs::glob::expand(fs.as_ref(), &spate_fs::FsUri::parse("hdfs:///logs/2024-*")?)? {
//!     println!("{} {} bytes", file.uri, file.len);
//! }
//! # Ok(()) }
//! ```
//!
//! Threads: HDFS I/O runs on one process-wide tokio runtime (two threads named `spate-fs-io`,
//! see [`runtime`]); task threads wait on it, so operator work never runs on I/O threads.

/// The crate's error type.
pub mod error;
/// The `FileSystem` trait, file status and block locations.
pub mod file_system;
/// Glob expansion (`*`, `?`).
pub mod glob;
/// HDFS through `hdfs-native`, with bounded NameNode retries.
pub mod hdfs;
mod hdfs_io;
/// The local file system.
pub mod local;
/// One shared file system per scheme and authority.
pub mod registry;
/// The process-wide I/O runtime and `block_on`.
pub mod runtime;
/// Parsing `hdfs://`, `file://` and bare paths.
pub mod uri;

pub use error::{Error, Result};
pub use file_system::{BlockLocation, FileStatus, FileSystem, FileWriter};
pub use registry::{for_uri, resolve};
pub use uri::{FsUri, Scheme};
