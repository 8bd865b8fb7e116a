//! Hadoop security tokens (delegation tokens, YARN's AMRMToken and NMTokens): the four fields of
//! `TokenProto`, and the SASL credentials DIGEST-MD5 derives from them.

use base64::Engine;

use crate::proto::common::TokenProto;

/// A Hadoop token. `Debug` does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The serialized token identifier (its layout depends on `kind`).
    pub identifier: Vec<u8>,
    /// The secret: HMAC of the identifier under the issuer's key.
    pub password: Vec<u8>,
    /// e.g. `HDFS_DELEGATION_TOKEN`, `YARN_AM_RM_TOKEN`, `NMToken`.
    pub kind: String,
    /// The server the token is for, usually `ip:port`.
    pub service: String,
}

impl Token {
    /// SASL user name: the identifier in standard base64 (Hadoop's `encodeIdentifier`).
    pub fn sasl_username(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.identifier)
    }

    /// SASL password: the password in standard base64 (Hadoop's `encodePassword`).
    pub fn sasl_password(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.password)
    }

    pub(crate) fn from_proto(p: TokenProto) -> Self {
        Token {
            identifier: p.identifier,
            password: p.password,
            kind: p.kind,
            service: p.service,
        }
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("kind", &self.kind)
            .field("service", &self.service)
            .field("identifier_len", &self.identifier.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_credentials_and_redacted_debug() {
        let t = Token {
            identifier: vec![0, 1, 2],
            password: b"secret".to_vec(),
            kind: "HDFS_DELEGATION_TOKEN".into(),
            service: "127.0.0.1:8020".into(),
        };
        assert_eq!(t.sasl_username(), "AAEC");
        assert_eq!(t.sasl_password(), "c2VjcmV0");
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("secret") && !dbg.contains("c2VjcmV0"), "{dbg}");
        let p = TokenProto {
            identifier: t.identifier.clone(),
            password: t.password.clone(),
            kind: t.kind.clone(),
            service: t.service.clone(),
        };
        assert_eq!(Token::from_proto(p), t);
    }
}
