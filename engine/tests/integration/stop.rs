//! Stop delivers everything: what was fed before Stop reaches the listener.

use icecream_engine::{MountFormat, Session};

use crate::support::*;

/// Feeds part of a recording (more is still "coming"), presses Stop, and compares the end of the
/// audio the listener got with the end of the audio fed.
async fn stop_mid_stream(format: MountFormat, corpus_name: &str, fed: usize) {
    let ice = Icecast::start().await;
    let mount = format!("/stop-{}", format.id());
    let chunks = corpus_chunks(corpus_name);
    assert!(fed < chunks.len());
    let session = Session::start(ice.settings(&mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks[..fed]).await;
    let listener = Listener::connect(&ice.endpoint(), &mount).await;
    for c in &chunks[pushed..fed] {
        session.push(c.clone()).await.unwrap();
        // Roughly the recorder's pace, four times faster: input is flowing when Stop comes.
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    // A copy of the sender still held elsewhere (the desktop app keeps one) must not hold Stop up.
    let _still_held = session.sender();
    tokio::time::timeout(std::time::Duration::from_secs(20), session.stop())
        .await
        .expect("Stop ends the input even while a sender is held")
        .expect("stop is clean");
    let received = listener.finish().await;

    let dir = tempfile::tempdir().unwrap();
    let fed_file = save(dir.path(), "fed.webm", &chunks[..fed].concat());
    let got_file = save(dir.path(), &format!("got.{}", format.extension()), &received);
    let (fed_end, got_end) = (audio_end(&fed_file), audio_end(&got_file));
    assert!(
        fed_end > 5.0,
        "the test fed a real stretch of audio ({fed_end} s)"
    );
    // One Opus frame is 20 ms.
    assert!(
        (fed_end - got_end).abs() <= 0.021,
        "the listener's audio ends at {got_end:.3} s, the fed audio at {fed_end:.3} s"
    );
    assert_eq!(decode_errors(&got_file), "");
}

#[tokio::test]
async fn stop_delivers_everything_webm_audio() {
    stop_mid_stream(MountFormat::WebmAudio, "webm-opus-audio-250ms", 41).await;
}

#[tokio::test]
async fn stop_delivers_everything_webm_video() {
    stop_mid_stream(MountFormat::WebmVideo, "webm-vp8-opus-250ms", 37).await;
}
