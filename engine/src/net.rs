//! Reaching the server: TCP or TLS (rustls, trusting what the operating system trusts plus any
//! certificate the person trusted for this server; see `tls`), and a minimal HTTP/1.0 GET for the
//! few admin and status requests Icecast answers.
//!
//! A full HTTP client crate would not help with the source connection itself (an endless PUT body
//! after `100 Continue`), so the same small transport serves both.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::icecast::IcecastError;
use crate::tls::{self, Fingerprint};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// About a second of 1 Mbit/s video; the kernel doubles it for its own bookkeeping.
const SEND_BUFFER: usize = 128 * 1024;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP connection underneath, for what only the socket can do.
    fn tcp(&self) -> &TcpStream;
}

impl Io for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Io for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

pub type Conn = Box<dyn Io>;

/// Where to connect, and how.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// The server's own certificate, trusted by the person by its fingerprint.
    pub pin: Option<Fingerprint>,
}

impl Endpoint {
    /// Plain HTTP on this computer: the private server, and the servers tests start.
    pub fn loopback(port: u16) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            tls: false,
            pin: None,
        }
    }

    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority())
    }
}

/// Whether the server accepts TCP connections now (no request is sent). Cheap enough to ask twice a
/// second while it is away, so that a reconnect does not sleep through its return.
pub async fn accepts(ep: &Endpoint) -> bool {
    let host = ep.host.trim_start_matches('[').trim_end_matches(']').to_string();
    let attempt = async {
        for addr in tokio::net::lookup_host((host.as_str(), ep.port)).await.ok()? {
            if TcpStream::connect(addr).await.is_ok() {
                return Some(());
            }
        }
        None
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(()))
    )
}

pub async fn connect(ep: &Endpoint) -> Result<Conn, IcecastError> {
    let host = ep.host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addrs: Vec<_> = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), ep.port)),
    )
    .await
    {
        Err(_) => {
            return Err(IcecastError::TimedOut {
                server: ep.authority(),
            })
        }
        Ok(Err(_)) => {
            return Err(IcecastError::HostNotFound {
                host: ep.host.clone(),
            })
        }
        Ok(Ok(addrs)) => addrs.collect(),
    };
    if addrs.is_empty() {
        return Err(IcecastError::HostNotFound {
            host: ep.host.clone(),
        });
    }
    let mut last_err = None;
    let mut tcp = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Err(_) => {
                last_err = Some(IcecastError::TimedOut {
                    server: ep.authority(),
                })
            }
            Ok(Err(e)) => last_err = Some(connect_error(ep, &e)),
            Ok(Ok(s)) => {
                tcp = Some(s);
                break;
            }
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => return Err(last_err.expect("at least one address was tried")),
    };
    // Media is written in small pieces as it is encoded; Nagle would hold them back.
    let _ = tcp.set_nodelay(true);
    // A kernel buffer that grows to megabytes hides a slow network as seconds of delay; kept
    // modest, a network that cannot keep up shows at once, and the stream skips ahead instead.
    let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(SEND_BUFFER);
    if !ep.tls {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| IcecastError::Tls {
        host: ep.host.clone(),
        reason: "the host name is not valid for TLS".into(),
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls::client_config(ep.pin));
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        // A plain HTTP server (Icecast included) waits silently for a request it never gets.
        Err(_) => Err(IcecastError::NotTls {
            server: ep.authority(),
        }),
        Ok(Err(e)) => Err(tls::classify(&ep.host, ep.port, ep.pin, &e)),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

fn connect_error(ep: &Endpoint, e: &std::io::Error) -> IcecastError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => IcecastError::Refused {
            server: ep.authority(),
        },
        TimedOut => IcecastError::TimedOut {
            server: ep.authority(),
        },
        _ => IcecastError::Network {
            server: ep.authority(),
            reason: crate::plain_io_reason(e),
        },
    }
}

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

pub(crate) fn parse_head(buf: &[u8]) -> Option<Head> {
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
) -> Result<(Head, Vec<u8>), IcecastError> {
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
    let lost = |e: std::io::Error| IcecastError::Network {
        server: ep.authority(),
        reason: crate::plain_io_reason(&e),
    };
    let head = tokio::time::timeout(CONNECT_TIMEOUT, async {
        conn.write_all(req.as_bytes()).await?;
        conn.flush().await?;
        read_head(&mut conn).await
    })
    .await
    .map_err(|_| IcecastError::TimedOut {
        server: ep.authority(),
    })?
    .map_err(lost)?
    .ok_or(IcecastError::NotIcecast {
        server: ep.authority(),
        answer: "no HTTP answer".into(),
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
