//! The [`FileSystem`] trait and what it returns.

use crate::error::Result;
use crate::uri::FsUri;
use std::fmt::Debug;
use std::io::{Read, Write};

/// What a file system knows about one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStatus {
    /// The path, on the same file system as the one asked about.
    pub uri: FsUri,
    /// Length in bytes (0 for directories).
    pub len: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// The HDFS block size of a file; `None` on file systems without blocks.
    pub block_size: Option<u64>,
}

/// One block of a file and the hosts that store a replica of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockLocation {
    /// Offset of the block's first byte in the file.
    pub offset: u64,
    /// Length of the block.
    pub len: u64,
    /// Host names (or addresses) of the DataNodes holding it.
    pub hosts: Vec<String>,
}

/// A file being written. Data is durable and visible only after [`FileWriter::close`]; dropping a
/// writer without closing it abandons the file (it may stay, empty or partial).
pub trait FileWriter: Write + Send {
    /// Writes out buffered data and closes the file.
    fn close(self: Box<Self>) -> Result<()>;
}

/// Blocking operations on one file system. Every method takes URIs of this file system (what
/// [`crate::for_uri`] was given) and is called from plain threads, never from async code.
pub trait FileSystem: Send + Sync + Debug {
    /// The status of `uri`; [`crate::Error::NotFound`] when it does not exist.
    fn status(&self, uri: &FsUri) -> Result<FileStatus>;
    /// The entries of directory `uri` (all of them, hidden ones included), in no set order.
    fn list_dir(&self, uri: &FsUri) -> Result<Vec<FileStatus>>;
    /// Opens file `uri` for reading from byte `offset` (at most its length).
    fn open(&self, uri: &FsUri, offset: u64) -> Result<Box<dyn Read + Send>>;
    /// Creates file `uri` (its parent must exist), replacing an existing file when `overwrite`.
    fn create(&self, uri: &FsUri, overwrite: bool) -> Result<Box<dyn FileWriter>>;
    /// Renames `from` to `to`, replacing a file at `to`.
    fn rename(&self, from: &FsUri, to: &FsUri) -> Result<()>;
    /// Deletes `uri` (a directory with its contents when `recursive`); false when it did not exist.
    fn delete(&self, uri: &FsUri, recursive: bool) -> Result<bool>;
    /// Creates directory `uri` and its missing parents.
    fn mkdirs(&self, uri: &FsUri) -> Result<()>;
    /// The blocks of file `uri` with the hosts holding them; empty when unknown (local files, and
    /// HDFS until the NameNode client provides them).
    fn block_locations(&self, uri: &FsUri) -> Result<Vec<BlockLocation>>;

    /// The files under `uri`: `uri` itself when it is a file, else every file below the directory
    /// (recursively) whose name, and whose directories' names, do not start with `.` or `_`
    /// (hidden and marker files, as Hadoop skips them). Sorted by path.
    fn list_files(&self, uri: &FsUri) -> Result<Vec<FileStatus>> {
        let status = self.status(uri)?;
        if !status.is_dir {
            return Ok(vec![status]);
        }
        let mut files = Vec::new();
        let mut dirs = vec![status.uri];
        while let Some(dir) = dirs.pop() {
            for entry in self.list_dir(&dir)? {
                if is_hidden(entry.uri.file_name()) {
                    continue;
                }
                if entry.is_dir {
                    dirs.push(entry.uri);
                } else {
                    files.push(entry);
                }
            }
        }
        files.sort_by(|a, b| a.uri.path.cmp(&b.uri.path));
        Ok(files)
    }
}

/// Whether a file name is hidden from inputs (starts with `.` or `_`).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}
