//! The client side of SASL DIGEST-MD5 (RFC 2831) as Hadoop uses it for tokens: quality of
//! protection `auth` only (no integrity or confidentiality layer), algorithm `md5-sess`.
//!
//! Hadoop's server sends the challenge inside its NEGOTIATE reply; the client answers with
//! [`DigestMd5::respond`] and checks the server's `rspauth` with [`DigestMd5::verify_rspauth`].

use md5::{Digest, Md5};

use crate::error::{Error, Result};

/// RFC 2831 limits a challenge to 2048 bytes; allow some slack.
const MAX_CHALLENGE_LEN: usize = 4096;

/// A parsed server challenge (only the directives the client uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: Option<String>,
    pub nonce: String,
    pub qop: Vec<String>,
    pub charset_utf8: bool,
}

/// One DIGEST-MD5 authentication as a client.
#[derive(Debug)]
pub struct DigestMd5 {
    username: String,
    password: String,
    digest_uri: String,
    cnonce: String,
    /// What the server must answer with `rspauth=`, once a response was sent.
    expected_rspauth: Option<String>,
}

impl DigestMd5 {
    /// A client with the given credentials; `digest_uri` is `protocol/serverId` (Hadoop:
    /// `"/default"` for tokens). The client nonce is random.
    pub fn new(username: &str, password: &str, digest_uri: &str) -> Self {
        let cnonce = base64_std(&crate::random::random_bytes(24));
        Self::with_cnonce(username, password, digest_uri, &cnonce)
    }

    /// Like [`DigestMd5::new`] with a fixed client nonce (for known-answer tests).
    pub fn with_cnonce(username: &str, password: &str, digest_uri: &str, cnonce: &str) -> Self {
        DigestMd5 {
            username: username.into(),
            password: password.into(),
            digest_uri: digest_uri.into(),
            cnonce: cnonce.into(),
            expected_rspauth: None,
        }
    }

    /// The response to a challenge, e.g. `charset=utf-8,username="...",...,qop=auth`.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<String> {
        let c = parse_challenge(challenge)?;
        if !c.qop.iter().any(|q| q == "auth") {
            return Err(Error::Sasl(format!(
                "digest-md5: server offers qop {:?}, only 'auth' is supported (hadoop.rpc.protection=authentication)",
                c.qop
            )));
        }
        let realm = c.realm.clone().unwrap_or_default();
        let nc = "00000001";
        let response = self.digest(&realm, &c.nonce, nc, true);
        self.expected_rspauth = Some(self.digest(&realm, &c.nonce, nc, false));
        let charset = if c.charset_utf8 { "charset=utf-8," } else { "" };
        Ok(format!(
            "{charset}username=\"{}\",realm=\"{}\",nonce=\"{}\",nc={nc},cnonce=\"{}\",digest-uri=\"{}\",maxbuf=65536,response={response},qop=auth",
            quote(&self.username),
            quote(&realm),
            quote(&c.nonce),
            quote(&self.cnonce),
            quote(&self.digest_uri),
        ))
    }

    /// Checks the server's final message `rspauth=<hex>` (mutual authentication).
    pub fn verify_rspauth(&self, server_final: &[u8]) -> Result<()> {
        let expected = self
            .expected_rspauth
            .as_deref()
            .ok_or_else(|| Error::Sasl("digest-md5: no response sent yet".into()))?;
        let directives = parse_directives(server_final)?;
        let got = directives
            .iter()
            .find(|(k, _)| k == "rspauth")
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| Error::Sasl("digest-md5: server's final message has no rspauth".into()))?;
        if got.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(Error::Sasl(
                "digest-md5: server's rspauth does not match: the server does not know the token".into(),
            ))
        }
    }

    /// `response` (with `AUTHENTICATE:` in A2) or `rspauth` (without), qop=auth, md5-sess.
    fn digest(&self, realm: &str, nonce: &str, nc: &str, authenticate: bool) -> String {
        let inner = Md5::digest(format!("{}:{realm}:{}", self.username, self.password));
        let mut a1 = inner.to_vec();
        a1.extend_from_slice(format!(":{nonce}:{}", self.cnonce).as_bytes());
        let ha1 = hex(&Md5::digest(&a1));
        let a2 = if authenticate {
            format!("AUTHENTICATE:{}", self.digest_uri)
        } else {
            format!(":{}", self.digest_uri)
        };
        let ha2 = hex(&Md5::digest(a2.as_bytes()));
        hex(&Md5::digest(format!(
            "{ha1}:{nonce}:{nc}:{}:auth:{ha2}",
            self.cnonce
        )))
    }
}

