//! A real browser as the listener: Chromium (and WebKitGTK) joins a live mount the engine feeds at 8 moments
//! spread over 8 s, as people open a shared link at any time, and each join must play: reach
//! `playing`, its clock moving on by 2 s, no media error. Each joins as the share panel's embed
//! code does: muted, `play()` once it can play. Chromium is what most listeners use,
//! and it gives up for good on a WebM Cluster that begins with a delta frame.

use std::time::Duration;

use icecream_engine::MountFormat;
use tokio::time::Instant;

use crate::browsers::{Browser, Join, Start};
use crate::support::*;

const JOINS: usize = 8;

/// One browser at a time: decoding video beside the engine and Icecast fills both cores.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Which browser listens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listening {
    Chromium,
    WebKit,
}

/// Broadcasts `webm` (looped to 40 s, in 250 ms chunks) to a `format` mount and has `who` join it
/// `JOINS` times with `element`; `first_picture_within` is the longest a join may wait for its
/// first keyframe. Every join is checked; a video join must also have decoded pictures.
async fn browsers_join_mid_stream(
    who: Listening,
    format: MountFormat,
    webm: &[u8],
    element: &str,
    first_picture_within: Duration,
) {
    let _one = ONE_AT_A_TIME.lock().await;
    let ice = Icecast::start().await;
    let mount = format!("/browser.{}", format.extension());
    let (session, feeding) = live_broadcast(&ice, &mount, format, webm).await;
    let page = format!("http://127.0.0.1:{}/", ice.port);
    let browser = match who {
        Listening::Chromium => Browser::chromium(&page).await,
        Listening::WebKit => Browser::webkit(&page).await,
    };
    let joins = joins_spread_over_8_s(&browser, &ice, &mount, element, first_picture_within).await;
    assert!(
        !session.is_finished(),
        "the broadcast went on through the joins: {:?}",
        session.status().borrow().state
    );
    feeding.abort();
    session.stop().await.expect("a clean stop");
    every_join_played(format, element, &joins);
}

/// `browser` (showing the server's own status page: a web origin for the page the joins are made
/// from) joining `mount` `JOINS` times over 8 s with `element`, each join followed until it has
/// played 2 s or failed; `first_picture_within` is the longest a join may wait for its first
/// keyframe.
pub async fn joins_spread_over_8_s(
    browser: &Browser,
    ice: &Icecast,
    mount: &str,
    element: &str,
    first_picture_within: Duration,
) -> Vec<Join> {
    let start = Instant::now();
    for i in 0..JOINS {
        tokio::time::sleep_until(start + Duration::from_millis(i as u64 * 8000 / (JOINS as u64 - 1))).await;
        // Two host names for the one server: a browser opens at most six connections per host,
        // and joins still waiting for a keyframe keep theirs.
        let host = ["127.0.0.1", "localhost"][i % 2];
        let url = format!("http://{host}:{}{mount}", ice.port);
        browser.join(i, &url, element, 2.0, Start::PlayWhenReady).await;
    }
    // The last join's first picture, 2 s of playing, and room for a loaded machine.
    let deadline = Instant::now() + first_picture_within + Duration::from_secs(12);
    loop {
        let joins = browser.joins().await;
        if joins.len() == JOINS && joins.iter().all(|j| j.done) {
            break;
        }
        if Instant::now() > deadline {
            browser.give_up().await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    browser.joins().await
}

/// Every join reached `playing`, its clock moved on by 2 s, no error; a video join decoded
/// pictures.
pub fn every_join_played(format: MountFormat, element: &str, joins: &[Join]) {
    let waits: Vec<f64> = joins.iter().filter_map(|j| j.playing).collect();
    eprintln!(
        "{} {element}: join → playing mean {:.2} s, max {:.2} s; {joins:?}",
        format.id(),
        waits.iter().sum::<f64>() / waits.len().max(1) as f64,
        waits.iter().cloned().fold(0.0, f64::max)
    );
    let failed: Vec<&Join> = joins
        .iter()
        .filter(|j| j.error.is_some() || j.playing.is_none() || j.advanced < 2.0)
        .collect();
    assert!(
        failed.is_empty() && joins.len() == JOINS,
        "every join must play (playing, 2 s on its clock, no error); these did not: {failed:#?}"
    );
    if element == "video" {
        assert!(
            joins.iter().all(|j| j.frames.unwrap_or(0) > 0),
            "every join decoded pictures: {joins:#?}"
        );
    }
}

#[tokio::test]
async fn chromium_joins_webm_video_with_app_keyframes_at_any_moment() {
    let video = keyed_video();
    browsers_join_mid_stream(
        Listening::Chromium,
        MountFormat::WebmVideo,
        video,
        "video",
        Duration::from_millis(600),
    )
    .await;
}

// Chromium's own recorder puts a keyframe only every 5 s: a join waits for the next one, and
// then plays. Its Tracks say AlphaMode 1, which the engine leaves out: WebKit refused the stream
// with it (the next test).
#[tokio::test]
async fn chromium_joins_webm_video_from_the_recorder_at_any_moment() {
    let corpus = corpus_chunks("webm-vp8-opus-250ms").concat();
    browsers_join_mid_stream(
        Listening::Chromium,
        MountFormat::WebmVideo,
        &corpus,
        "video",
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test]
async fn chromium_joins_webm_audio_at_any_moment() {
    let corpus = corpus_chunks("webm-opus-audio-250ms").concat();
    browsers_join_mid_stream(
        Listening::Chromium,
        MountFormat::WebmAudio,
        &corpus,
        "audio",
        Duration::ZERO,
    )
    .await;
}

#[tokio::test]
async fn chromium_joins_ogg_opus_at_any_moment() {
    let corpus = corpus_chunks("webm-opus-audio-250ms").concat();
    browsers_join_mid_stream(
        Listening::Chromium,
        MountFormat::OggOpus,
        &corpus,
        "audio",
        Duration::ZERO,
    )
    .await;
}

/// WebKitGTK (GNOME Web, and the family of Safari's engine) joins the recorder's WebM video mid-
/// stream: it refused every join while the engine passed on the recorder's AlphaMode.
#[tokio::test]
async fn webkit_joins_webm_video_from_the_recorder_at_any_moment() {
    let corpus = corpus_chunks("webm-vp8-opus-250ms").concat();
    browsers_join_mid_stream(
        Listening::WebKit,
        MountFormat::WebmVideo,
        &corpus,
        "video",
        Duration::from_secs(5),
    )
    .await;
}
