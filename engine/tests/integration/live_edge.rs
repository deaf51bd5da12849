//! Listeners hear the present: a browser joins sound mounts (WebM; MP3 in Chromium) and a video
//! mount mid-stream on a server with Icecast's default burst (64 KiB: 5 s of 100 kbps sound, all
//! of it old), through the embed code exactly as the share panel gives it, and must play within 1 s of live (sound) or
//! 0.8 s (video) — reached within 3 s of joining, held while it plays, and again soon after a
//! 2 s network stall whose backlog then arrives at once. Behind live is measured from the
//! stream's own timestamps against the moments the server sent them (bench/behind_live.rs).
//! Chromium and Firefox ESR; with a plain tag they stayed 1.3–10 s behind for good
//! (bench/RESULTS.md, "live edge").

use std::time::Duration;

use icecream_engine::{MountFormat, Share};

use crate::browser::ONE_AT_A_TIME;
use crate::browsers::behind_live::{max, now, Behind, Relay};
use crate::browsers::Browser;
use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Listening {
    Chromium,
    Firefox,
}

/// When (seconds after joining) the network stalls, and for how long.
const STALL_AT: f64 = 6.0;
const STALL: f64 = 2.0;
/// How long after the stall's backlog has come the player may take to be back at the edge.
const RECOVERY: f64 = 2.0;
/// All of it within the recording's first 19 s: where the test's looped recording begins again
/// its timestamps step back (its last Cluster's), which Chromium's Media Source refuses.
const WATCHED: f64 = 12.5;

async fn listener_plays_near_live(who: Listening, format: MountFormat, webm: &[u8], most_behind: f64) {
    let _one = ONE_AT_A_TIME.lock().await;
    let ice = Icecast::start().await;
    let mount = format!("/edge.{}", format.extension());
    let (session, feeding) = live_broadcast(&ice, &mount, format, webm).await;
    let live = tokio::time::Instant::now();
    let relay = Relay::start(ice.port).await;
    let page = format!("http://127.0.0.1:{}/", ice.port);
    let browser = match who {
        Listening::Chromium => Browser::chromium(&page).await,
        Listening::Firefox => Browser::firefox(&page).await,
    };
    // The server's burst fills up: a listener who comes now is sent its whole 64 KiB (4–5 s of
    // sound) at once.
    tokio::time::sleep_until(live + Duration::from_secs(5)).await;
    let share = Share::new(&format!("http://127.0.0.1:{}{mount}", relay.port), format, "");
    browser.watch(&share.embed_html).await;
    tokio::time::sleep(Duration::from_secs_f64(STALL_AT)).await;
    let stalled = now();
    relay.stall(Duration::from_secs_f64(STALL));
    tokio::time::sleep(Duration::from_secs_f64(WATCHED - STALL_AT)).await;
    let watched = browser.watched().await;
    drop(browser);
    feeding.abort();
    session.stop().await.expect("a clean stop");
    let dir = tempfile::tempdir().unwrap();
    let capture = relay.capture(dir.path());
    assert!(
        watched.error.is_none(),
        "{who:?} played the mount: {:?}",
        watched.error
    );
    let behind = Behind::of(&watched, &capture);
    // Seconds from the listener's connection, as the samples count.
    let stall_at = stalled - capture.opened;
    let before = behind.between(0.0, stall_at);
    let after = behind.between(stall_at + STALL + RECOVERY, WATCHED);
    let settled = behind.settled_within(most_behind, stall_at);
    eprintln!(
        "{who:?} {}: playing {:.2} s after joining; within {most_behind} s of live from {settled:?} s; before the stall max {:.2} s; after it max {:.2} s; {:?}",
        format.id(),
        behind.to_playing,
        max(&before),
        max(&after),
        behind.samples.iter().map(|s| format!("{:.1}:{:.2}", s.0, s.1)).collect::<Vec<_>>()
    );
    let settled = settled.unwrap_or_else(|| panic!("{who:?} never came within {most_behind} s of live"));
    assert!(
        settled < 3.0,
        "{who:?} {}: within {most_behind} s of live only {settled:.1} s after joining",
        format.id()
    );
    assert!(
        !after.is_empty() && max(&after) <= most_behind,
        "{who:?} {}: after the stall, up to {:.2} s behind live (at most {most_behind})",
        format.id(),
        max(&after)
    );
}

#[tokio::test]
async fn chromium_hears_webm_audio_within_a_second_of_live() {
    let corpus = corpus_chunks("webm-opus-audio-250ms").concat();
    listener_plays_near_live(Listening::Chromium, MountFormat::WebmAudio, &corpus, 1.0).await;
}

#[tokio::test]
async fn firefox_hears_webm_audio_within_a_second_of_live() {
    let corpus = corpus_chunks("webm-opus-audio-250ms").concat();
    listener_plays_near_live(Listening::Firefox, MountFormat::WebmAudio, &corpus, 1.0).await;
}

#[tokio::test]
async fn chromium_sees_webm_video_within_0_8_s_of_live() {
    listener_plays_near_live(Listening::Chromium, MountFormat::WebmVideo, keyed_video(), 0.8).await;
}

#[tokio::test]
async fn firefox_sees_webm_video_within_0_8_s_of_live() {
    listener_plays_near_live(Listening::Firefox, MountFormat::WebmVideo, keyed_video(), 0.8).await;
}

// MP3: ffmpeg encodes the mount from the recorder's Opus; the embed code reads it through Media
// Source too (`audio/mpeg`). Firefox's Media Source takes no MP3: it plays the mount directly, a
// few seconds behind (bench/RESULTS.md).
#[tokio::test]
async fn chromium_hears_mp3_within_a_second_of_live() {
    let corpus = corpus_chunks("webm-opus-audio-250ms").concat();
    listener_plays_near_live(Listening::Chromium, MountFormat::Mp3, &corpus, 1.0).await;
}
