//! The per-cluster secret that data connections (and the gRPC layer) authenticate with.

use super::NetError;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in a secret.
const SECRET_LEN: usize = 32;

/// A per-cluster secret: 32 random bytes, passed around as 64 hex characters. Its `Debug` output
/// does not show it.
#[derive(Clone)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    /// A new random secret.
    ///
    /// # Panics
    /// If the operating system has no random source (nothing sensible can run then).
    pub fn generate() -> Secret {
        let mut bytes = [0u8; SECRET_LEN];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Secret(bytes)
    }

    /// Parses 64 hex characters (surrounding whitespace, e.g. a file's final newline, is ignored).
    pub fn from_hex(s: &str) -> Result<Secret, NetError> {
        let s = s.trim();
        if s.len() != 2 * SECRET_LEN {
            return Err(NetError::InvalidSecret(format!(
                "expected {} hex characters, got {}",
                2 * SECRET_LEN,
                s.len()
            )));
        }
        let mut bytes = [0u8; SECRET_LEN];
        hex::decode_to_slice(s, &mut bytes)
            .map_err(|_| NetError::InvalidSecret("not a hex string".into()))?;
        Ok(Secret(bytes))
    }

    /// The secret as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Whether `token` is this secret in hex, compared in constant time (the length of a token is
    /// not secret).
    pub fn matches_token(&self, token: &str) -> bool {
        let mut bytes = [0u8; SECRET_LEN];
        if token.len() != 2 * SECRET_LEN || hex::decode_to_slice(token, &mut bytes).is_err() {
            return false;
        }
        let diff = self.0.iter().zip(&bytes).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }

    /// The handshake answer to `nonce`: HMAC-SHA256(secret, nonce || `context`).
    pub(crate) fn answer(&self, nonce: &[u8], context: &[u8]) -> [u8; 32] {
        self.mac(nonce, context).finalize().into_bytes().into()
    }

    /// Whether `answer` is [`Secret::answer`] of `nonce` (constant time).
    pub(crate) fn verify(&self, nonce: &[u8], context: &[u8], answer: &[u8]) -> bool {
        self.mac(nonce, context).verify_slice(answer).is_ok()
    }

    fn mac(&self, nonce: &[u8], context: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(nonce);
        mac.update(context);
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let s = Secret::generate();
        let hex = s.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(Secret::from_hex(&hex).unwrap().0, s.0);
        assert_eq!(Secret::from_hex(&hex.to_uppercase()).unwrap().0, s.0);
        assert_ne!(Secret::generate().0, s.0);
    }

    #[test]
    fn bad_hex_is_refused() {
        for bad in ["", "abcd", &"g".repeat(64), &"a".repeat(63), &"a".repeat(66)] {
            let err = Secret::from_hex(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid cluster secret"), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = Secret::generate();
        let shown = format!("{s:?}");
        assert!(!shown.contains(&s.to_hex()[..8]), "{shown}");
        assert_eq!(shown, "Secret(<redacted>)");
    }

    #[test]
    fn tokens_match_only_the_same_secret() {
        let s = Secret::generate();
        assert!(s.matches_token(&s.to_hex()));
        assert!(s.matches_token(&s.to_hex().to_uppercase()));
        assert!(!s.matches_token(&Secret::generate().to_hex()));
        assert!(!s.matches_token(&s.to_hex()[..62]));
        assert!(!s.matches_token(""));
        assert!(!s.matches_token(&"z".repeat(64)));
    }

    #[test]
    fn answers_depend_on_secret_and_nonce() {
        let s = Secret::generate();
        let a = s.answer(b"nonce-1", b"ctx");
        assert!(s.verify(b"nonce-1", b"ctx", &a));
        assert!(!s.verify(b"nonce-2", b"ctx", &a));
        assert!(!Secret::generate().verify(b"nonce-1", b"ctx", &a));
        assert!(!s.verify(b"nonce-1", b"ctx", &a[..31]));
    }
}
