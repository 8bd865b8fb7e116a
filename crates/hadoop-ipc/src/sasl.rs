//! SASL negotiation messages (`RpcSaslProto`, call id -33) for TOKEN authentication with
//! DIGEST-MD5. The I/O is done by [`crate::connection`]; this module builds the client's messages
//! and judges the server's, so every step is testable without a server.
//!
//! Flow: client NEGOTIATE → server NEGOTIATE listing its auths (TOKEN first, with the digest
//! challenge already inside) → client INITIATE (the chosen auth, challenge cleared, the digest
//! response as token) → server SUCCESS with `rspauth=...`. A server that only speaks SIMPLE
//! answers the first NEGOTIATE with SUCCESS.

use prost::Message;

use crate::digest_md5::DigestMd5;
use crate::error::{Error, Result};
use crate::frame::{encode_packet, parse_response};
use crate::proto::common::rpc_request_header_proto::OperationProto;
use crate::proto::common::rpc_sasl_proto::{SaslAuth, SaslState};
use crate::proto::common::{RpcKindProto, RpcRequestHeaderProto, RpcSaslProto};
use crate::token::Token;

/// Call id of SASL messages.
pub(crate) const SASL_CALL_ID: i32 = -33;
/// Call id of authentication failures.
const AUTH_FAILED_CALL_ID: i32 = -1;

/// What the server's first reply asks the client to do next.
#[derive(Debug)]
pub(crate) enum Next {
    /// The server only allows SIMPLE: no more SASL messages.
    Simple,
    /// Send this INITIATE packet, then check the server's SUCCESS with the digest.
    Initiate { packet: Vec<u8>, digest: DigestMd5 },
}

/// The header of every SASL packet: empty client id, retry count -1.
fn header() -> RpcRequestHeaderProto {
    RpcRequestHeaderProto {
        rpc_kind: Some(RpcKindProto::RpcProtocolBuffer as i32),
        rpc_op: Some(OperationProto::RpcFinalPacket as i32),
        call_id: SASL_CALL_ID,
        client_id: Vec::new(),
        retry_count: Some(-1),
    }
}

/// The client's first message.
pub(crate) fn negotiate_packet() -> Vec<u8> {
    let msg = RpcSaslProto {
        state: SaslState::Negotiate as i32,
        ..Default::default()
    };
    encode_packet(&[&header(), &msg])
}

/// Decodes a SASL reply frame; server-side refusals become [`Error::Remote`].
pub(crate) fn decode_reply(frame: &[u8]) -> Result<RpcSaslProto> {
    let resp = parse_response(frame)?;
    let body = resp.body?;
    if resp.call_id != SASL_CALL_ID {
        let why = if resp.call_id == AUTH_FAILED_CALL_ID {
            "authentication failed"
        } else {
            "unexpected call id"
        };
        return Err(Error::Sasl(format!(
            "{why}: got call id {} during sasl negotiation",
            resp.call_id
        )));
    }
    RpcSaslProto::decode(body).map_err(|source| Error::Decode {
        what: "sasl message",
        source,
    })
}

/// Chooses TOKEN/DIGEST-MD5 from the server's NEGOTIATE and answers its challenge.
pub(crate) fn on_negotiate(reply: &RpcSaslProto, token: &Token) -> Result<Next> {
    match SaslState::try_from(reply.state) {
        Ok(SaslState::Success) => return Ok(Next::Simple),
        Ok(SaslState::Negotiate) => {}
        _ => {
            return Err(Error::Sasl(format!(
                "expected NEGOTIATE from the server, got state {}",
                reply.state
            )))
        }
    }
    let offered: Vec<String> = reply
        .auths
        .iter()
        .map(|a| format!("{}/{}", a.method, a.mechanism))
        .collect();
    let auth = reply
        .auths
        .iter()
        .find(|a| a.method == "TOKEN" && a.mechanism == "DIGEST-MD5")
        .ok_or_else(|| {
            Error::Sasl(format!(
                "server does not offer TOKEN/DIGEST-MD5 (offers {offered:?})"
            ))
        })?;
    let challenge = auth
        .challenge
        .as_deref()
        .ok_or_else(|| Error::Sasl("server's TOKEN auth carries no digest challenge".into()))?;
    let digest_uri = format!("{}/{}", auth.protocol(), auth.server_id());
    let mut digest = DigestMd5::new(&token.sasl_username(), &token.sasl_password(), &digest_uri);
    let response = digest.respond(challenge)?;
    let chosen = SaslAuth {
        challenge: None,
        ..auth.clone()
    };
    let msg = RpcSaslProto {
        version: None,
        state: SaslState::Initiate as i32,
        token: Some(response.into_bytes()),
        auths: vec![chosen],
    };
    Ok(Next::Initiate {
        packet: encode_packet(&[&header(), &msg]),
        digest,
    })
}

