//! Live means live: the latency the engine adds and how fast it goes live, side by side with the
//! floor that ffmpeg and Icecast alone set (ffmpeg writing the same input straight to `icecast://`
//! on the same private server, fed the same bytes at the same moments). Run by hand (it writes its
//! table into bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench latency     # 60 s (ICECREAM_LATENCY_SECS)
//!
//! Input: the WebM Opus recorder recording, looped, handed over as a recorder with a 250 ms
//! timeslice does (each chunk when its slice of time has been captured). For every audio packet a
//! listener on each mount receives, latency = when it arrived − when the chunk holding it was handed
//! over. The floor's ffmpeg gets the same arguments as the engine's (0.5 s clusters, minimal
//! probing; bench/floor.rs), so the difference is what the engine's own path costs.

mod floor;
#[path = "looped.rs"]
mod looped;
mod report;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icecream_engine::format::MountFormat;
use icecream_engine::{icecast, net, Ffmpeg, LocalIcecast, LocalOptions, Session, SessionOptions};
use looped::{BlockScanner, Looped};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Times = Arc<Mutex<HashMap<u64, Instant>>>;

/// What the recorders in shared/corpus were asked for, and what the app's recorder path uses.
const TIMESLICE_MS: u64 = 250;

/// Reads the mount until it ends, noting when each audio packet (by its time) arrived.
async fn listen(ep: net::Endpoint, mount: &str, arrived: Times) {
    let mut conn = net::connect(&ep).await.unwrap();
    let req = format!("GET {mount} HTTP/1.0\r\nHost: {}\r\n\r\n", ep.authority());
    conn.write_all(req.as_bytes()).await.unwrap();
    let head = net::read_head(&mut conn).await.unwrap().unwrap();
    assert_eq!(head.status, 200, "{mount}");
    let mut scan = BlockScanner::default();
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = conn.read(&mut buf).await {
        let now = Instant::now();
        let mut a = arrived.lock().unwrap();
        for (_, ms) in scan.feed(&buf[..n]) {
            a.entry(ms).or_insert(now);
        }
    }
}

async fn wait_listed(ep: &net::Endpoint, mount: &str, since: Instant) -> Duration {
    loop {
        if let Ok(doc) = icecast::fetch_status(ep).await {
            if icecast::mount_status(&doc, mount).is_some() {
                return since.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Latencies of the packets handed over after `from` (a joining listener first gets a burst of
/// older packets, which says nothing about latency).
fn latencies(sent: &HashMap<u64, Instant>, arrived: &HashMap<u64, Instant>, from: Instant) -> Vec<f64> {
    let mut v: Vec<f64> = arrived
        .iter()
        .filter_map(|(ms, at)| {
            let handed = *sent.get(ms)?;
            (handed >= from).then(|| at.duration_since(handed).as_secs_f64() * 1000.0)
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("ICECREAM_LATENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let looped = Looped::load(&root.join("../shared/corpus/webm-opus-audio-250ms"));
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    let ep = server.endpoint();
    let ffmpeg = Ffmpeg::locate().unwrap();

    // Ours: the engine, in this process.
    let ours_started = Instant::now();
    let session = Session::start(
        server.settings("/ours.webm", MountFormat::WebmAudio),
        SessionOptions::new(ffmpeg.clone()),
    )
    .unwrap();
    let sender = session.sender();
    // The floor: ffmpeg alone, with the engine's own arguments but writing to icecast://.
    let floor_started = Instant::now();
    let (mut floor, mut floor_in) = floor::start(
        &ffmpeg,
        &server,
        MountFormat::WebmAudio,
        icecream_engine::Container::Webm,
        "/floor.webm",
    );

    // The same bytes to both at the same moments; each packet's hand-over time by its time.
    let sent: Times = Default::default();
    let sent2 = sent.clone();
    let pace = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut scan = BlockScanner::default();
        for (due, chunk) in looped.timeslices(TIMESLICE_MS, (secs + 5) * 1000) {
            tokio::time::sleep_until(start + Duration::from_millis(due)).await;
            let now = Instant::now();
            sender.send(chunk.clone()).await.unwrap();
            floor_in.write_all(&chunk).await.unwrap();
            let mut s = sent2.lock().unwrap();
            for (_, ms) in scan.feed(&chunk) {
                s.insert(ms, now);
            }
        }
    });
    let (ours_listed, floor_listed) = tokio::join!(
        wait_listed(&ep, "/ours.webm", ours_started),
        wait_listed(&ep, "/floor.webm", floor_started)
    );
    // Listeners join once media flows (Icecast drops a WebM listener that comes before it).
    let mut status = session.status();
    status
        .wait_for(|s| s.state == icecream_engine::State::Live)
        .await
        .unwrap();
    let ours_live = ours_started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ours_arrived, floor_arrived): (Times, Times) = Default::default();
    let l1 = tokio::spawn(listen(ep.clone(), "/ours.webm", ours_arrived.clone()));
    let l2 = tokio::spawn(listen(ep.clone(), "/floor.webm", floor_arrived.clone()));
    let measured_from = Instant::now() + Duration::from_secs(2);
    pace.await.unwrap();
    session.stop().await.unwrap();
    let _ = floor.wait().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(l1, l2) }).await;

    let sent = sent.lock().unwrap();
    // The same packet through both paths: the engine's arrival minus the floor's.
    let mut diff: Vec<f64> = {
        let (o, f) = (ours_arrived.lock().unwrap(), floor_arrived.lock().unwrap());
        o.iter()
            .filter(|(ms, _)| sent.get(*ms).is_some_and(|t| *t >= measured_from))
            .filter_map(|(ms, at)| {
                let floor_at = f.get(ms)?;
                Some(
                    (at.duration_since(*floor_at).as_secs_f64() - floor_at.duration_since(*at).as_secs_f64())
                        * 1000.0,
                )
            })
            .collect()
    };
    diff.sort_by(f64::total_cmp);
    let ours = latencies(&sent, &ours_arrived.lock().unwrap(), measured_from);
    let floor = latencies(&sent, &floor_arrived.lock().unwrap(), measured_from);
    let row = |name: &str, v: &[f64]| {
        format!(
            "| {name} | {} | {:.0} | {:.0} |",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.95)
        )
    };
    let table = format!(
        "| path | audio packets matched | p50 ms | p95 ms |\n|---|---|---|---|\n{}\n{}\n\n\
         Added by the engine: p50 {:+.0} ms, p95 {:+.0} ms; packet by packet (engine − floor, \
         same packet): median {:+.1} ms, p95 {:+.1} ms.\n\n\
         | go live → | engine | ffmpeg alone |\n|---|---|---|\n\
         | mount listed in status-json | {:.2} s | {:.2} s |\n\
         | first media on the server (engine: Live) | {:.2} s | — |\n",
        row("engine (Icecream)", &ours),
        row("ffmpeg → icecast:// (floor)", &floor),
        percentile(&ours, 0.5) - percentile(&floor, 0.5),
        percentile(&ours, 0.95) - percentile(&floor, 0.95),
        percentile(&diff, 0.5),
        percentile(&diff, 0.95),
        ours_listed.as_secs_f64(),
        floor_listed.as_secs_f64(),
        ours_live.as_secs_f64(),
    );
    report::write("latency", false, &table);
}
