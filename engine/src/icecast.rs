//! The Icecast source protocol (2.4+): an HTTP PUT with Basic auth and `ice-*` headers whose body is
//! the live stream, plus the admin metadata call and the public status document.

use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::format::MountFormat;
use crate::login::{Answers, Verdict};
use crate::net::{self, Conn, Endpoint};
use crate::secret::Secret;
use crate::settings::{Destination, Settings, StreamInfo};
use crate::tls::{CertificateOffer, Fingerprint};

/// Everything that can go wrong talking to the server, each in words a broadcaster can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcecastError {
    #[error("The server name \"{host}\" could not be found. Check the spelling of the host in Settings.")]
    HostNotFound { host: String },
    #[error(
        "Nothing is accepting connections at {server}. Check the host and port, and that Icecast is running."
    )]
    Refused { server: String },
    #[error("The server at {server} did not answer in time. Check the host and port, and your network.")]
    TimedOut { server: String },
    #[error("The connection to {server} failed: {reason}.")]
    Network { server: String, reason: String },
    #[error("A secure (TLS) connection to {host} could not be made: {reason}.")]
    Tls { host: String, reason: String },
    #[error(
        "The server at {server} does not answer with a secure (TLS) connection on this port. Check the \
         port: Icecast serves TLS on a port of its own, which the server's owner can tell you."
    )]
    NotTls { server: String },
    #[error(
        "The certificate of {host} is not signed by an authority this computer trusts: the server made \
         it itself, or it comes from a private authority. If this is your server, compare its SHA-256 \
         fingerprint with the one the server's owner gives you, then trust it: {sha256}"
    )]
    UntrustedCertificate {
        host: String,
        port: u16,
        sha256: Fingerprint,
    },
    #[error(
        "The certificate of {host} is not the one you trusted. Trusted: {trusted}. Presented now: \
         {presented}. If the server's owner replaced it, trust the new one; if not, someone may be \
         intercepting the connection, so do not go on."
    )]
    CertificateChanged {
        host: String,
        trusted: Fingerprint,
        presented: Fingerprint,
    },
    #[error(
        "The certificate of {host} is made out for {}, not for {host}. Enter the server's name as \
         its certificate gives it in Settings, or ask the server's owner for a certificate that names {host}.",
        if names.is_empty() { "another name" } else { names.as_str() }
    )]
    CertificateWrongHost { host: String, names: String },
    #[error(
        "The certificate of {host} has expired. Ask the server's owner to renew it; if it was renewed, \
         check that this computer's date and time are right."
    )]
    CertificateExpired { host: String },
    #[error(
        "The certificate of {host} is not valid yet. Check that this computer's date and time are right."
    )]
    CertificateNotYetValid { host: String },
    #[error(
        "The server refused the username or password. Check the source username (usually \"source\") \
         and the password in Settings."
    )]
    WrongPassword,
    #[error("Someone is already streaming to the mount {mount}. Stop that stream or choose another mount.")]
    MountInUse { mount: String },
    #[error(
        "The server does not accept {content_type} streams on this mount. Choose another format, or \
         ask the server's owner to allow it."
    )]
    ContentTypeRefused { content_type: String },
    #[error("The server already has as many streams as it allows. Try again later, or ask its owner to raise the limit.")]
    TooManySources,
    #[error("The server refused the stream: {reason}.")]
    Refusal { reason: String },
    #[error(
        "The server at {server} is not an Icecast server that accepts streams (it answered: {answer}). \
         Check the host and port; Icecast 2.4 or newer is needed."
    )]
    NotIcecast { server: String, answer: String },
    #[error("The connection to the server was lost: {reason}.")]
    ConnectionLost { reason: String },
    #[error("Nothing is streaming to {mount} right now, so its title cannot be changed. Go live first.")]
    NotLive { mount: String },
    #[error(
        "Now playing can't be shown on {format} mounts: the format has no place for titles. Use an MP3 \
         mount to show titles."
    )]
    NowPlayingUnsupported { format: &'static str },
    #[error(
        "The server took the title but does not show it on this {format} mount (Icecast 2.4 shows \
         titles set during a broadcast only on MP3 and Ogg Vorbis mounts). Use one of those to show titles."
    )]
    NowPlayingNotShown { format: &'static str },
}