/// Checks the server's answer to INITIATE: SUCCESS with a matching `rspauth`.
pub(crate) fn on_final(reply: &RpcSaslProto, digest: &DigestMd5) -> Result<()> {
    match SaslState::try_from(reply.state) {
        Ok(SaslState::Success) => digest.verify_rspauth(reply.token.as_deref().unwrap_or_default()),
        Ok(SaslState::Challenge) => Err(Error::Sasl(
            "unexpected extra CHALLENGE round for DIGEST-MD5".into(),
        )),
        _ => Err(Error::Sasl(format!(
            "expected SUCCESS from the server, got state {}",
            reply.state
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Parts;
    use crate::proto::common::rpc_response_header_proto::RpcStatusProto;
    use crate::proto::common::RpcResponseHeaderProto;

    fn token() -> Token {
        Token {
            identifier: b"id".to_vec(),
            password: b"pw".to_vec(),
            kind: "K".into(),
            service: "s".into(),
        }
    }

    fn token_auth() -> SaslAuth {
        SaslAuth {
            method: "TOKEN".into(),
            mechanism: "DIGEST-MD5".into(),
            protocol: Some(String::new()),
            server_id: Some("default".into()),
            challenge: Some(
                br#"realm="default",nonce="xyz",qop="auth",charset=utf-8,algorithm=md5-sess"#.to_vec(),
            ),
        }
    }

    fn reply_frame(call_id: i32, status: RpcStatusProto, msg: &RpcSaslProto) -> Vec<u8> {
        let h = RpcResponseHeaderProto {
            call_id: call_id as u32,
            status: status as i32,
            ..Default::default()
        };
        encode_packet(&[&h, msg])[4..].to_vec()
    }

    #[test]
    fn negotiate_packet_has_sasl_header() {
        let pkt = negotiate_packet();
        let mut parts = Parts::new(&pkt[4..]);
        let h: RpcRequestHeaderProto = parts.next_message("h").unwrap();
        assert_eq!((h.call_id, h.retry_count, h.client_id.len()), (-33, Some(-1), 0));
        let m: RpcSaslProto = parts.next_message("m").unwrap();
        assert_eq!(m.state, SaslState::Negotiate as i32);
    }

    #[test]
    fn token_flow_builds_initiate_with_cleared_challenge() {
        let simple = SaslAuth {
            method: "SIMPLE".into(),
            mechanism: String::new(),
            ..Default::default()
        };
        let reply = RpcSaslProto {
            state: SaslState::Negotiate as i32,
            auths: vec![token_auth(), simple],
            ..Default::default()
        };
        let Next::Initiate { packet, digest } = on_negotiate(&reply, &token()).unwrap() else {
            panic!("expected initiate")
        };
        let mut parts = Parts::new(&packet[4..]);
        let _: RpcRequestHeaderProto = parts.next_message("h").unwrap();
        let m: RpcSaslProto = parts.next_message("m").unwrap();
        assert_eq!(m.state, SaslState::Initiate as i32);
        assert_eq!(m.auths.len(), 1);
        assert_eq!(m.auths[0].challenge, None);
        assert_eq!(m.auths[0].server_id(), "default");
        let resp = String::from_utf8(m.token.unwrap()).unwrap();
        assert!(
            resp.contains(r#"digest-uri="/default""#) && resp.contains(r#"username="aWQ=""#),
            "{resp}"
        );
        // A wrong rspauth is refused.
        let bad = RpcSaslProto {
            state: SaslState::Success as i32,
            token: Some(b"rspauth=0123".to_vec()),
            ..Default::default()
        };
        assert!(on_final(&bad, &digest).is_err());
    }

    #[test]
    fn server_choices() {
        let success = RpcSaslProto {
            state: SaslState::Success as i32,
            ..Default::default()
        };
        assert!(matches!(on_negotiate(&success, &token()).unwrap(), Next::Simple));
        let only_simple = RpcSaslProto {
            state: SaslState::Negotiate as i32,
            auths: vec![SaslAuth {
                method: "SIMPLE".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(on_negotiate(&only_simple, &token()).is_err());
        let no_challenge = RpcSaslProto {
            state: SaslState::Negotiate as i32,
            auths: vec![SaslAuth {
                challenge: None,
                ..token_auth()
            }],
            ..Default::default()
        };
        assert!(on_negotiate(&no_challenge, &token()).is_err());
        let wrap = RpcSaslProto {
            state: SaslState::Wrap as i32,
            ..Default::default()
        };
        assert!(on_negotiate(&wrap, &token()).is_err());
    }

    #[test]
    fn decode_reply_errors() {
        let ok = RpcSaslProto {
            state: SaslState::Success as i32,
            ..Default::default()
        };
        assert!(decode_reply(&reply_frame(-33, RpcStatusProto::Success, &ok)).is_ok());
        assert!(decode_reply(&reply_frame(5, RpcStatusProto::Success, &ok)).is_err());
        let h = RpcResponseHeaderProto {
            call_id: (-1i32) as u32,
            status: RpcStatusProto::Fatal as i32,
            exception_class_name: Some("org.apache.hadoop.security.token.SecretManager$InvalidToken".into()),
            ..Default::default()
        };
        let fatal = encode_packet(&[&h])[4..].to_vec();
        let err = decode_reply(&fatal).unwrap_err();
        assert!(
            err.remote().is_some_and(|r| r.is_invalid_token() && r.fatal),
            "{err}"
        );
        // Garbage bodies and truncations are errors, not panics.
        let good = reply_frame(-33, RpcStatusProto::Success, &ok);
        for cut in 0..good.len() {
            let _ = decode_reply(&good[..cut]);
        }
        let mut garbage = reply_frame(-33, RpcStatusProto::Success, &ok);
        let n = garbage.len();
        garbage[n - 2] = 0xff;
        assert!(decode_reply(&garbage).is_err());
    }
}
