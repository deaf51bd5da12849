//! Chromium join → `playing`, for listeners opening a live mount in a browser mid-stream (the
//! share panel's embed), on the engine's mount and, in the same run on the same server, on the
//! floor's (bench/floor.rs: ffmpeg alone to `icecast://`, copying the codecs as the old relay did).
//! Run by hand (it writes its table into bench/RESULTS.md):
//!
//!     cargo bench -p icecream-engine --bench browser
//!
//! Each case broadcasts one recording, looped, in 250 ms recorder chunks, to both mounts; Chromium
//! (headless, Debian's, through chromedriver) joins each mount 8 times, 1.25 s apart from 3 s on,
//! and a join counts once its clock has moved 2 s. A join that errs or never plays is counted as
//! failed, not averaged.

// Linux only: it starts Debian's icecast2 and Debian's chromium through chromedriver.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[allow(dead_code)] // the benchmark measures Chromium alone
mod browsers;
mod floor;
// Uses the keyed scan only.
mod keyed;
#[allow(dead_code)]
#[path = "looped.rs"]
mod looped;
mod report;

use std::time::Duration;

use browsers::{Browser, Join, Start};
use icecream_engine::media::format::MountFormat;
use icecream_engine::{Container, Ffmpeg, LocalIcecast, LocalOptions, Session, SessionOptions};
use looped::{corpus, Looped};
use tokio::time::Instant;

const JOINS: usize = 8;

/// "mean | max | failed" of the joins' time to `playing`.
fn cells(joins: &[Join]) -> String {
    let ok: Vec<f64> = joins
        .iter()
        .filter(|j| j.error.is_none() && j.advanced >= 2.0)
        .filter_map(|j| j.playing)
        .collect();
    let failed = JOINS - ok.len();
    if ok.is_empty() {
        return format!("– | – | {failed}");
    }
    let mean = ok.iter().sum::<f64>() / ok.len() as f64;
    let max = ok.iter().cloned().fold(0.0, f64::max);
    format!("{mean:.2} s | {max:.2} s | {failed}")
}

async fn case(label: &str, format: MountFormat, input: &Looped, element: &str, start: Start) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    let ext = format.extension();
    let (ours, theirs) = (format!("/ours.{ext}"), format!("/floor.{ext}"));
    let ffmpeg = Ffmpeg::locate().unwrap();
    let session = Session::start(
        server.settings(&ours, format),
        SessionOptions::new(ffmpeg.clone()),
    )
    .unwrap();
    let (_floor, floor_in) = floor::start(&ffmpeg, &server, format, Container::Webm, &theirs);
    let (pace, started) = floor::live_on_both(&session, floor_in, input.timeslices(250, 60_000)).await;
    let browser = Browser::chromium(&format!("http://127.0.0.1:{}/", server.port)).await;
    // The engine's mount by one host name, the floor's by the other: each has its own six
    // connections in the browser.
    let url = |host: &str, mount: &str| format!("http://{host}:{}{mount}", server.port);
    for i in 0..JOINS {
        tokio::time::sleep_until(started + Duration::from_millis(3000 + 1250 * i as u64)).await;
        browser
            .join(2 * i, &url("127.0.0.1", &ours), element, 2.0, start)
            .await;
        browser
            .join(2 * i + 1, &url("localhost", &theirs), element, 2.0, start)
            .await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let joins = browser.joins().await;
        if (joins.len() == 2 * JOINS && joins.iter().all(|j| j.done)) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    browser.give_up().await;
    let joins = browser.joins().await;
    pace.abort();
    let _ = session.stop().await;
    let (o, f): (Vec<Join>, Vec<Join>) = joins.into_iter().partition(|j| j.i % 2 == 0);
    let how = match start {
        Start::Autoplay => "autoplay",
        Start::PlayWhenReady => "play() at canplay",
    };
    let row = format!(
        "| {} | {label} | {how} | {} | {} |",
        format.id(),
        cells(&o),
        cells(&f)
    );
    println!("{row}");
    row
}

#[tokio::main]
async fn main() {
    let video = corpus("webm-vp8-opus-250ms");
    let recorder = Looped::from_bytes(&video);
    let webcodecs = Looped::from_bytes(&keyed::with_app_keyframes(&video));
    let sound = Looped::from_bytes(&corpus("webm-opus-audio-250ms"));
    let mut rows = vec![
        "| mount | input | start | engine: join → playing, mean | max | failed | floor: join → playing, mean | max | failed |"
            .to_string(),
        "|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for start in [Start::Autoplay, Start::PlayWhenReady] {
        let webcodecs_label = "keyframe every 0.6 s (WebCodecs path)";
        rows.push(
            case(
                webcodecs_label,
                MountFormat::WebmVideo,
                &webcodecs,
                "video",
                start,
            )
            .await,
        );
        let recorder_label = "keyframe every 5 s (recorder path)";
        rows.push(case(recorder_label, MountFormat::WebmVideo, &recorder, "video", start).await);
        rows.push(case("Opus", MountFormat::WebmAudio, &sound, "audio", start).await);
        rows.push(case("Opus", MountFormat::OggOpus, &sound, "audio", start).await);
    }
    report::write("browser", false, &(rows.join("\n") + "\n"));
}
