//! A minimal HTTP/1.0 client for the few admin and status requests Icecast answers, and the response
//! head reader the source connection shares: byte by byte, so nothing after a head is consumed.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::{connect, Conn, Endpoint, CONNECT_TIMEOUT};
use super::error::NetError;

/// The status line and headers of an HTTP response.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

const MAX_HEAD: usize = 16 * 1024;

/// Reads one response head, byte by byte so that nothing after it is consumed.
pub async fn read_head(conn: &mut Conn) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    loop {
        if conn.read(&mut byte).await? == 0 {
            return Ok(None);
        }
        buf.push(byte[0]);
        if buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n\n") {
            break;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
    }
    Ok(parse_head(&buf))
}

pub fn parse_head(buf: &[u8]) -> Option<Head> {
    let text = String::from_utf8_lossy(buf);
    let mut lines = text.lines();
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let proto = parts.next()?;
    if !proto.starts_with("HTTP/") && !proto.starts_with("ICE/") {
        return None;
    }
    let status = parts.next()?.trim().parse().ok()?;
    let reason = parts.next().unwrap_or("").trim().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some(Head {
        status,
        reason,
        headers,
    })
}

/// Reads what follows a head: up to Content-Length, or to EOF, bounded in size and time.
pub async fn read_body(conn: &mut Conn, head: &Head, limit: usize, wait: Duration) -> Vec<u8> {
    let want = head
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(limit)
        .min(limit);
    let mut body = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        while body.len() < want {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    body.truncate(want);
    body
}

/// A GET with HTTP/1.0, so the body is never chunked and ends with the connection.
pub async fn get(
    ep: &Endpoint,
    path_and_query: &str,
    auth: Option<&str>,
) -> Result<(Head, Vec<u8>), NetError> {
    let mut conn = connect(ep).await?;
    let mut req = format!(
        "GET {path_and_query} HTTP/1.0\r\nHost: {}\r\nUser-Agent: {}\r\n",
        ep.authority(),
        crate::USER_AGENT
    );
    if let Some(a) = auth {
        req.push_str("Authorization: Basic ");
        req.push_str(a);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let lost = |e: std::io::Error| NetError::Network {
        server: ep.authority(),
        reason: crate::plain_io_reason(&e),
    };
    let head = tokio::time::timeout(CONNECT_TIMEOUT, async {
        conn.write_all(req.as_bytes()).await?;
        conn.flush().await?;
        read_head(&mut conn).await
    })
    .await
    .map_err(|_| NetError::TimedOut {
        server: ep.authority(),
    })?
    .map_err(lost)?
    .ok_or(NetError::NoHttpAnswer {
        server: ep.authority(),
    })?;
    let body = read_body(&mut conn, &head, 4 * 1024 * 1024, CONNECT_TIMEOUT).await;
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_icecast_heads() {
        let h = parse_head(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        assert_eq!((h.status, h.reason.as_str()), (100, "Continue"));
        let h = parse_head(b"HTTP/1.0 403 Forbidden\r\nContent-Length: 17\r\n\r\n").unwrap();
        assert_eq!(h.status, 403);
        assert_eq!(h.header("content-length"), Some("17"));
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_none());
    }
}