impl IcecastError {
    /// Retrying cannot fix these without the person changing something.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            IcecastError::WrongPassword
                | IcecastError::MountInUse { .. }
                | IcecastError::ContentTypeRefused { .. }
                | IcecastError::NotIcecast { .. }
                | IcecastError::HostNotFound { .. }
                | IcecastError::NowPlayingUnsupported { .. }
        ) || self.is_secure_connection()
    }

    /// The secure connection could not be made (the server was reached, not trusted or not TLS).
    pub fn is_secure_connection(&self) -> bool {
        matches!(
            self,
            IcecastError::Tls { .. }
                | IcecastError::NotTls { .. }
                | IcecastError::UntrustedCertificate { .. }
                | IcecastError::CertificateChanged { .. }
                | IcecastError::CertificateWrongHost { .. }
                | IcecastError::CertificateExpired { .. }
                | IcecastError::CertificateNotYetValid { .. }
        )
    }

    /// The server's own certificate, when trusting it would let the connection through.
    pub fn certificate_offer(&self) -> Option<CertificateOffer> {
        match self {
            IcecastError::UntrustedCertificate { host, port, sha256 } => Some(CertificateOffer {
                host: host.clone(),
                port: *port,
                sha256: *sha256,
            }),
            _ => None,
        }
    }
}

/// The server, the mount and the credentials: all that is needed to talk to one Icecast mount.
#[derive(Clone, Debug)]
pub struct Target {
    pub endpoint: Endpoint,
    pub mount: String,
    pub username: String,
    pub password: Secret,
}

impl Target {
    /// One destination of validated settings (port in range), with any certificate trusted for
    /// its server.
    pub fn new(s: &Settings, d: &Destination) -> Target {
        let (host, port) = (d.server.host.trim(), d.server.port as u16);
        Target {
            endpoint: Endpoint {
                host: host.to_string(),
                port,
                tls: d.server.tls,
                pin: s.pin_for(host, port),
            },
            mount: d.mount(),
            username: d.server.username.clone(),
            password: d.server.password.clone(),
        }
    }

    /// The first destination's: for callers that talk to one server.
    pub fn from_settings(s: &Settings) -> Target {
        Target::new(s, s.first())
    }

    fn basic_auth(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.username,
            self.password.expose()
        ))
    }

    /// What a listener opens.
    pub fn listen_url(&self) -> String {
        format!("{}{}", self.endpoint.base_url(), self.mount)
    }
}

/// The stream description sent with the PUT.
#[derive(Clone, Debug)]
pub struct StreamHeaders {
    pub content_type: String,
    pub name: String,
    pub description: String,
    pub genre: String,
    pub url: String,
    pub public: bool,
    pub audio_bitrate_kbps: Option<u32>,
}

impl StreamHeaders {
    /// The broadcast's info with one destination's format and bitrate.
    pub fn new(stream: &StreamInfo, d: &Destination) -> StreamHeaders {
        StreamHeaders {
            content_type: d.format.content_type().to_string(),
            name: stream.name.clone(),
            description: stream.description.clone(),
            genre: stream.genre.clone(),
            url: stream.url.clone(),
            public: stream.public,
            audio_bitrate_kbps: Some(d.audio_bitrate_kbps),
        }
    }

    /// The first destination's: for callers that talk to one server.
    pub fn from_settings(s: &Settings) -> StreamHeaders {
        StreamHeaders::new(&s.stream, s.first())
    }
}

