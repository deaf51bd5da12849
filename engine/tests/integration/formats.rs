//! Every mount format, end to end: corpus chunks → engine → ffmpeg → Icecast → a listener, whose
//! bytes ffprobe decodes with the expected codecs.

use icecream_engine::{MountFormat, Session};

use crate::support::*;

async fn broadcast_and_listen(format: MountFormat, corpus_name: &str, expected: &[&str]) {
    let ice = Icecast::start().await;
    let mount = format!("/{}", format.id());
    let chunks = corpus_chunks(corpus_name);
    let session = Session::start(ice.settings(&mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    assert!(ice.wait_mount(&mount, true).await, "mount is listed while live");

    let listed = ice.mount(&mount).await.unwrap();
    assert_eq!(listed.name.as_deref(), Some("Icecream test"));
    assert_eq!(listed.description.as_deref(), Some("A test stream"));
    assert_eq!(listed.genre.as_deref(), Some("Testing"));

    let listener = Listener::connect(&ice.endpoint(), &mount).await;
    push_all(&session, &chunks[pushed..]).await;
    let summary = session.stop().await.expect("broadcast ends cleanly");
    assert!(summary.bytes_sent > 0);
    let received = listener.finish().await;
    assert!(!received.is_empty(), "the listener received nothing");

    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), &format!("listener.{}", format.extension()), &received);
    assert_eq!(codecs(&file), expected, "codecs of what the listener got");
    assert_eq!(
        decode_errors(&file),
        "",
        "the listener's stream decodes without errors"
    );
    assert!(ice.wait_mount(&mount, false).await, "mount is gone after stop");
}

#[tokio::test]
async fn webm_video() {
    broadcast_and_listen(MountFormat::WebmVideo, "webm-vp8-opus-250ms", &["vp8", "opus"]).await;
}

#[tokio::test]
async fn webm_audio() {
    broadcast_and_listen(MountFormat::WebmAudio, "webm-opus-audio-250ms", &["opus"]).await;
}

#[tokio::test]
async fn ogg_opus() {
    broadcast_and_listen(MountFormat::OggOpus, "webm-opus-audio-250ms", &["opus"]).await;
}

#[tokio::test]
async fn ogg_vorbis() {
    broadcast_and_listen(MountFormat::OggVorbis, "webm-opus-audio-250ms", &["vorbis"]).await;
}

#[tokio::test]
async fn mp3() {
    broadcast_and_listen(MountFormat::Mp3, "webm-opus-audio-250ms", &["mp3"]).await;
}

#[tokio::test]
async fn aac() {
    broadcast_and_listen(MountFormat::Aac, "webm-opus-audio-250ms", &["aac"]).await;
}

// WebKitGTK's recorder: AAC in fragmented MP4, with its repeated last fragment header.
const WEBKIT: &str = "webkitgtk-mp4-aac-audio";

#[tokio::test]
async fn webkit_mp4_to_webm_audio() {
    broadcast_and_listen(MountFormat::WebmAudio, WEBKIT, &["opus"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_ogg_opus() {
    broadcast_and_listen(MountFormat::OggOpus, WEBKIT, &["opus"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_ogg_vorbis() {
    broadcast_and_listen(MountFormat::OggVorbis, WEBKIT, &["vorbis"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_mp3() {
    broadcast_and_listen(MountFormat::Mp3, WEBKIT, &["mp3"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_aac() {
    broadcast_and_listen(MountFormat::Aac, WEBKIT, &["aac"]).await;
}
