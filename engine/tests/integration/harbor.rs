//! The engine against Liquidsoap's `input.harbor` (Debian's liquidsoap 2.1), the other server people
//! stream to: broadcasts arrive whole (the harbor decodes as many seconds as the recording has), Test
//! connection passes, a wrong password is named as such, and a server without a status page is asked
//! for it once, logged once, and shown as "listeners: —".

use std::time::Duration;

use icecream_engine::icecast::{self, IcecastError, StreamHeaders, Target};
use icecream_engine::{MountFormat, Secret, Session, State};

use crate::support::*;

const AUDIO: &str = "webm-opus-audio-250ms";

/// Seconds of audio in the corpus recording, as ffprobe reads it.
fn input_secs() -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "input.webm", &corpus_chunks(AUDIO).concat());
    let secs = audio_end(&file);
    assert!(secs > 19.0, "the corpus has {secs} s");
    secs
}

/// What the harbor decoded is the recording: as long (within 0.5 s), and its sound throughout, not
/// silence or noise of the right length.
fn assert_heard_whole(harbor: &Harbor, heard: f64) {
    let input = input_secs();
    eprintln!(
        "harbor {}: decoded {heard:.3} s of a {input:.3} s recording",
        harbor.mount
    );
    assert!(
        (heard - input).abs() <= 0.5,
        "the harbor decoded {heard:.3} s of a {input:.3} s recording"
    );
    // The corpus is a beep every half second (about -17 dBFS at its start, fading out) after half
    // a second of silence: every half second of it has the same power, about -24 dBFS.
    let half_second = 22_050 * 2;
    let windows: Vec<f64> = harbor
        .heard_samples()
        .chunks_exact(half_second)
        .map(|w| {
            let power = w.iter().map(|&s| (s as f64 / 32768.0).powi(2)).sum::<f64>() / w.len() as f64;
            10.0 * power.max(1e-12).log10()
        })
        .collect();
    let beeping = windows.iter().filter(|&&db| db > -30.0 && db < -18.0).count();
    assert!(
        beeping + 2 >= windows.len() && windows.len() >= 38,
        "only {beeping} of {} half seconds hold the beeps: {windows:.1?}",
        windows.len()
    );
}

