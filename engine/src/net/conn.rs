//! Reaching the server: TCP or TLS (rustls, trusting what the operating system trusts plus any
//! certificate the person trusted for this server; see `tls`).

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::error::NetError;
use super::tls;
use super::trust::Fingerprint;

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

pub async fn connect(ep: &Endpoint) -> Result<Conn, NetError> {
    let host = ep.host.trim_start_matches('[').trim_end_matches(']').to_string();
    let addrs: Vec<_> = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), ep.port)),
    )
    .await
    {
        Err(_) => {
            return Err(NetError::TimedOut {
                server: ep.authority(),
            })
        }
        Ok(Err(_)) => {
            return Err(NetError::HostNotFound {
                host: ep.host.clone(),
            })
        }
        Ok(Ok(addrs)) => addrs.collect(),
    };
    if addrs.is_empty() {
        return Err(NetError::HostNotFound {
            host: ep.host.clone(),
        });
    }
    let mut last_err = None;
    let mut tcp = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Err(_) => {
                last_err = Some(NetError::TimedOut {
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
    let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| NetError::Tls {
        host: ep.host.clone(),
        reason: "the host name is not valid for TLS".into(),
    })?;
    let connector = tokio_rustls::TlsConnector::from(tls::client_config(ep.pin));
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        // A plain HTTP server (Icecast included) waits silently for a request it never gets.
        Err(_) => Err(NetError::NotTls {
            server: ep.authority(),
        }),
        Ok(Err(e)) => Err(tls::classify(&ep.host, ep.port, ep.pin, &e)),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

fn connect_error(ep: &Endpoint, e: &std::io::Error) -> NetError {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => NetError::Refused {
            server: ep.authority(),
        },
        TimedOut => NetError::TimedOut {
            server: ep.authority(),
        },
        _ => NetError::Network {
            server: ep.authority(),
            reason: crate::plain_io_reason(e),
        },
    }
}
