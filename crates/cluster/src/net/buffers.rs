//! Recycled buffers for the payloads of received DATA frames.
//!
//! A payload is handed to the inbox as [`Bytes`] and dropped by the consumer after decoding.
//! Reading each one into a fresh allocation costs a memset and, as the allocator returns memory
//! to the system, page faults on every frame. The pool keeps a few initialized buffers instead:
//! a buffer goes back to its pool when the last `Bytes` pointing into it is dropped.

use super::lock;
use bytes::Bytes;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Buffers kept per pool (one pool per connection).
const POOLED_BUFFERS: usize = 16;
/// Larger payloads get a buffer of their own, so a pool never pins much memory.
const MAX_POOLED_LEN: usize = 1 << 20;

/// Initialized buffers ready for reuse.
#[derive(Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    pub(crate) fn new() -> Arc<BufferPool> {
        Arc::default()
    }

    /// Reads exactly `len` bytes.
    pub(crate) fn read<R: Read>(self: &Arc<Self>, r: &mut R, len: usize) -> io::Result<Bytes> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        if len > MAX_POOLED_LEN {
            let mut buf = vec![0u8; len];
            r.read_exact(&mut buf)?;
            return Ok(Bytes::from(buf));
        }
        let mut buf = lock(&self.free).pop().unwrap_or_default();
        // Only the part never used before is zeroed.
        if buf.len() < len {
            buf.resize(len, 0);
        }
        r.read_exact(&mut buf[..len])?;
        Ok(Bytes::from_owner(Pooled {
            buf,
            len,
            pool: self.clone(),
        }))
    }

    #[cfg(test)]
    fn pooled(&self) -> usize {
        lock(&self.free).len()
    }
}

/// A buffer lent to a `Bytes`; returns to its pool on drop.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let mut free = lock(&self.pool.free);
        if free.len() < POOLED_BUFFERS {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_last_bytes_is_dropped() {
        let pool = BufferPool::new();
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let a = pool.read(&mut &data[..], 1000).unwrap();
        assert_eq!(&a[..], &data[..]);
        let part = a.slice(10..20);
        drop(a);
        assert_eq!(pool.pooled(), 0);
        assert_eq!(&part[..], &data[10..20]);
        drop(part);
        assert_eq!(pool.pooled(), 1);
        // The recycled buffer is longer than the next payload: only `len` bytes show.
        let b = pool.read(&mut &data[..], 3).unwrap();
        assert_eq!(&b[..], &data[..3]);
        assert_eq!(pool.pooled(), 0);
        // A short read is an error, not a short payload.
        assert!(pool.read(&mut &data[..5], 6).is_err());
        assert!(pool.read(&mut &data[..], 0).unwrap().is_empty());
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = BufferPool::new();
        let data = [1u8; 100];
        let held: Vec<Bytes> = (0..POOLED_BUFFERS + 5)
            .map(|_| pool.read(&mut &data[..], 100).unwrap())
            .collect();
        drop(held);
        assert_eq!(pool.pooled(), POOLED_BUFFERS);
        let big = vec![2u8; MAX_POOLED_LEN + 1];
        drop(pool.read(&mut &big[..], big.len()).unwrap());
        assert_eq!(pool.pooled(), POOLED_BUFFERS);
    }
}