/// Parses a DIGEST-MD5 challenge.
pub fn parse_challenge(bytes: &[u8]) -> Result<Challenge> {
    let directives = parse_directives(bytes)?;
    let get = |key: &str| directives.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let nonce = get("nonce").ok_or_else(|| Error::Sasl("digest-md5: challenge without nonce".into()))?;
    match get("algorithm") {
        Some(a) if a.eq_ignore_ascii_case("md5-sess") => {}
        other => {
            return Err(Error::Sasl(format!(
                "digest-md5: algorithm {other:?}, expected md5-sess"
            )))
        }
    }
    let qop = match get("qop") {
        Some(q) => q
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec!["auth".to_string()],
    };
    let charset_utf8 = get("charset").is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
    Ok(Challenge {
        realm: get("realm"),
        nonce,
        qop,
        charset_utf8,
    })
}

/// Splits `key=value,key="quoted \" value",...` into pairs (keys lowercased).
fn parse_directives(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    if bytes.len() > MAX_CHALLENGE_LEN {
        return Err(Error::Sasl(format!(
            "digest-md5: message of {} bytes is too long",
            bytes.len()
        )));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|_| Error::Sasl("digest-md5: message is not UTF-8".into()))?;
    let bad = |why: &str| Error::Sasl(format!("digest-md5: malformed message ({why}): {text:?}"));
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            key.push(c.to_ascii_lowercase());
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') || key.is_empty() {
            return Err(bad("expected key=value"));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated quoted string")),
                    Some('"') => break,
                    Some('\\') => value.push(chars.next().ok_or_else(|| bad("dangling escape"))?),
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim_end().to_string();
        }
        out.push((key, value));
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2831 section 4, example 1 (IMAP): the response and rspauth values printed in the RFC.
    #[test]
    fn rfc2831_known_answer() {
        let challenge = br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#;
        let mut c = DigestMd5::with_cnonce("chris", "secret", "imap/elwood.innosoft.com", "OA6MHXh6VqTrRk");
        let resp = c.respond(challenge).unwrap();
        assert!(
            resp.contains("response=d388dad90d4bbd760a152321f2143af7"),
            "{resp}"
        );
        assert!(
            resp.contains(r#"username="chris""#) && resp.contains("nc=00000001"),
            "{resp}"
        );
        assert!(
            resp.contains(r#"digest-uri="imap/elwood.innosoft.com""#),
            "{resp}"
        );
        c.verify_rspauth(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
            .unwrap();
        assert!(c
            .verify_rspauth(b"rspauth=00000000000000000000000000000000")
            .is_err());
        assert!(c.verify_rspauth(b"nothing=here").is_err());
    }

    #[test]
    fn hadoop_style_challenge() {
        let ch =
            parse_challenge(br#"realm="default",nonce="a\"b",qop="auth",charset=utf-8,algorithm=md5-sess"#)
                .unwrap();
        assert_eq!(ch.realm.as_deref(), Some("default"));
        assert_eq!(ch.nonce, "a\"b");
        assert_eq!(ch.qop, vec!["auth"]);
        assert!(ch.charset_utf8);
        let mut c = DigestMd5::new("aWQ=", "cHc=", "/default");
        let r = c
            .respond(br#"realm="default",nonce="n",qop="auth",charset=utf-8,algorithm=md5-sess"#)
            .unwrap();
        assert!(
            r.starts_with("charset=utf-8,username=\"aWQ=\",realm=\"default\""),
            "{r}"
        );
        assert!(r.ends_with(",qop=auth"), "{r}");
    }

    #[test]
    fn rejects_unsupported_and_malformed_challenges() {
        let mut c = DigestMd5::new("u", "p", "/default");
        assert!(c.verify_rspauth(b"rspauth=x").is_err()); // before respond
        assert!(c
            .respond(br#"nonce="n",qop="auth-conf",algorithm=md5-sess"#)
            .is_err());
        assert!(c.respond(br#"nonce="n",algorithm=md5"#).is_err());
        assert!(c.respond(br#"realm="r",algorithm=md5-sess"#).is_err());
        for garbage in [
            &b"nonce=\"unterminated"[..],
            b"=x",
            b"nonce",
            b"a=\"\\",
            &[0xff, 0xfe],
            b",,,",
        ] {
            assert!(parse_challenge(garbage).is_err(), "{garbage:?}");
        }
        assert!(parse_challenge(&vec![b'a'; MAX_CHALLENGE_LEN + 1]).is_err());
        // Truncations of a valid challenge never panic.
        let ok = br#"realm="default",nonce="abc",qop="auth",charset=utf-8,algorithm=md5-sess"#;
        for cut in 0..ok.len() {
            let _ = parse_challenge(&ok[..cut]);
        }
    }
}
