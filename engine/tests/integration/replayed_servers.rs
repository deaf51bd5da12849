//! Servers no Debian package provides, replayed from a loopback socket with the exact answers
//! measured from them (shared/DESIGN.md, "Servers people run"). These sit beside the real-server
//! tests, which cover Icecast 2.4.4 (Debian) and Liquidsoap's harbor: here only what differs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use icecream_engine::icecast::{self, StreamHeaders, Target};
use icecream_engine::{IcecastError, MountFormat, Secret, Session, Settings, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::*;

/// How a replayed server answers a source login.
#[derive(Clone, Copy)]
enum Answer {
    /// Icecast-KH 2.4.0-kh22, right password: `100 Continue` before any check, then `200 OK`; the
    /// connection stays.
    KhAccepts,
    /// Icecast-KH 2.4.0-kh22, the mount taken: `100 Continue`, then `403 Mountpoint in use` (the
    /// reason in the status line, no body) and a close.
    KhMountInUse,
    /// Icecast-KH 2.4.0-kh22 at its source limit: `100 Continue`, `403 too many streams connected`.
    KhTooMany,
    /// Icecast-KH 2.4.0-kh22, wrong password: `100 Continue`, then at once `401` and a close.
    KhRefuses,
    /// Icecast 2.5.0-rc2, right password: only a `100 Continue` that says `Connection: Close`, and no
    /// final status; the connection stays. A request with a non-zero Content-Length gets no answer.
    Icecast25Accepts,
    /// Icecast 2.5.0-rc2, wrong password: `401` at once.
    Icecast25Refuses,
}

// Icecast-KH 2.4.0-kh22's answers, byte for byte as a raw socket read them (the 100 and the
// final status arrive together).
const KH_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const KH_401: &[u8] = b"HTTP/1.1 401 Authentication Required\r\nConnection: Close\r\n\
Date: Wed, 02 Dec 2026 15:50:00 GMT\r\nContent-Type: text/html\r\n\
WWW-Authenticate: Basic realm=\"Icecast 2.4.0-kh22\"\r\nContent-Length: 0\r\n\r\n";
const KH_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: Icecast\r\nConnection: Close\r\nPragma: no-cache\r\n\
Expires: Thu, 19 Nov 1981 08:52:00 GMT\r\nCache-Control: no-store, no-cache, private\r\nVary: Origin\r\n\
Date: Wed, 02 Dec 2026 15:50:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n";
const KH_403_IN_USE: &[u8] = b"HTTP/1.1 403 Mountpoint in use\r\nConnection: Close\r\n\
Date: Wed, 02 Dec 2026 15:50:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n";
const KH_403_TOO_MANY: &[u8] = b"HTTP/1.1 403 too many streams connected\r\nConnection: Close\r\n\
Date: Wed, 02 Dec 2026 15:50:00 GMT\r\nContent-Type: text/html\r\nContent-Length: 0\r\n\r\n";
const ICECAST25_100: &[u8] = b"HTTP/1.1 100 Continue\r\nServer: Icecast 2.5.0-rc2\r\nConnection: Close\r\n\
Content-Length: 0\r\n\r\n";
const ICECAST25_401: &[u8] = b"HTTP/1.1 401 Authentication Required\r\nServer: Icecast 2.5.0-rc2\r\n\
Connection: Close\r\nWWW-Authenticate: Basic realm=\"Icecast2 Server\"\r\nContent-Length: 0\r\n\r\n";

/// A loopback server that answers every login the same way and keeps what it was sent.
struct Replayed {
    port: u16,
    logins: Arc<AtomicUsize>,
    /// The stream bytes of the last login, after its request head.
    received: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Replayed {
    async fn start(answer: Answer) -> Replayed {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let logins = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (l, r, q) = (logins.clone(), received.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, answer, l.clone(), r.clone(), q.clone()));
            }
        });
        Replayed {
            port,
            logins,
            received,
            requests,
        }
    }

    fn settings(&self, format: MountFormat) -> Settings {
        let mut s = Settings::default();
        s.first_mut().server.host = "127.0.0.1".into();
        s.first_mut().server.port = self.port as u32;
        s.first_mut().server.password = Secret::new("hackme");
        s.first_mut().server.mount = "/live".into();
        s.first_mut().format = format;
        s
    }

    fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut sock: tokio::net::TcpStream,
    answer: Answer,
    logins: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<u8>>>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let request = String::from_utf8_lossy(&head).to_string();
    // The status page is not what differs between these servers.
    if request.starts_with("GET ") {
        let _ = sock.write_all(b"HTTP/1.0 404 Not Found\r\n\r\n").await;
        return;
    }
    logins.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(request.clone());
    received.lock().unwrap().clear();
    let keep_reading = match answer {
        Answer::KhRefuses => {
            let _ = sock.write_all(&[KH_100, KH_401].concat()).await;
            false
        }
        Answer::KhMountInUse => {
            let _ = sock.write_all(&[KH_100, KH_403_IN_USE].concat()).await;
            false
        }
        Answer::KhTooMany => {
            let _ = sock.write_all(&[KH_100, KH_403_TOO_MANY].concat()).await;
            false
        }
        Answer::Icecast25Refuses => {
            let _ = sock.write_all(ICECAST25_401).await;
            false
        }
        Answer::KhAccepts => {
            let _ = sock.write_all(&[KH_100, KH_200].concat()).await;
            true
        }
        Answer::Icecast25Accepts => {
            let sized = request.lines().any(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .is_some_and(|v| v.trim() != "0")
            });
            if sized {
                // 2.5 drops such a request without a word.
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
            let _ = sock.write_all(ICECAST25_100).await;
            true
        }
    };
    if !keep_reading {
        return;
    }
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => received.lock().unwrap().extend_from_slice(&buf[..n]),
        }
    }
}

