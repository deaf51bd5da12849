//! ffmpeg dying mid-stream is not the end of the broadcast: a new one takes over from the next
//! Cluster or fragment of the recorder's stream, and listeners joining afterwards get clean media.

use std::time::Duration;

use icecream_engine::{MountFormat, Session, State};

use crate::support::*;

async fn encoder_killed_mid_stream(format: MountFormat, corpus_name: &str, mount: &str) {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks(corpus_name);
    let session = Session::start(ice.settings(mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let stayed = Listener::connect(&ice.endpoint(), mount).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first = session.ffmpeg_pid().expect("ffmpeg runs");
    signal(first, libc::SIGKILL);
    let second = wait_new_ffmpeg(&session, Some(first)).await;
    assert_eq!(session.status().borrow().state, State::Live, "still live");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_reaped(&[first]);
    let joined = Listener::connect(&ice.endpoint(), mount).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    session.stop().await.expect("a clean stop after the restart");
    feeding.abort();
    assert_reaped(&[first, second]);
    let dir = tempfile::tempdir().unwrap();
    let ext = format.extension();
    let stayed = save(dir.path(), &format!("stayed.{ext}"), &stayed.finish().await);
    assert_eq!(decode_errors(&stayed), "", "one clean stream across the restart");
    assert!(
        audio_end(&stayed) > 6.0,
        "the listener who stayed heard both encoders"
    );
    // A listener joining mid-stream must get whole sound from the new encoder.
    let joined = save(dir.path(), &format!("joined.{ext}"), &joined.finish().await);
    assert_eq!(
        decode_errors_of(&joined, "0:a"),
        "",
        "clean sound for a listener joining after"
    );
    assert!(
        audio_end(&joined) > 2.0,
        "the listener got audio from the new encoder"
    );
}

// WebM input to a WebM or Ogg Opus mount runs no ffmpeg; WebKit's MP4 does, and the engine
// re-clusters (or re-pages) what it writes, so a new encoder's restarted clock must not show.
#[tokio::test]
async fn webm_audio_from_webkit_mp4_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::WebmAudio, "webkitgtk-mp4-aac-audio", "/enc.webm").await;
}

#[tokio::test]
async fn ogg_opus_from_webkit_mp4_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::OggOpus, "webkitgtk-mp4-aac-audio", "/enc.opus").await;
}

#[tokio::test]
async fn mp3_from_webkit_mp4_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::Mp3, "webkitgtk-mp4-aac-audio", "/enc.mp3").await;
}

/// The processes the CLI has running while it broadcasts `corpus_name` to a `format` mount: each
/// child's name, sampled for 2 s once the mount is live (so an encoder started late shows too).
async fn children_while_live(format: MountFormat, corpus_name: &str) -> Vec<String> {
    let ice = Icecast::start().await;
    let mount = format!("/kids.{}", format.extension());
    let mut child = cli()
        .arg("stream")
        .args(server_args(&ice, &mount))
        .args(["--format", format.id()])
        .arg("--input")
        .arg(corpus(corpus_name))
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(ice.wait_mount(&mount, true).await, "{mount} went live");
    let mut seen = Vec::new();
    for _ in 0..20 {
        for pid in children(child.id()) {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let name = name.trim().to_string();
            if !name.is_empty() && !seen.contains(&name) {
                seen.push(name);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

#[tokio::test]
async fn webm_input_to_webm_and_ogg_opus_mounts_runs_no_ffmpeg() {
    for (format, corpus_name) in [
        (MountFormat::WebmVideo, "webm-vp8-opus-250ms"),
        (MountFormat::WebmAudio, "webm-opus-audio-250ms"),
        (MountFormat::OggOpus, "webm-opus-audio-250ms"),
    ] {
        let kids = children_while_live(format, corpus_name).await;
        assert!(
            kids.is_empty(),
            "{}: the engine writes this mount itself, yet it ran {kids:?}",
            format.id()
        );
    }
}

#[tokio::test]
async fn webm_input_to_an_mp3_mount_runs_ffmpeg() {
    let kids = children_while_live(MountFormat::Mp3, "webm-opus-audio-250ms").await;
    assert_eq!(kids, ["ffmpeg"], "MP3 is encoded by ffmpeg");
}
