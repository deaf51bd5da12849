//! The Icecast source protocol (2.4+): an HTTP PUT with Basic auth and `ice-*` headers whose body is
//! the live stream, plus the admin metadata call and the public status document.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::error::IcecastError;
use super::login::{Answers, Verdict};
use super::target::{header_value_bytes, StreamHeaders, Target};
use crate::net::{self, Conn, NetError};

fn source_request(target: &Target, h: &StreamHeaders) -> Vec<u8> {
    let mut req = Vec::with_capacity(512);
    let mut line = |name: &str, value: &[u8]| {
        req.extend_from_slice(name.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
    };
    line("Host", target.endpoint.authority().as_bytes());
    line(
        "Authorization",
        format!("Basic {}", target.basic_auth()).as_bytes(),
    );
    line("User-Agent", crate::USER_AGENT.as_bytes());
    line("Content-Type", h.content_type.as_bytes());
    for (name, value) in [
        ("ice-name", &h.name),
        ("ice-description", &h.description),
        ("ice-genre", &h.genre),
        ("ice-url", &h.url),
    ] {
        if !value.is_empty() {
            let (bytes, latin1) = header_value_bytes(value);
            if !latin1 {
                log::warn!(
                    "{name} has characters beyond Latin-1; it shows correctly only if the server's \
                     mount charset is UTF-8"
                );
            }
            line(name, &bytes);
        }
    }
    line("ice-public", if h.public { b"1" } else { b"0" });
    if let Some(kbps) = h.audio_bitrate_kbps {
        line("ice-bitrate", kbps.to_string().as_bytes());
        line("ice-audio-info", format!("bitrate={kbps}").as_bytes());
    }
    line("Expect", b"100-continue");
    let mut out = format!("PUT {} HTTP/1.1\r\n", target.mount).into_bytes();
    out.extend_from_slice(&req);
    out.extend_from_slice(b"\r\n");
    out
}

/// An open source connection: the mount is ours until it is closed.
pub struct SourceConnection {
    conn: Conn,
    pub server: Option<String>,
    /// What the server says after its first answer (see `login`): a refusal may follow a `100`.
    answers: Answers,
    refusal: Refusal,
}

/// How long a login's first answer is given to be followed by a refusal before it counts.
/// Icecast-KH sends its `401` right behind its `100`, in the same moment, and its `200` (which
/// tells it apart, see `link::KH_VOID`) about 0.2 s after; Liquidsoap's harbor closes right after
/// its `200` when the mount is taken; the others send nothing more.
pub const LOGIN_SETTLE: Duration = Duration::from_millis(500);

/// Turns a server's refusing answer into the sentence for it; knows what was asked for.
#[derive(Clone)]
struct Refusal {
    server: String,
    mount: String,
    content_type: String,
}

impl Refusal {
    fn of(&self, head: &net::Head, body: &[u8]) -> IcecastError {
        match head.status {
            401 => IcecastError::WrongPassword,
            // Icecast gives the reason in the body; Icecast-KH in the status line ("403 Mountpoint
            // in use", "403 too many streams connected") with an empty body.
            403 => classify_403(
                &self.mount,
                &self.content_type,
                &format!("{} {}", head.reason, String::from_utf8_lossy(body)),
            ),
            _ => IcecastError::NotIcecast {
                server: self.server.clone(),
                answer: format!("{} {}", head.status, head.reason),
            },
        }
    }
}

/// How long one write may block before the server is taken as gone (a stalled server or network).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long a closing stream may take to reach the server.
const LINGER: Duration = Duration::from_secs(15);

impl SourceConnection {
    pub async fn send(&mut self, data: &[u8]) -> Result<(), IcecastError> {
        self.read_answers().await?;
        match tokio::time::timeout(WRITE_TIMEOUT, self.conn.write_all(data)).await {
            Err(_) => Err(IcecastError::ConnectionLost {
                reason: "the server stopped accepting data".into(),
            }),
            // A server that refused and closed: its answer says why, not the broken pipe.
            Ok(Err(e)) => Err(self
                .read_answers()
                .await
                .err()
                .unwrap_or(IcecastError::ConnectionLost {
                    reason: crate::plain_io_reason(&e),
                })),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// The server answered as Icecast-KH does: its listeners of WebM mounts get 4 KiB of stray
    /// bytes after the stream header (see `link`).
    pub fn is_icecast_kh(&self) -> bool {
        self.answers.icecast_kh || self.server.as_deref().is_some_and(|s| s.contains("-kh"))
    }

    fn hear(&mut self, bytes: &[u8]) -> Result<(), IcecastError> {
        let refusal = &self.refusal;
        match self.answers.feed(bytes, |head, body| refusal.of(head, body)) {
            Verdict::Accepted => Ok(()),
            Verdict::Refused(e) => Err(e),
        }
    }

    /// Reads whatever the server has sent so far, without waiting for more.
    async fn read_answers(&mut self) -> Result<(), IcecastError> {
        self.hear_until(None).await
    }

    /// Gives the server `wait` to refuse what its `100 Continue` seemed to accept.
    async fn settle(&mut self, wait: Duration) -> Result<(), IcecastError> {
        self.hear_until(Some(tokio::time::Instant::now() + wait)).await
    }

    /// Reads the server's answers until `deadline`, or, with none, those that have arrived. A
    /// close during the login (a deadline) is Liquidsoap's harbor refusing a mount another source
    /// holds (its `200 OK` and a close); later it is a lost connection.
    async fn hear_until(&mut self, deadline: Option<tokio::time::Instant>) -> Result<(), IcecastError> {
        let mut buf = [0u8; 2048];
        loop {
            let read = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, self.conn.read(&mut buf))
                    .await
                    .ok(),
                None => {
                    std::future::poll_fn(|cx| {
                        let mut rb = tokio::io::ReadBuf::new(&mut buf);
                        match std::pin::Pin::new(&mut self.conn).poll_read(cx, &mut rb) {
                            std::task::Poll::Pending => std::task::Poll::Ready(None),
                            std::task::Poll::Ready(r) => {
                                std::task::Poll::Ready(Some(r.map(|()| rb.filled().len())))
                            }
                        }
                    })
                    .await
                }
            };
            match read {
                None => return Ok(()),
                Some(Ok(0)) if deadline.is_some() => {
                    return Err(IcecastError::MountInUse {
                        mount: self.refusal.mount.clone(),
                    })
                }
                Some(Ok(0)) => {
                    return Err(IcecastError::ConnectionLost {
                        reason: "the server closed the connection".into(),
                    })
                }
                Some(Ok(n)) => self.hear(&buf[..n])?,
                Some(Err(e)) => {
                    return Err(IcecastError::ConnectionLost {
                        reason: crate::plain_io_reason(&e),
                    })
                }
            }
        }
    }

    /// Ends the stream: everything written is flushed, then the connection closes and the server
    /// releases the mount.
    ///
    /// The end is a bare TCP end, also under TLS, without TLS's close_notify: Icecast 2.4.4 takes
    /// a close_notify for "no data yet" and keeps the mount (and the broadcast's ghost on it) for
    /// as long as it runs, while a TCP end it sees as the end of the stream.
    pub async fn close(mut self) -> Result<(), IcecastError> {
        let result = tokio::time::timeout(WRITE_TIMEOUT, async {
            self.conn.flush().await?;
            socket2::SockRef::from(self.conn.tcp()).shutdown(std::net::Shutdown::Write)
        })
        .await;
        // Wait for the server to close its side: closing ours while it still has something to
        // read from us would reset the connection, and the kernel would throw away whatever of the
        // stream had not reached the server yet (seconds of it on a slow network).
        let _ = tokio::time::timeout(LINGER, async {
            let mut buf = [0u8; 512];
            while matches!(self.conn.read(&mut buf).await, Ok(1..)) {}
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(IcecastError::ConnectionLost {
                reason: crate::plain_io_reason(&e),
            }),
            Err(_) => Err(IcecastError::ConnectionLost {
                reason: "the server stopped accepting data".into(),
            }),
        }
    }
}

/// Logs in as the source of `target.mount`. On success the mount exists on the server.
pub async fn connect_source(
    target: &Target,
    headers: &StreamHeaders,
) -> Result<SourceConnection, IcecastError> {
    let ep = &target.endpoint;
    let mut conn = net::connect(ep).await?;
    let request = source_request(target, headers);
    let lost = |e: std::io::Error| {
        IcecastError::Net(NetError::Network {
            server: ep.authority(),
            reason: crate::plain_io_reason(&e),
        })
    };
    let head = tokio::time::timeout(net::CONNECT_TIMEOUT, async {
        conn.write_all(&request).await?;
        conn.flush().await?;
        net::read_head(&mut conn).await
    })
    .await
    .map_err(|_| {
        IcecastError::Net(NetError::TimedOut {
            server: ep.authority(),
        })
    })?
    .map_err(lost)?;
    let Some(head) = head else {
        return Err(IcecastError::NotIcecast {
            server: ep.authority(),
            answer: "no HTTP answer".into(),
        });
    };
    let refusal = Refusal {
        server: ep.authority(),
        mount: target.mount.clone(),
        content_type: headers.content_type.clone(),
    };
    match head.status {
        // 100: Icecast with Expect (a refusal may still follow it); 200: servers that skip the
        // interim answer.
        100 | 200 => {
            let mut source = SourceConnection {
                conn,
                server: head.header("server").map(str::to_string),
                answers: Answers::default(),
                refusal,
            };
            source.settle(LOGIN_SETTLE).await?;
            Ok(source)
        }
        _ => {
            let body = net::read_body(&mut conn, &head, 4096, Duration::from_secs(2)).await;
            Err(refusal.of(&head, &body))
        }
    }
}

/// Icecast gives the reason of a 403 in the body (HTML or plain text), not in the status line.
fn classify_403(mount: &str, content_type: &str, body: &str) -> IcecastError {
    let lower = body.to_ascii_lowercase();
    if lower.contains("in use") {
        IcecastError::MountInUse {
            mount: mount.to_string(),
        }
    } else if lower.contains("content-type") || lower.contains("content type") {
        IcecastError::ContentTypeRefused {
            content_type: content_type.to_string(),
        }
    } else if lower.contains("too many") {
        IcecastError::TooManySources
    } else {
        let text = strip_tags(body);
        IcecastError::Refusal {
            reason: if text.is_empty() {
                "no reason given".into()
            } else {
                text
            },
        }
    }
}

pub(super) fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_control() => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Endpoint;
    use crate::secrets::Secret;
    use crate::settings::Settings;

    fn target() -> Target {
        Target {
            endpoint: Endpoint {
                host: "localhost".into(),
                port: 8000,
                tls: false,
                pin: None,
            },
            mount: "/live".into(),
            username: "source".into(),
            password: Secret::new("hackme"),
        }
    }

    #[test]
    fn request_has_auth_and_ice_headers() {
        let mut h = StreamHeaders::from_settings(&Settings::default());
        h.genre = "Talk".into();
        let req = String::from_utf8_lossy(&source_request(&target(), &h)).to_string();
        assert!(req.starts_with("PUT /live HTTP/1.1\r\n"));
        assert!(req.contains("Authorization: Basic c291cmNlOmhhY2ttZQ==\r\n"));
        assert!(req.contains("ice-genre: Talk\r\n"));
        assert!(req.contains("Expect: 100-continue\r\n"));
        assert!(req.ends_with("\r\n\r\n"));
    }

    #[test]
    fn classifies_403_bodies() {
        let h = StreamHeaders::from_settings(&Settings::default());
        assert!(matches!(
            classify_403("/live", &h.content_type, "<b>Mountpoint in use</b>"),
            IcecastError::MountInUse { .. }
        ));
        assert!(matches!(
            classify_403("/live", &h.content_type, "Content-type not supported"),
            IcecastError::ContentTypeRefused { .. }
        ));
        assert_eq!(
            classify_403("/live", &h.content_type, "<p>go away</p>"),
            IcecastError::Refusal {
                reason: "go away".into()
            }
        );
    }
}
