//! A minimal blocking HTTP/1.1 client for the REST API (`spate list`/`cancel`, YARN sessions,
//! tests): one request per connection, `Connection: close`, chunked bodies understood.

use anyhow::anyhow;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::Duration;

/// A minimal HTTP/1.1 exchange with the REST API: returns (status, body). The answer must come
/// within 30 s.
pub fn request(address: &str, method: &str, path: &str) -> anyhow::Result<(u16, String)> {
    request_waiting(address, method, path, Duration::from_secs(30))
}

/// [`request`] for calls that take long (a savepoint): the answer may take up to `wait`.
pub fn request_waiting(
    address: &str,
    method: &str,
    path: &str,
    wait: Duration,
) -> anyhow::Result<(u16, String)> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| anyhow!("JobManager REST address '{address}': {e}"))?
        .collect();
    // `localhost` may name ::1 and 127.0.0.1; the REST API binds one of them.
    let mut last = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, Duration::from_secs(5)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut s = stream.ok_or_else(|| {
        anyhow!(
            "cannot reach the JobManager's REST API at {address}: {}",
            last.map_or_else(|| "no address".to_string(), |e| e.to_string())
        )
    })?;
    s.set_read_timeout(Some(wait))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\nAccept: application/json\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| anyhow!("reading the answer of {address}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{address} did not answer with HTTP (is it the REST port, e.g. 8081?)"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| head.starts_with("HTTP/"))
        .ok_or_else(|| anyhow!("{address} did not answer with HTTP (is it the REST port, e.g. 8081?)"))?;
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
