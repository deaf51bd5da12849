//! Every refusal, against the real server, with the exact sentence the person reads.

use std::time::{Duration, Instant};

use icecream_engine::session::RECORDER_FIRST_BYTES;
use icecream_engine::{MountFormat, Secret, Session, SessionError, State};

use crate::support::*;

/// Starts a session with `settings`, feeds it `chunks`, and returns the sentence it failed with.
async fn failure(settings: icecream_engine::Settings, chunks: Vec<Vec<u8>>) -> String {
    failure_with(settings, options(), chunks).await
}

async fn failure_with(
    settings: icecream_engine::Settings,
    opts: icecream_engine::SessionOptions,
    chunks: Vec<Vec<u8>>,
) -> String {
    let session = Session::start(settings, opts).unwrap();
    for c in chunks {
        if session.push(c).await.is_err() {
            break;
        }
    }
    let mut rx = session.status();
    let state = tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|s| s.state.is_final()))
        .await
        .expect("the session ends by itself")
        .unwrap()
        .state
        .clone();
    let err = session.wait().await.expect_err("the session fails");
    assert_plain(&err.to_string());
    assert_eq!(
        state,
        State::Failed {
            reason: err.to_string()
        },
        "the status carries the same sentence"
    );
    err.to_string()
}

/// WebKit's recorder asked for a rate its encoder cannot take gives nothing at all, not even empty
/// chunks' worth of header: the app said "Connecting…" for 47 s. Now the sentence comes once the
/// app's wait for the first bytes is over, and the mount is given back.
#[tokio::test]
async fn a_recorder_that_gives_nothing_is_told_in_seconds() {
    let ice = Icecast::start().await;
    let mut opts = options();
    opts.first_bytes_within = Some(RECORDER_FIRST_BYTES);
    let started = Instant::now();
    // Empty chunks are what such a recorder hands over, when it hands over anything.
    let sentence = failure_with(
        ice.settings("/silent", MountFormat::WebmAudio),
        opts,
        vec![Vec::new(); 3],
    )
    .await;
    let waited = started.elapsed();
    assert_eq!(
        sentence,
        "The camera and microphone gave nothing to send in 5 seconds, so the broadcast stopped before \
         it began. Check that they work and that no other program is using them, or choose another \
         capture method in Settings → Picture and sound, then go live again."
    );
    assert!(
        waited >= RECORDER_FIRST_BYTES && waited < RECORDER_FIRST_BYTES + Duration::from_secs(5),
        "told once the wait is over, not before nor long after: {waited:?}"
    );
    assert!(ice.wait_mount("/silent", false).await, "the mount is given back");
}

#[tokio::test]
async fn wrong_password() {
    let ice = Icecast::start().await;
    let mut s = ice.settings("/wrong", MountFormat::WebmAudio);
    s.first_mut().server.password = Secret::new("not-the-password");
    assert_eq!(
        failure(s, corpus_chunks("webm-opus-audio-250ms")).await,
        "The server refused the username or password. Check the source username (usually \"source\") and the password in Settings."
    );
    assert!(ice.mount("/wrong").await.is_none());
}

#[tokio::test]
async fn mount_already_in_use() {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let first = Session::start(ice.settings("/busy", MountFormat::WebmAudio), options()).unwrap();
    let pushed = push_until_live(&first, &chunks).await;
    let feeding = feed_in_background(&first, &chunks[pushed..]);
    assert!(
        ice.wait_mount("/busy", true).await,
        "the first broadcast is listed"
    );
    assert_eq!(
        failure(ice.settings("/busy", MountFormat::WebmAudio), chunks.clone()).await,
        "Someone is already streaming to the mount /busy. Stop that stream or choose another mount."
    );
    // The first broadcast is untouched by the refused second one.
    assert!(ice.mount("/busy").await.is_some());
    feeding.abort();
    first.stop().await.unwrap();
}

#[tokio::test]
async fn nothing_listening_on_the_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = icecream_engine::Settings::default();
    s.first_mut().server.host = "127.0.0.1".into();
    s.first_mut().server.port = port as u32;
    s.first_mut().server.password = Secret::new("x");
    assert_eq!(
        failure(s, vec![]).await,
        format!("Nothing is accepting connections at 127.0.0.1:{port}. Check the host and port, and that Icecast is running.")
    );
}

#[tokio::test]
async fn unknown_host_name() {
    let mut s = icecream_engine::Settings::default();
    s.first_mut().server.host = "no-such-host.invalid".into();
    s.first_mut().server.password = Secret::new("x");
    assert_eq!(
        failure(s, vec![]).await,
        "The server name \"no-such-host.invalid\" could not be found. Check the spelling of the host in Settings."
    );
}

#[tokio::test]
async fn random_bytes_are_not_media() {
    let ice = Icecast::start().await;
    // Deterministic noise that is not EBML or MP4.
    let noise = noise(64 * 1024, 0x1234_5678);
    let started = Instant::now();
    assert_eq!(
        failure(ice.settings("/noise", MountFormat::Mp3), vec![noise]).await,
        "The input is not a WebM or MP4 stream, so it cannot be broadcast. Use a camera or microphone recording in WebM or MP4."
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the error comes within a few seconds"
    );
    assert!(ice.wait_mount("/noise", false).await, "no mount is left behind");
}

#[tokio::test]
async fn damaged_webm_is_reported_and_the_next_session_works() {
    let ice = Icecast::start().await;
    let mut damaged = vec![0x1A, 0x45, 0xDF, 0xA3];
    damaged.extend(std::iter::repeat_n(0xFFu8, 32 * 1024));
    assert_eq!(
        failure(ice.settings("/damaged", MountFormat::WebmAudio), vec![damaged]).await,
        "The input is not a WebM or MP4 stream, so it cannot be broadcast. Use a camera or microphone recording in WebM or MP4."
    );
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let next = Session::start(ice.settings("/damaged", MountFormat::WebmAudio), options()).unwrap();
    push_until_live(&next, &chunks).await;
    next.stop()
        .await
        .expect("a following session on the same mount works");
}

#[tokio::test]
async fn invalid_settings_are_refused_before_anything_starts() {
    let mut s = icecream_engine::Settings::default();
    s.first_mut().server.port = 0;
    let err = Session::start(s, options()).err().expect("refused");
    let SessionError::Settings(invalid) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        invalid.0.iter().map(|p| p.field).collect::<Vec<_>>(),
        ["host", "port", "password"]
    );
}

#[tokio::test]
async fn ffmpeg_absent_from_path() {
    let ice = Icecast::start().await;
    let empty = tempfile::tempdir().unwrap();
    let out = cli()
        .arg("stream")
        .args(server_args(&ice, "/x"))
        .arg("--input")
        .arg(corpus("webm-opus-audio-250ms"))
        .env("PATH", empty.path())
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "icecream: ffmpeg was not found. Icecream needs it to encode the stream. Install it, then try again: \
         Debian/Ubuntu: sudo apt install ffmpeg · Fedora: sudo dnf install ffmpeg · macOS: brew install ffmpeg · \
         Windows: winget install ffmpeg"
    );
}

#[tokio::test]
async fn tls_to_a_plain_http_port() {
    let ice = Icecast::start().await;
    let mut s = ice.settings("/tls", MountFormat::WebmAudio);
    s.first_mut().server.tls = true;
    assert_eq!(
        failure(s, vec![]).await,
        format!(
            "The server at 127.0.0.1:{} does not answer with a secure (TLS) connection on this port. \
             Check the port: Icecast serves TLS on a port of its own, which the server's owner can tell you.",
            ice.port
        )
    );
}
