//! A lost server connection is retried while the encoder keeps going; listeners get a playable
//! stream when it is back. Refusals that retrying cannot fix are said after one attempt.

use std::time::{Duration, Instant};

use icecream_engine::session::uplink::link::WAITING_FOR_RELEASE;
use icecream_engine::{MountFormat, Secret, Session, State};

use crate::support::*;

async fn wait_state(session: &Session, what: &str, want: impl Fn(&State) -> bool) {
    let mut rx = session.status();
    let got = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| want(&s.state)))
        .await
        .is_ok();
    assert!(
        got,
        "the session never got {what}: {:?}",
        session.status().borrow().state
    );
}

fn reconnecting(s: &State) -> bool {
    matches!(s, State::Reconnecting { .. })
}

/// A listener joining now gets `secs` of media that decodes cleanly; the session then stops well.
async fn listener_gets_clean_media(ice: &Icecast, session: Session, mount: &str, format: MountFormat) {
    assert!(ice.wait_mount(mount, true).await, "the mount is back");
    let listener = Listener::connect(&ice.endpoint(), mount).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let last_ffmpeg = session.ffmpeg_pid();
    session.stop().await.expect("a clean stop after the fault");
    let received = listener.finish().await;
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), &format!("after.{}", format.extension()), &received);
    assert_eq!(decode_errors(&file), "", "the resumed stream decodes cleanly");
    assert!(audio_end(&file) > 1.0, "the listener got audio after the fault");
    assert_reaped(&last_ffmpeg.into_iter().collect::<Vec<_>>());
}

async fn server_restarts_mid_broadcast(format: MountFormat, chunks: Vec<Vec<u8>>, mount: &str) {
    let mut ice = Icecast::start().await;
    let session = Session::start(ice.settings(mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    ice.server.kill();
    wait_state(&session, "to reconnecting", reconnecting).await;
    // Away long enough for the backoff to grow past the probe interval.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ice.server.restart().await.unwrap();
    let accepting = Instant::now();
    wait_state(&session, "live again", |s| *s == State::Live).await;
    let back_in = accepting.elapsed();
    eprintln!("{mount}: live again {back_in:?} after the server accepted connections");
    assert!(
        back_in < Duration::from_secs(2),
        "live again within 2 s of the server's return, not {back_in:?}"
    );
    listener_gets_clean_media(&ice, session, mount, format).await;
    feeding.abort();
}

#[tokio::test]
async fn webm_video_resumes_with_its_header_after_the_server_restarts() {
    // Video resumes at a keyframe: with the app's own keyframe rhythm (every 0.6 s) that is at once;
    // Chromium's recorder (every 5 s) would make listeners wait up to 5 s for a picture.
    server_restarts_mid_broadcast(MountFormat::WebmVideo, keyed_video_chunks(), "/re-video.webm").await;
}

#[tokio::test]
async fn webm_audio_resumes_with_its_header_after_the_server_restarts() {
    server_restarts_mid_broadcast(
        MountFormat::WebmAudio,
        corpus_chunks("webm-opus-audio-250ms"),
        "/re.webm",
    )
    .await;
}

#[tokio::test]
async fn ogg_resumes_with_its_header_pages_after_the_server_restarts() {
    server_restarts_mid_broadcast(
        MountFormat::OggOpus,
        corpus_chunks("webm-opus-audio-250ms"),
        "/re.opus",
    )
    .await;
}

#[tokio::test]
async fn mp3_resumes_after_the_server_restarts() {
    server_restarts_mid_broadcast(
        MountFormat::Mp3,
        corpus_chunks("webm-opus-audio-250ms"),
        "/re.mp3",
    )
    .await;
}

/// The server freezes for 5 s (SIGSTOP) and comes back: the broadcast rides it out by itself, and
/// a listener who stayed on gets one stream that decodes from start to end.
#[tokio::test]
async fn a_stalled_server_is_ridden_out() {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-vp8-opus-250ms");
    let mount = "/stall.webm";
    let session = Session::start(ice.settings(mount, MountFormat::WebmVideo), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let listener = Listener::connect(&ice.endpoint(), mount).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(ice.pid(), libc::SIGSTOP);
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal(ice.pid(), libc::SIGCONT);
    wait_state(&session, "live after the stall", |s| *s == State::Live).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!session.is_finished(), "the broadcast went on by itself");
    let ffmpeg = session.ffmpeg_pid();
    session.stop().await.expect("a clean stop after the stall");
    feeding.abort();
    let received = listener.finish().await;
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "stall.webm", &received);
    assert_eq!(
        decode_errors(&file),
        "",
        "the stream decodes cleanly through the stall"
    );
    assert!(
        audio_end(&file) > 8.0,
        "the listener got the time before, during and after the stall"
    );
    assert_reaped(&ffmpeg.into_iter().collect::<Vec<_>>());
}

/// The network drops without a goodbye: the server keeps our dead connection on the mount until
/// its source-timeout and says "in use" to our reconnects until then.
#[tokio::test]
async fn the_servers_ghost_of_our_connection_is_waited_out() {
    let ice = Icecast::start_with(IcecastOptions {
        source_timeout_secs: Some(4),
        ..Default::default()
    })
    .await;
    let cable = Cable::to(ice.port).await;
    let mount = "/ghost.webm";
    let mut settings = ice.settings(mount, MountFormat::WebmAudio);
    settings.first_mut().server.port = cable.port as u32;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(settings, options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    cable.pull();
    wait_state(
        &session,
        "waiting for the mount",
        |s| matches!(s, State::Reconnecting { reason, .. } if reason == WAITING_FOR_RELEASE),
    )
    .await;
    wait_state(&session, "live once the server let go", |s| *s == State::Live).await;
    listener_gets_clean_media(&ice, session, mount, MountFormat::WebmAudio).await;
    feeding.abort();
}

#[tokio::test]
async fn wrong_password_is_tried_once() {
    let ice = Icecast::start().await;
    let mut s = ice.settings("/once", MountFormat::Mp3);
    s.first_mut().server.password = Secret::new("not-the-password");
    let session = Session::start(s, options()).unwrap();
    let _ = session
        .push(corpus_chunks("webm-opus-audio-250ms")[0].clone())
        .await;
    assert!(session.wait().await.is_err());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(ice.source_attempts("/once"), 1, "{}", ice.error_log());
}

#[tokio::test]
async fn mount_in_use_is_tried_once() {
    let ice = Icecast::start().await;
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let first = Session::start(ice.settings("/taken", MountFormat::WebmAudio), options()).unwrap();
    push_until_live(&first, &chunks).await;
    let second = Session::start(ice.settings("/taken", MountFormat::WebmAudio), options()).unwrap();
    let _ = second.push(chunks[0].clone()).await;
    assert!(second.wait().await.is_err());
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The first session's own login, and the refused one.
    assert_eq!(
        ice.source_attempts("/taken"),
        1,
        "only the refused login has ended"
    );
    first.stop().await.unwrap();
}
