//! A lost server connection is retried while the encoder keeps going; listeners get a playable
//! stream when it is back.

use std::time::Duration;

use icecream_engine::{MountFormat, Session, State};

use crate::support::*;

async fn server_restarts_mid_broadcast(format: MountFormat, mount: &str) {
    let mut ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(ice.settings(mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let mut rx = session.status();
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    ice.server.kill();
    tokio::time::timeout(
        Duration::from_secs(15),
        rx.wait_for(|s| matches!(s.state, State::Reconnecting { .. })),
    )
    .await
    .expect("the session says it is reconnecting")
    .unwrap();
    ice.server.restart().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|s| s.state == State::Live))
        .await
        .expect("the session is live again")
        .unwrap();
    assert!(ice.wait_mount(mount, true).await, "the mount is back");
    let listener = Listener::connect(&ice.endpoint(), mount).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    feeding.abort();
    session.stop().await.expect("a clean stop after the reconnect");
    let received = listener.finish().await;
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), &format!("after.{}", format.extension()), &received);
    assert_eq!(decode_errors(&file), "", "the resumed stream decodes cleanly");
    assert!(
        audio_end(&file) > 1.0,
        "the listener got audio after the reconnect"
    );
}

#[tokio::test]
async fn webm_resumes_with_its_header_after_the_server_restarts() {
    server_restarts_mid_broadcast(MountFormat::WebmAudio, "/re.webm").await;
}

#[tokio::test]
async fn mp3_resumes_after_the_server_restarts() {
    server_restarts_mid_broadcast(MountFormat::Mp3, "/re.mp3").await;
}