#[tokio::test]
async fn mp3_from_the_cli_arrives_whole_and_shows_no_listener_count() {
    let harbor = Harbor::start("/live.mp3").await;
    // The chunk folder is replayed at the recorder's pace (20 s), so the CLI's status poller (every
    // 5 s) would ask four or five times if it did not stop at the first 404.
    let (args, password) = (harbor.cli_args(), harbor.password.clone());
    let out = tokio::task::spawn_blocking(move || {
        cli()
            .arg("-vv")
            .arg("stream")
            .args(args)
            .args(["--format", "mp3"])
            .arg("--input")
            .arg(corpus(AUDIO))
            .env("ICECREAM_PASSWORD", password)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");

    let stats: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("LIVE ") || l.starts_with("Stopping…"))
        .collect();
    assert!(
        stats.len() >= 2,
        "a status line while live and one while stopping: {stderr}"
    );
    for line in &stats {
        assert!(line.ends_with(" · listeners: —"), "{line}");
    }
    assert!(!stderr.contains("listeners: ?"), "{stderr}");
    let said = format!(
        "127.0.0.1:{} has no status page (GET /status-json.xsl: 404 Not found)",
        harbor.port
    );
    assert_eq!(
        stderr.matches(&said).count(),
        1,
        "said once that the server has no status page: {stderr}"
    );
    assert!(!stderr.contains(&harbor.password), "the password is never logged");

    let heard = harbor.played_out(Duration::from_secs(60)).await;
    assert_eq!(
        harbor.get_requests("/status-json.xsl"),
        1,
        "the status page is asked for once: {}",
        harbor.log_tail(40)
    );
    assert_heard_whole(&harbor, heard);
}

#[tokio::test]
async fn ogg_vorbis_from_a_session_arrives_whole_and_shows_no_listener_count() {
    let harbor = Harbor::start("/live.ogg").await;
    let chunks = corpus_chunks(AUDIO);
    // options(): the listener count is asked for every 500 ms, ~35 times in this broadcast.
    let session = Session::start(harbor.settings(MountFormat::OggVorbis), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    feed_in_background(&session, &chunks[pushed..]).await.unwrap();
    let live = session.status().borrow().clone();
    assert_eq!(live.state, State::Live);
    assert_eq!(live.listeners, None);
    assert!(live.listeners_not_reported, "{live:?}");
    assert!(live.line().ends_with(" · listeners: —"), "{}", live.line());
    session.stop().await.expect("the broadcast ends cleanly");

    let heard = harbor.played_out(Duration::from_secs(60)).await;
    assert_eq!(
        harbor.get_requests("/status-json.xsl"),
        1,
        "the status page is asked for once: {}",
        harbor.log_tail(40)
    );
    let said = format!("127.0.0.1:{} has no status page", harbor.port);
    assert_eq!(
        captured_logs().matches(&said).count(),
        1,
        "logged once that the server has no status page"
    );
    assert_heard_whole(&harbor, heard);
}

fn target_and_headers(harbor: &Harbor, password: &str) -> (Target, StreamHeaders) {
    let mut s = harbor.settings(MountFormat::Mp3);
    s.first_mut().server.password = Secret::new(password);
    (Target::from_settings(&s), StreamHeaders::from_settings(&s))
}

#[tokio::test]
async fn test_connection_passes() {
    let harbor = Harbor::start("/probe").await;
    let (target, headers) = target_and_headers(&harbor, &harbor.password);
    let checks = icecast::test_connection(&target, &headers).await;
    let port = harbor.port;
    assert_eq!(
        checks
            .iter()
            .map(|c| (c.what, c.ok, c.message.as_str()))
            .collect::<Vec<_>>(),
        [
            (
                "server",
                Some(true),
                format!("The server at 127.0.0.1:{port} answers as Icecast.").as_str()
            ),
            ("credentials", Some(true), "The username and password are right."),
            (
                "mount",
                Some(true),
                "The mount /probe is free and accepts audio/mpeg."
            ),
        ]
    );
    // The harbor took the login, and let go of the mount when the test left.
    for said in [
        "Client logged in.",
        "PUT (source) request on /probe.",
        "Feeding stopped",
    ] {
        assert!(harbor.wait_log(said, 1).await, "{said}: {}", harbor.log_tail(30));
    }
}

#[tokio::test]
async fn wrong_password() {
    let harbor = Harbor::start("/live").await;
    let (target, headers) = target_and_headers(&harbor, "not-the-password");
    let err = icecast::connect_source(&target, &headers)
        .await
        .err()
        .expect("the harbor refuses the login");
    assert_eq!(err, IcecastError::WrongPassword);

    let checks = icecast::test_connection(&target, &headers).await;
    let ok: Vec<_> = checks.iter().map(|c| (c.what, c.ok)).collect();
    assert_eq!(
        ok,
        [
            ("server", Some(true)),
            ("credentials", Some(false)),
            ("mount", None)
        ]
    );
    assert_eq!(checks[1].message, IcecastError::WrongPassword.to_string());
    assert!(
        harbor.wait_log("Returned 401: wrong auth.", 2).await,
        "{}",
        harbor.log_tail(30)
    );
    assert!(!harbor.log().contains("Client logged in."));
}

#[tokio::test]
async fn a_mount_another_source_holds_is_in_use() {
    let harbor = Harbor::start("/live").await;
    let (target, headers) = target_and_headers(&harbor, &harbor.password);
    let mut first = icecast::connect_source(&target, &headers)
        .await
        .expect("the first source logs in");
    // Real MP3 keeps the harbor's decoder feeding, so the mount stays taken.
    let mp3 = lavfi(
        "sine=frequency=440:duration=4",
        &["-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", "-"],
    );
    first.send(&mp3).await.unwrap();
    // The harbor answers `200 OK` and closes at once: what a second source hears.
    let second = icecast::connect_source(&target, &headers).await.err();
    assert_eq!(
        second,
        Some(IcecastError::MountInUse {
            mount: "/live".into()
        }),
        "{}",
        harbor.log_tail(30)
    );
    let checks = icecast::test_connection(&target, &headers).await;
    assert_eq!(checks[2].ok, Some(false));
    assert_eq!(
        checks[2].message,
        "Someone is already streaming to the mount /live. Stop that stream or choose another mount."
    );
    assert_plain(&checks[2].message);
    drop(first);
}
