//! Blocking readers and writers over `hdfs-native`'s async file streams.

use crate::error::{Error, Result};
use crate::file_system::FileWriter;
use crate::runtime::block_on;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use std::io::{Read, Write};

/// Bytes gathered before one write call into the HDFS pipeline.
const WRITE_CHUNK: usize = 1 << 20;

/// Reads a byte range of an HDFS file as a stream of packets, block after block; the connection
/// to a block's DataNode opens when the reader gets there.
pub(crate) struct HdfsReader {
    stream: BoxStream<'static, hdfs_native::Result<Bytes>>,
    chunk: Bytes,
    name: String,
}

impl HdfsReader {
    pub(crate) fn new(stream: BoxStream<'static, hdfs_native::Result<Bytes>>, name: String) -> Self {
        HdfsReader {
            stream,
            chunk: Bytes::new(),
            name,
        }
    }
}

impl Read for HdfsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            let next = block_on(&self.name, self.stream.next()).map_err(std::io::Error::other)?;
            match next {
                None => return Ok(0),
                Some(Ok(bytes)) => self.chunk = bytes,
                Some(Err(e)) => return Err(std::io::Error::other(format!("cannot read {}: {e}", self.name))),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Writes an HDFS file in chunks of [`WRITE_CHUNK`] bytes.
pub(crate) struct HdfsWriter {
    inner: hdfs_native::file::FileWriter,
    buf: Vec<u8>,
    name: String,
}

impl HdfsWriter {
    pub(crate) fn new(inner: hdfs_native::file::FileWriter, name: String) -> Self {
        HdfsWriter {
            inner,
            buf: Vec::with_capacity(WRITE_CHUNK),
            name,
        }
    }

    fn write_out(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(WRITE_CHUNK)));
        block_on(&self.name, self.inner.write_bytes(data))?.map_err(|e| self.error(e))?;
        Ok(())
    }

    fn error(&self, e: hdfs_native::HdfsError) -> Error {
        Error::Hdfs {
            op: "write",
            path: self.name.clone(),
            class: None,
            message: e.to_string(),
        }
    }
}

impl Write for HdfsWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_CHUNK {
            self.write_out().map_err(std::io::Error::other)?;
        }
        Ok(data.len())
    }
    /// Hands buffered bytes to the pipeline (not a durability point: that is `close`).
    fn flush(&mut self) -> std::io::Result<()> {
        self.write_out().map_err(std::io::Error::other)
    }
}

impl FileWriter for HdfsWriter {
    fn close(mut self: Box<Self>) -> Result<()> {
        self.write_out()?;
        block_on(&self.name, self.inner.close())?.map_err(|e| self.error(e))
    }
}