/// Icecast reads ice-* headers as Latin-1: send Latin-1 where it can hold the text; beyond that only
/// the mount's configured charset can help, so UTF-8 goes as is.
pub fn header_value_bytes(value: &str) -> (Vec<u8>, bool) {
    if value.chars().all(|c| (c as u32) < 256) {
        (value.chars().map(|c| c as u8).collect(), true)
    } else {
        (value.as_bytes().to_vec(), false)
    }
}

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
    let lost = |e: std::io::Error| IcecastError::Network {
        server: ep.authority(),
        reason: crate::plain_io_reason(&e),
    };
    let head = tokio::time::timeout(net::CONNECT_TIMEOUT, async {
        conn.write_all(&request).await?;
        conn.flush().await?;
        net::read_head(&mut conn).await
    })
    .await
    .map_err(|_| IcecastError::TimedOut {
        server: ep.authority(),
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

fn strip_tags(s: &str) -> String {
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

/// Each thing "Test connection" checks, in order; later ones are only known once earlier ones pass.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub what: &'static str,
    pub ok: Option<bool>,
    pub message: String,
    /// The server's own certificate, which the person may choose to trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateOffer>,
}

/// Logs in without sending media and leaves at once: a PUT answered `100 Continue` followed by a
/// close before any byte of body, which Icecast undoes within a moment. Nothing is left behind.
pub async fn test_connection(target: &Target, headers: &StreamHeaders) -> Vec<Check> {
    let result = connect_source(target, headers).await;
    let server = target.endpoint.authority();
    let reached = match &result {
        Ok(_) => Some(true),
        Err(e) => match e {
            IcecastError::HostNotFound { .. }
            | IcecastError::Refused { .. }
            | IcecastError::TimedOut { .. }
            | IcecastError::Network { .. }
            | IcecastError::NotIcecast { .. } => Some(false),
            e if e.is_secure_connection() => Some(false),
            _ => Some(true),
        },
    };
    let creds = match &result {
        Ok(_) => Some(true),
        Err(IcecastError::WrongPassword) => Some(false),
        Err(_) if reached == Some(true) => Some(true),
        Err(_) => None,
    };
    let mount_ok = match &result {
        Ok(_) => Some(true),
        Err(_) if creds == Some(true) => Some(false),
        Err(_) => None,
    };
    let failure = result.as_ref().err().map(|e| e.to_string());
    let mut checks = vec![Check {
        what: "server",
        ok: reached,
        certificate: result.as_ref().err().and_then(|e| e.certificate_offer()),
        message: match reached {
            Some(true) => format!("The server at {server} answers as Icecast."),
            _ => failure.clone().unwrap_or_default(),
        },
    }];
    checks.push(Check {
        what: "credentials",
        ok: creds,
        certificate: None,
        message: match creds {
            Some(true) => "The username and password are right.".into(),
            Some(false) => failure.clone().unwrap_or_default(),
            None => "Not checked: the server could not be reached.".into(),
        },
    });
    checks.push(Check {
        what: "mount",
        ok: mount_ok,
        certificate: None,
        message: match mount_ok {
            Some(true) => format!(
                "The mount {} is free and accepts {}.",
                target.mount, headers.content_type
            ),
            Some(false) => failure.unwrap_or_default(),
            None => "Not checked: the login did not succeed.".into(),
        },
    });
    if let Ok(conn) = result {
        drop(conn);
    }
    checks
}

const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How a title came out on the server, read back from its status page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NowPlaying {
    pub title: String,
    /// What the server shows, when that is not exactly the title.
    pub shown_as: Option<String>,
    /// The server's name and version as its status page gives them ("Icecast 2.5.0-rc2").
    pub server: Option<String>,
}

impl NowPlaying {
    /// Plain advice when the server altered the title or took it in a way it calls outdated,
    /// else None.
    pub fn advice(&self) -> Option<String> {
        let mut notes = Vec::new();
        if let Some(shown) = &self.shown_as {
            // Icecast writes what the mount's charset lacks as character codes ("&#8211;"), which
            // players show as they are.
            let codes = if shown.contains("&#") {
                " and writes the characters Latin-1 lacks as codes, which players show as they are"
            } else {
                ""
            };
            notes.push(format!(
                "The server shows the title as \"{shown}\": it stores titles as Latin-1 on this mount{codes}. \
                 Ask its owner to add <charset>UTF-8</charset> to the mount's settings to show every \
                 character."
            ));
        }
        if self
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("Icecast 2.5"))
        {
            notes.push(
                "Icecast 2.5 shows the title, and marks the stream in its admin pages for the way it \
                 was set (\"legacy metadata\"): 2.5 expects titles inside the stream, which Icecream \
                 does not send yet. Listeners are not affected."
                    .into(),
            );
        }
        (!notes.is_empty()).then(|| notes.join(" "))
    }
}

/// Sets the title listeners see ("now playing") and checks what the server made of it.
///
/// The title is sent as UTF-8 and said so (`charset=UTF-8`): without it Icecast reads the bytes as
/// Latin-1 and "é" turns into "Ã©". A mount whose charset is Latin-1 (Icecast's default) still
/// cannot hold every character; the read-back tells the person so instead of failing silently.
pub async fn set_now_playing(
    target: &Target,
    format: MountFormat,
    title: &str,
) -> Result<NowPlaying, IcecastError> {
    let (before, _) = current_title(target).await;
    if matches!(format, MountFormat::OggVorbis) {
        codec_read(target).await;
    }
    update_metadata(target, format, title).await?;
    let start = tokio::time::Instant::now();
    let mut resent = start;
    let (mut shown, mut server) = (None, None);
    while start.elapsed() < Duration::from_secs(5) {
        (shown, server) = current_title(target).await;
        // A changed title that differs from ours is the server's rendering of it (Latin-1 mounts).
        if shown.as_deref() == Some(title) || (shown.is_some() && shown != before) {
            break;
        }
        // Icecast ignores a title that arrives before it has read the stream's first page (an Ogg
        // mount learns its codec there); asking again is harmless and then it shows.
        if resent.elapsed() >= Duration::from_secs(1) {
            update_metadata(target, format, title).await?;
            resent = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still the title from before ours: the server did not take it.
    if shown == before && shown.as_deref() != Some(title) {
        shown = None;
    }
    match shown {
        None => Err(IcecastError::NowPlayingNotShown {
            format: format.label(),
        }),
        Some(s) => Ok(NowPlaying {
            title: title.to_string(),
            shown_as: (s != title).then_some(s),
            server,
        }),
    }
}

/// Waits (up to 3 s) until Icecast has read an Ogg stream's codec header pages. Icecast 2.4.4
/// corrupts an Ogg mount whose title arrives while it is still reading them (its log says
/// "refbuf_release next not null" and no title shows again), and it may read them a while after we
/// sent them when the machine is busy. It names the codec in status-json once it has them all.
async fn codec_read(target: &Target) {
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(doc) = fetch_status(&target.endpoint).await {
            if mount_status(&doc, &target.mount).is_some_and(|m| m.subtype.is_some()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mount's title on the server's status page, and the server's name from the same page.
async fn current_title(target: &Target) -> (Option<String>, Option<String>) {
    let Ok(doc) = fetch_status(&target.endpoint).await else {
        return (None, None);
    };
    let title = mount_status(&doc, &target.mount)
        .and_then(|m| m.title)
        .filter(|t| !t.is_empty());
    (title, doc["icestats"]["server_id"].as_str().map(str::to_string))
}

/// Sends the admin `updinfo` request for the title, without reading back.
pub async fn update_metadata(target: &Target, format: MountFormat, title: &str) -> Result<(), IcecastError> {
    if !format.supports_now_playing() {
        return Err(IcecastError::NowPlayingUnsupported {
            format: format.label(),
        });
    }
    let path = format!(
        "/admin/metadata?mode=updinfo&mount={}&song={}&charset=UTF-8",
        utf8_percent_encode(&target.mount, QUERY),
        utf8_percent_encode(title, QUERY)
    );
    let (head, body) = net::get(&target.endpoint, &path, Some(&target.basic_auth())).await?;
    let body = String::from_utf8_lossy(&body);
    match head.status {
        200 if body.contains("<return>1</return>") => Ok(()),
        401 => Err(IcecastError::WrongPassword),
        400 | 404 if body.to_ascii_lowercase().contains("source does not exist") => {
            Err(IcecastError::NotLive {
                mount: target.mount.clone(),
            })
        }
        _ => Err(IcecastError::Refusal {
            reason: {
                let text = strip_tags(&body);
                if text.is_empty() {
                    format!("{} {}", head.status, head.reason)
                } else {
                    text
                }
            },
        }),
    }
}

/// What the public status document says about one mount.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct MountStatus {
    pub listeners: u32,
    pub name: Option<String>,
    pub description: Option<String>,
    pub genre: Option<String>,
    pub title: Option<String>,
    pub content_type: Option<String>,
    /// The codec Icecast found in an Ogg stream, once it has read all of its header pages.
    pub subtype: Option<String>,
}

/// Reads `/status-json.xsl`. Icecast 2.4.4 has been seen to answer invalid JSON right after a source
/// logs in, so a bad answer is retried a few times before giving up.
pub async fn fetch_status(ep: &Endpoint) -> Result<serde_json::Value, IcecastError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        let (head, body) = net::get(ep, "/status-json.xsl", None).await?;
        if head.status != 200 {
            return Err(IcecastError::NotIcecast {
                server: ep.authority(),
                answer: format!("{} {}", head.status, head.reason),
            });
        }
        match serde_json::from_slice(&body) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(IcecastError::NotIcecast {
        server: ep.authority(),
        answer: format!(
            "a status page that is not valid JSON ({})",
            last.unwrap_or_default()
        ),
    })
}

/// Finds `mount` in a status document; `source` is an object for one mount and an array for more.
pub fn mount_status(status: &serde_json::Value, mount: &str) -> Option<MountStatus> {
    let source = status.get("icestats")?.get("source")?;
    let sources: Vec<&serde_json::Value> = match source {
        serde_json::Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let s = sources.into_iter().find(|s| {
        s.get("listenurl")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.ends_with(mount) && u[..u.len() - mount.len()].matches('/').count() == 2)
    })?;
    let text = |k: &str| {
        s.get(k).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    };
    Some(MountStatus {
        listeners: s.get("listeners").and_then(|v| v.as_u64()).unwrap_or(0) as u32,
        name: text("server_name"),
        description: text("server_description"),
        genre: text("genre"),
        title: text("title"),
        content_type: text("server_type"),
        subtype: text("subtype"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn icecast_25_is_told_apart_in_the_advice() {
        let mut shown = NowPlaying {
            title: "Café – 東京".into(),
            shown_as: Some("Café &#8211; &#26481;&#20140;".into()),
            server: Some("Icecast 2.5.0-rc2".into()),
        };
        let advice = shown.advice().unwrap();
        assert!(
            advice.contains("writes the characters Latin-1 lacks as codes"),
            "{advice}"
        );
        assert!(advice.contains("<charset>UTF-8</charset>"), "{advice}");
        assert!(
            advice.ends_with("which Icecream does not send yet. Listeners are not affected."),
            "{advice}"
        );
        shown.shown_as = None;
        shown.server = Some("Icecast 2.4.4".into());
        assert_eq!(shown.advice(), None);
    }

    #[test]
    fn latin1_where_possible() {
        assert_eq!(header_value_bytes("Café"), (vec![b'C', b'a', b'f', 0xE9], true));
        assert!(!header_value_bytes("東京").1);
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

    #[test]
    fn finds_mount_in_one_or_many_sources() {
        let one =
            serde_json::json!({"icestats": {"source": {"listenurl": "http://h:1/live", "listeners": 2}}});
        assert_eq!(mount_status(&one, "/live").unwrap().listeners, 2);
        let many = serde_json::json!({"icestats": {"source": [
            {"listenurl": "http://h:1/other/live", "listeners": 1},
            {"listenurl": "http://h:1/live", "listeners": 3, "server_name": "X"}]}});
        let m = mount_status(&many, "/live").unwrap();
        assert_eq!((m.listeners, m.name.as_deref()), (3, Some("X")));
        assert!(mount_status(&one, "/nope").is_none());
    }
}
