//! Live stats a UI or the CLI subscribes to, and what happens to ffmpeg when we are killed.

use std::time::Duration;

use icecream_engine::{MountFormat, Session, SessionOptions, State};

use crate::support::*;

#[tokio::test]
async fn stats_show_uptime_bytes_bitrate_and_listeners() {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(ice.settings("/stats", MountFormat::WebmAudio), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let _listener = Listener::connect(&ice.endpoint(), "/stats").await;
    let mut rx = session.status();
    let mut fed = pushed;
    // Feed at the recorder's pace until the stats show a listener and a second of uptime.
    let seen = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if fed < chunks.len() {
                session.push(chunks[fed].clone()).await.unwrap();
                fed += 1;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            let s = rx.borrow_and_update().clone();
            if s.listeners == Some(1) && s.uptime_secs >= 2 && s.bitrate_kbps > 0.0 {
                return s;
            }
        }
    })
    .await
    .expect("stats show the listener within 15 s");
    assert_eq!(seen.state, State::Live);
    assert!(seen.bytes_sent > 10_000, "{seen:?}");
    // Opus from the corpus is ~128 kbps; the window smooths it but it is in that range.
    assert!(seen.bitrate_kbps > 20.0 && seen.bitrate_kbps < 1000.0, "{seen:?}");
    assert!(seen.line().starts_with("LIVE 00:00:0"), "{}", seen.line());
    assert!(seen.line().ends_with("· 1 listener"), "{}", seen.line());
    session.stop().await.unwrap();
    assert_eq!(rx.borrow().state, State::Stopped);
}

/// With the app's own pace of asking (not the tests' quicker one), each join and leave shows in
/// the count within 5 s, as Icecast's own status page has it.
#[tokio::test]
async fn the_listener_count_follows_joins_and_leaves_within_five_seconds() {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let mut opts = options();
    opts.listener_poll = SessionOptions::new(ffmpeg()).listener_poll;
    let session = Session::start(ice.settings("/count", MountFormat::WebmAudio), opts).unwrap();
    let mut fed = push_until_live(&session, &chunks).await;
    let rx = session.status();
    let mut until = async |n: u32| count_reaches(&session, &rx, &chunks, &mut fed, n).await;
    let first = Listener::connect(&ice.endpoint(), "/count").await;
    let joined = until(1).await;
    let second = Listener::connect(&ice.endpoint(), "/count").await;
    let joined_again = until(2).await;
    first.leave();
    let left = until(1).await;
    for (what, took) in [
        ("a join", joined),
        ("a second join", joined_again),
        ("a leave", left),
    ] {
        assert!(took < Duration::from_secs(5), "{what} showed after {took:?}");
    }
    second.leave();
    session.stop().await.unwrap();
}

/// Feeds chunks from `fed` on at the recorder's pace until the count is `n`; how long that took.
async fn count_reaches(
    session: &Session,
    rx: &tokio::sync::watch::Receiver<icecream_engine::Status>,
    chunks: &[Vec<u8>],
    fed: &mut usize,
    n: u32,
) -> Duration {
    let mut rx = rx.clone();
    let since = std::time::Instant::now();
    while rx.borrow_and_update().listeners != Some(n) {
        assert!(*fed < chunks.len(), "the count never became {n}");
        session.push(chunks[*fed].clone()).await.unwrap();
        *fed += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    since.elapsed()
}

#[tokio::test]
async fn too_many_sources() {
    let ice = Icecast::start_with(IcecastOptions {
        max_sources: Some(1),
        ..Default::default()
    })
    .await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let first = Session::start(ice.settings("/one", MountFormat::WebmAudio), options()).unwrap();
    push_until_live(&first, &chunks).await;
    let second = Session::start(ice.settings("/two", MountFormat::WebmAudio), options()).unwrap();
    let _ = second.push(chunks[0].clone()).await;
    assert_eq!(
        second.wait().await.unwrap_err().to_string(),
        "The server already has as many streams as it allows. Try again later, or ask its owner to raise the limit."
    );
    first.stop().await.unwrap();
}

#[tokio::test]
async fn no_orphan_ffmpeg_when_the_cli_is_killed() {
    let ice = Icecast::start().await;
    let mut child = cli()
        .arg("stream")
        .args(server_args(&ice, "/killed"))
        .args(["--format", "mp3"]) // WebM mounts run no ffmpeg
        .arg("--input")
        .arg(corpus("webm-vp8-opus-250ms"))
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(ice.wait_mount("/killed", true).await);
    let encoders = wait_for_children(child.id()).await;
    assert!(!encoders.is_empty(), "the CLI runs ffmpeg");
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    for pid in encoders {
        assert!(
            gone_within(pid, Duration::from_secs(3)).await,
            "ffmpeg {pid} was orphaned"
        );
    }
}

/// Polls until `pid` no longer exists (or is a zombie, which only its parent can reap).
async fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z')) =>
            {
                return true
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}