fn target(server: &Replayed, password: &str) -> (Target, StreamHeaders) {
    let mut s = server.settings(MountFormat::WebmAudio);
    s.first_mut().server.password = Secret::new(password);
    (Target::from_settings(&s), StreamHeaders::from_settings(&s))
}

const WRONG_PASSWORD: &str = "The server refused the username or password. Check the source username \
                              (usually \"source\") and the password in Settings.";

/// Test connection's three checks as (ok, message).
async fn tested(server: &Replayed, password: &str) -> Vec<(Option<bool>, String)> {
    let (t, h) = target(server, password);
    let checks: Vec<_> = icecast::test_connection(&t, &h)
        .await
        .into_iter()
        .map(|c| (c.ok, c.message))
        .collect();
    for (_, message) in &checks {
        assert_plain(message);
    }
    checks
}

/// Runs a broadcast of the audio corpus to `server` until it ends by itself or is stopped, and
/// returns its final state.
async fn broadcast(
    server: &Replayed,
) -> (
    State,
    Result<icecream_engine::Summary, icecream_engine::SessionError>,
) {
    let session = Session::start(server.settings(MountFormat::WebmAudio), options()).unwrap();
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let mut rx = session.status();
    for c in chunks.iter().take(12) {
        if session.push(c.clone()).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(3), rx.wait_for(|s| s.state.is_final()))
        .await
        .map(|s| s.unwrap().state.clone());
    let state = ended.unwrap_or_else(|_| rx.borrow().state.clone());
    let result = match state.is_final() {
        true => session.wait().await,
        false => session.stop().await,
    };
    if let Err(e) = &result {
        assert_plain(&e.to_string());
    }
    (state, result)
}

#[tokio::test]
async fn icecast_kh_wrong_password_is_wrong_in_test_connection() {
    let kh = Replayed::start(Answer::KhRefuses).await;
    let checks = tested(&kh, "not-the-password").await;
    assert_eq!(checks[0].0, Some(true), "the server was reached: {checks:?}");
    assert_eq!(checks[1], (Some(false), WRONG_PASSWORD.to_string()));
    assert_eq!(checks[2].0, None);
}

#[tokio::test]
async fn icecast_kh_wrong_password_fails_go_live_without_retrying() {
    let kh = Replayed::start(Answer::KhRefuses).await;
    let started = std::time::Instant::now();
    let (state, result) = broadcast(&kh).await;
    assert_eq!(
        state,
        State::Failed {
            reason: WRONG_PASSWORD.into()
        }
    );
    assert_eq!(result.unwrap_err().to_string(), WRONG_PASSWORD);
    assert_eq!(kh.logins(), 1, "a wrong password is not retried");
    eprintln!("KH wrong password reported after {:?}", started.elapsed());
}

#[tokio::test]
async fn icecast_kh_right_password_goes_live() {
    let kh = Replayed::start(Answer::KhAccepts).await;
    let checks = tested(&kh, "hackme").await;
    assert!(checks.iter().all(|c| c.0 == Some(true)), "{checks:?}");
    let (state, result) = broadcast(&kh).await;
    assert_eq!(
        state,
        State::Live,
        "KH's 200 after the first bytes is not a refusal"
    );
    result.expect("the broadcast ends cleanly");
    assert_eq!(kh.logins(), 2, "one for the test, one for the broadcast");
    let sent = kh.received.lock().unwrap().clone();
    let fed: Vec<u8> = corpus_chunks("webm-opus-audio-250ms")[..12].concat();
    assert!(
        sent.len() > fed.len() / 2,
        "the stream reached the server: {} bytes",
        sent.len()
    );
}

