//! Unpredictable bytes for client ids and SASL client nonces, from the standard library's
//! randomly seeded SipHash keys (no extra dependency), mixed with the time and a counter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `n` random bytes.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    while out.len() < n {
        // Each RandomState has fresh keys seeded from the OS.
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    out.truncate(n);
    out
}

/// A 16-byte client id in the layout of a version 4 UUID, as Hadoop's `ClientId` makes.
pub(crate) fn client_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id.copy_from_slice(&random_bytes(16));
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_uniqueness() {
        assert_eq!(random_bytes(0).len(), 0);
        assert_eq!(random_bytes(21).len(), 21);
        assert_ne!(client_id(), client_id());
        assert_eq!(client_id()[6] >> 4, 4);
    }
}
