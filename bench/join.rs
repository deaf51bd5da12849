//! Listener join → first picture, for listeners joining a live WebM video mount mid-stream, with
//! the keyframes each capture path gives (Chromium's recorder: every 5 s; the WebCodecs path: every
//! 0.6 s) and with Icecast's burst-on-connect at several sizes. Run by hand (it writes its table
//! into bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench join
//!
//! A listener's first picture is its first keyframe: how long after connecting it arrives, and how
//! old that picture is by then (a burst from before the join shows a picture at once, but an older
//! one: the listener is that much behind live for as long as it listens). Beside each, in the same
//! run, the floor (bench/floor.rs: ffmpeg alone, straight to `icecast://`), fed the same chunks at
//! the same moments on a mount of its own, joined at the same moments.

// Linux only: it starts Debian's icecast2 and ffmpeg on loopback.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

mod floor;
mod report;
// Uses the keyed scan only.
mod keyed;
#[allow(dead_code)]
#[path = "looped.rs"]
mod looped;

use std::time::{Duration, Instant};

use icecream_engine::media::format::MountFormat;
use icecream_engine::{net, Container, Ffmpeg, LocalIcecast, LocalOptions, Session, SessionOptions};
use looped::{BlockScanner, Looped};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JOINS: usize = 8;

/// Connects, and returns (time to the first video keyframe, that frame's time) once it arrives.
async fn join(ep: &net::Endpoint, mount: &str, video_track: u64) -> (Duration, u64) {
    let t0 = Instant::now();
    let mut conn = net::connect(ep).await.unwrap();
    let req = format!("GET {mount} HTTP/1.0\r\nHost: {}\r\n\r\n", ep.authority());
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut scan = BlockScanner::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut head_done = false;
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the stream ended before a keyframe");
        let mut data = &buf[..n];
        if !head_done {
            // Skip the HTTP answer.
            let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            data = &data[end + 4..];
            head_done = true;
        }
        if let Some((_, ms)) = scan
            .feed_keyed(data)
            .into_iter()
            .find(|(t, _, key)| *t == video_track && *key)
            .map(|(t, ms, _)| (t, ms))
        {
            return (t0.elapsed(), ms);
        }
    }
}

/// Join → first picture, and how far behind live that picture is, in seconds.
#[derive(Default)]
struct Joins {
    waits: Vec<f64>,
    behind: Vec<f64>,
}

impl Joins {
    fn add(&mut self, live_ms: u64, (wait, frame_ms): (Duration, u64)) {
        self.waits.push(wait.as_secs_f64());
        self.behind
            .push((live_ms + wait.as_millis() as u64).saturating_sub(frame_ms) as f64 / 1000.0);
    }

    /// "mean | max | mean | max".
    fn cells(&self) -> String {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
        format!(
            "{:.2} s | {:.2} s | {:.2} s | {:.2} s",
            mean(&self.waits),
            max(&self.waits),
            mean(&self.behind),
            max(&self.behind)
        )
    }
}

async fn case(input: &Looped, label: &str, burst: u32, rows: &mut Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let opts = LocalOptions {
        burst_size: Some(burst),
        ..Default::default()
    };
    let server = LocalIcecast::start(dir.path(), &opts).await.unwrap();
    let settings = server.settings("/join.webm", MountFormat::WebmVideo);
    let ffmpeg = Ffmpeg::locate().unwrap();
    let session = Session::start(settings, SessionOptions::new(ffmpeg.clone())).unwrap();
    // Killed when it drops, at the end of the case.
    let (_floor, floor_in) = floor::start(
        &ffmpeg,
        &server,
        MountFormat::WebmVideo,
        Container::Webm,
        "/floor.webm",
    );
    let (pace, started) = floor::live_on_both(&session, floor_in, input.timeslices(250, 60_000)).await;
    let (mut ours, mut floors) = (Joins::default(), Joins::default());
    let ep = server.endpoint();
    for i in 0..JOINS {
        // Joins spread over the keyframe interval: every 3.3 s from 4 s on.
        tokio::time::sleep_until(started + Duration::from_millis(4000 + 3300 * i as u64)).await;
        let live_ms = started.elapsed().as_millis() as u64;
        let (o, f) = tokio::join!(join(&ep, "/join.webm", 1), join(&ep, "/floor.webm", 1));
        ours.add(live_ms, o);
        floors.add(live_ms, f);
    }
    pace.abort();
    let _ = session.stop().await;
    let row = format!("| {label} | {burst} | {} | {} |", ours.cells(), floors.cells());
    println!("{row}");
    rows.push(row);
}

#[tokio::main]
async fn main() {
    let all = looped::corpus("webm-vp8-opus-250ms");
    let recorder = Looped::from_bytes(&all);
    // The WebCodecs path's keyframe rhythm, made from the same recording.
    let webcodecs = Looped::from_bytes(&keyed::with_app_keyframes(&all));
    let mut rows = vec![
        "| keyframes | burst-size (bytes) | join → first picture, mean | max | picture behind live, mean | max \
         | floor: join → first picture, mean | max | floor: behind live, mean | max |"
            .to_string(),
        "|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for burst in [0, 65_535, 262_144] {
        case(&recorder, "every 5 s (recorder path)", burst, &mut rows).await;
        case(&webcodecs, "every 0.6 s (WebCodecs path)", burst, &mut rows).await;
    }
    let table = rows.join("\n") + "\n";
    report::write("join", false, &table);
}