#[tokio::test]
async fn icecast_25_bare_100_is_a_login() {
    let ice25 = Replayed::start(Answer::Icecast25Accepts).await;
    let checks = tested(&ice25, "hackme").await;
    assert!(checks.iter().all(|c| c.0 == Some(true)), "{checks:?}");
    let (state, result) = broadcast(&ice25).await;
    assert_eq!(state, State::Live);
    result.expect("the broadcast ends cleanly");
    assert!(!ice25.received.lock().unwrap().is_empty());
    // 2.5 drops a PUT with a non-zero Content-Length; none of ours has one.
    for r in ice25.requests.lock().unwrap().iter() {
        assert!(r.starts_with("PUT /live HTTP/1.1\r\n"), "{r}");
        assert!(!r.to_ascii_lowercase().contains("content-length"), "{r}");
    }
}

#[tokio::test]
async fn icecast_25_wrong_password() {
    let ice25 = Replayed::start(Answer::Icecast25Refuses).await;
    let checks = tested(&ice25, "nope").await;
    assert_eq!(checks[1], (Some(false), WRONG_PASSWORD.to_string()));
    let (t, h) = target(&ice25, "nope");
    assert!(matches!(
        icecast::connect_source(&t, &h).await,
        Err(IcecastError::WrongPassword)
    ));
}

#[tokio::test]
async fn icecast_kh_mount_in_use_and_source_limit_are_read_from_the_status_line() {
    let kh = Replayed::start(Answer::KhMountInUse).await;
    let checks = tested(&kh, "hackme").await;
    assert_eq!(checks[1].0, Some(true), "{checks:?}");
    assert_eq!(
        checks[2],
        (
            Some(false),
            "Someone is already streaming to the mount /live. Stop that stream or choose another mount."
                .to_string()
        )
    );
    let kh = Replayed::start(Answer::KhTooMany).await;
    let checks = tested(&kh, "hackme").await;
    assert_eq!(
        checks[2],
        (
            Some(false),
            "The server already has as many streams as it allows. Try again later, or ask its owner to \
             raise the limit."
                .to_string()
        )
    );
}

/// What Icecast-KH hands a new listener of a WebM mount, measured with kh22 built from source: the
/// stream header as the source sent it, 4096 bytes of whatever its fresh buffer held, then the
/// stream from a Cluster on.
fn as_kh_listener_gets(sent: &[u8]) -> Vec<u8> {
    let cluster = sent
        .windows(4)
        .position(|w| w == [0x1F, 0x43, 0xB6, 0x75])
        .expect("the stream has a Cluster");
    // Uninitialised heap: anything at all, here a fixed pseudo-random fill.
    let junk = noise(4096, 0x2545_F491);
    [&sent[..cluster], &junk[..], &sent[cluster..]].concat()
}

#[tokio::test]
async fn icecast_kh_listeners_of_a_webm_mount_can_play_it() {
    let kh = Replayed::start(Answer::KhAccepts).await;
    let (state, result) = broadcast(&kh).await;
    assert_eq!(state, State::Live);
    result.expect("the broadcast ends cleanly");
    let sent = kh.received.lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let heard = save(dir.path(), "kh.webm", &as_kh_listener_gets(&sent));
    assert_eq!(
        decode_errors(&heard),
        "",
        "KH's stray bytes land in the header's Void"
    );
    assert_eq!(codecs(&heard), ["opus"]);

    // Without the Void, the same stray bytes break the stream (so the check above can fail).
    let void = sent
        .windows(7)
        .position(|w| w == [0xEC, 0x50, 0x00, 0x1F, 0x43, 0xB6, 0x75])
        .expect("the header ends in the Void, right before the first Cluster");
    let bare = [&sent[..void], &sent[void + 3..]].concat();
    let broken = save(dir.path(), "kh-bare.webm", &as_kh_listener_gets(&bare));
    assert_ne!(decode_errors(&broken), "");

    // Any other server gets no Void: it would swallow the start of the first Cluster there.
    let ice25 = Replayed::start(Answer::Icecast25Accepts).await;
    let (_, result) = broadcast(&ice25).await;
    result.expect("the broadcast ends cleanly");
    let sent = ice25.received.lock().unwrap().clone();
    assert!(!sent.windows(3).any(|w| w == [0xEC, 0x50, 0x00]));
}
