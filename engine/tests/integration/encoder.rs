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
    // A listener joining mid-stream starts on whatever picture comes first (keyframes are 5 s
    // apart in this recording), so its sound is what must be whole.
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

#[tokio::test]
async fn webm_video_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::WebmVideo, "webm-vp8-opus-250ms", "/enc.webm").await;
}

#[tokio::test]
async fn ogg_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::OggOpus, "webm-opus-audio-250ms", "/enc.opus").await;
}

#[tokio::test]
async fn mp3_from_webkit_mp4_goes_on_after_ffmpeg_is_killed() {
    encoder_killed_mid_stream(MountFormat::Mp3, "webkitgtk-mp4-aac-audio", "/enc.mp3").await;
}
