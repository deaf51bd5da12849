//! Live means live: the latency the engine adds and how fast it goes live, side by side with the
//! floor that ffmpeg and Icecast alone set (ffmpeg writing the same input straight to `icecast://`
//! on the same private server, fed the same bytes at the same moments). Run by hand (it writes its
//! table into bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench latency     # 60 s (ICECREAM_LATENCY_SECS)
//!
//! Input: the WebM Opus recorder recording to a WebM audio and an Ogg Opus mount, and the VP8+Opus
//! one with the WebCodecs path's keyframes (every 0.6 s) to a WebM video mount, each looped and
//! handed over as a recorder with a 250 ms timeslice does (each chunk when its slice of time has
//! been captured). For every audio packet and video frame a listener on each mount receives,
//! latency = when it arrived − when the chunk holding it was handed over. WebM blocks are known by
//! track and time; Ogg packets by their bytes (the same Opus packets as the recorder's), each
//! arrival matched with the latest hand-over of those bytes before it (the recording loops). The
//! engine writes these mounts itself; the floor is ffmpeg copying them to `icecast://` as the old
//! relay did (bench/floor.rs).

// Linux only: it starts Debian's icecast2 and ffmpeg on loopback.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

mod floor;
mod ogg_packets;
// Uses the keyed scan only.
mod keyed;
#[path = "looped.rs"]
mod looped;
mod private;
mod report;

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icecream_engine::media::format::MountFormat;
use icecream_engine::{icecast, net, Ffmpeg, Session, SessionOptions};
use looped::{BlockScanner, Looped};
use ogg_packets::OggPackets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// When each block was handed over or arrived: WebM by (track, time in ms), Ogg by (1, a hash of
/// the packet's bytes).
type Times = Arc<Mutex<HashMap<(u64, u64), Vec<Instant>>>>;

fn hashed(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// How a stream's blocks are told apart on both sides.
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    Webm,
    Ogg,
}

/// The keys of the blocks a chunk of the recorder's WebM completes.
fn sent_keys(scan: &mut BlockScanner, keys: Keys, chunk: &[u8]) -> Vec<(u64, u64)> {
    scan.feed_blocks(chunk)
        .into_iter()
        .map(|(track, ms, _, frame)| match keys {
            Keys::Webm => (track, ms),
            Keys::Ogg => (1, hashed(&frame)),
        })
        .collect()
}

/// What the recorders in shared/corpus were asked for, and what the app's recorder path uses.
const TIMESLICE_MS: u64 = 250;

/// Reads the mount until it ends, noting when each block (by track and time) arrived.
async fn listen(ep: net::Endpoint, mount: String, keys: Keys, arrived: Times) {
    let mut conn = net::connect(&ep).await.unwrap();
    let req = format!("GET {mount} HTTP/1.0\r\nHost: {}\r\n\r\n", ep.authority());
    conn.write_all(req.as_bytes()).await.unwrap();
    let head = net::read_head(&mut conn).await.unwrap().unwrap();
    assert_eq!(head.status, 200, "{mount}");
    let (mut webm, mut ogg) = (BlockScanner::default(), OggPackets::default());
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = conn.read(&mut buf).await {
        let now = Instant::now();
        let got: Vec<(u64, u64)> = match keys {
            Keys::Webm => webm.feed(&buf[..n]),
            Keys::Ogg => ogg.feed(&buf[..n]).iter().map(|p| (1, hashed(p))).collect(),
        };
        let mut a = arrived.lock().unwrap();
        for block in got {
            a.entry(block).or_default().push(now);
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
/// older packets, which says nothing about latency): each arrival against the latest hand-over
/// of the same block before it.
fn latencies(
    sent: &HashMap<(u64, u64), Vec<Instant>>,
    arrived: &HashMap<(u64, u64), Vec<Instant>>,
    track: u64,
    from: Instant,
) -> Vec<f64> {
    let mut v: Vec<f64> = arrived
        .iter()
        .filter(|((t, _), _)| *t == track)
        .flat_map(|(block, ats)| ats.iter().map(move |at| (block, at)))
        .filter_map(|(block, at)| {
            let handed = *sent.get(block)?.iter().filter(|s| *s <= at).max()?;
            (handed >= from).then(|| at.duration_since(handed).as_secs_f64() * 1000.0)
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// One mount format's rows: per track, the latency of every block through the engine and through
/// the floor; and the go-live times.
async fn case(format: MountFormat, looped: Looped, tracks: &[(u64, &str)], secs: u64) -> String {
    let keys = match format {
        MountFormat::OggOpus => Keys::Ogg,
        _ => Keys::Webm,
    };
    let (server, _dir) = private::icecast().await;
    let ep = server.endpoint();
    let ffmpeg = Ffmpeg::locate().unwrap();
    let ext = format.extension();
    let (ours_mount, floor_mount) = (format!("/ours.{ext}"), format!("/floor.{ext}"));

    // Ours: the engine, in this process.
    let ours_started = Instant::now();
    let session = Session::start(
        server.settings(&ours_mount, format),
        SessionOptions::new(ffmpeg.clone()),
    )
    .unwrap();
    let sender = session.sender();
    let floor_started = Instant::now();
    let (mut floor, mut floor_in) = floor::start(
        &ffmpeg,
        &server,
        format,
        icecream_engine::Container::Webm,
        &floor_mount,
    );

    // The same bytes to both at the same moments; each block's hand-over time by track and time.
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
            for block in sent_keys(&mut scan, keys, &chunk) {
                s.entry(block).or_default().push(now);
            }
        }
    });
    let (ours_listed, floor_listed) = tokio::join!(
        wait_listed(&ep, &ours_mount, ours_started),
        wait_listed(&ep, &floor_mount, floor_started)
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
    let l1 = tokio::spawn(listen(ep.clone(), ours_mount.clone(), keys, ours_arrived.clone()));
    let l2 = tokio::spawn(listen(
        ep.clone(),
        floor_mount.clone(),
        keys,
        floor_arrived.clone(),
    ));
    let measured_from = Instant::now() + Duration::from_secs(2);
    pace.await.unwrap();
    session.stop().await.unwrap();
    let _ = floor.wait().await;
    let _ = tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(l1, l2) }).await;

    let sent = sent.lock().unwrap();
    let (o, f) = (ours_arrived.lock().unwrap(), floor_arrived.lock().unwrap());
    let mut rows = Vec::new();
    for &(track, what) in tracks {
        let ours = latencies(&sent, &o, track, measured_from);
        let floor = latencies(&sent, &f, track, measured_from);
        let cells = |v: &[f64]| {
            if v.is_empty() {
                return "0 | – | –".to_string();
            }
            format!(
                "{} | {:.0} | {:.0}",
                v.len(),
                percentile(v, 0.5),
                percentile(v, 0.95)
            )
        };
        rows.push(format!(
            "| {} | {what} | {} | {} |",
            format.id(),
            cells(&ours),
            cells(&floor)
        ));
    }
    rows.push(format!(
        "| {} | go live → listed in status-json: engine {:.2} s, floor {:.2} s; engine Live (first media on the server) {:.2} s | | | | | | |",
        format.id(),
        ours_listed.as_secs_f64(),
        floor_listed.as_secs_f64(),
        ours_live.as_secs_f64(),
    ));
    rows.join("\n")
}

/// The same recording to three destinations of one broadcast (two WebM audio mounts and an Ogg
/// Opus one): each destination's latency, to read beside the single-destination rows above.
async fn many(looped: Looped, secs: u64) -> String {
    let (server, _dir) = private::icecast().await;
    let ep = server.endpoint();
    let mounts = [
        ("/many-1.webm", MountFormat::WebmAudio, Keys::Webm),
        ("/many-2.webm", MountFormat::WebmAudio, Keys::Webm),
        ("/many-3.opus", MountFormat::OggOpus, Keys::Ogg),
    ];
    let settings = icecream_engine::Settings {
        destinations: mounts.iter().map(|(m, f, _)| server.destination(m, *f)).collect(),
        ..Default::default()
    };
    let session = Session::start(settings, SessionOptions::new(Ffmpeg::locate().unwrap())).unwrap();
    let sender = session.sender();
    // Hand-over times by WebM key and by Ogg key: the same chunks give both.
    let (sent_webm, sent_ogg): (Times, Times) = Default::default();
    let (sw, so) = (sent_webm.clone(), sent_ogg.clone());
    let pace = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let (mut scan_webm, mut scan_ogg) = (BlockScanner::default(), BlockScanner::default());
        for (due, chunk) in looped.timeslices(TIMESLICE_MS, (secs + 5) * 1000) {
            tokio::time::sleep_until(start + Duration::from_millis(due)).await;
            let now = Instant::now();
            sender.send(chunk.clone()).await.unwrap();
            for (scan, keys, sent) in [(&mut scan_webm, Keys::Webm, &sw), (&mut scan_ogg, Keys::Ogg, &so)] {
                let mut s = sent.lock().unwrap();
                for block in sent_keys(scan, keys, &chunk) {
                    s.entry(block).or_default().push(now);
                }
            }
        }
    });
    let mut status = session.status();
    status
        .wait_for(|s| {
            s.destinations.len() == 3
                && s.destinations
                    .iter()
                    .all(|d| d.status.state == icecream_engine::State::Live)
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let arrived: Vec<Times> = mounts.iter().map(|_| Times::default()).collect();
    let listeners: Vec<_> = (mounts.iter().zip(&arrived))
        .map(|((m, _, keys), a)| tokio::spawn(listen(ep.clone(), m.to_string(), *keys, a.clone())))
        .collect();
    let measured_from = Instant::now() + Duration::from_secs(2);
    pace.await.unwrap();
    session.stop().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(10), futures_util::future::join_all(listeners)).await;
    let mut rows = Vec::new();
    for (i, ((mount, format, keys), a)) in mounts.iter().zip(&arrived).enumerate() {
        let sent = match keys {
            Keys::Webm => sent_webm.lock().unwrap(),
            Keys::Ogg => sent_ogg.lock().unwrap(),
        };
        let v = latencies(&sent, &a.lock().unwrap(), 1, measured_from);
        let cells = match v.is_empty() {
            true => "0 | – | –".to_string(),
            false => format!(
                "{} | {:.0} | {:.0}",
                v.len(),
                percentile(&v, 0.5),
                percentile(&v, 0.95)
            ),
        };
        rows.push(format!(
            "| {} ({} of 3 destinations, {mount}) | audio packets | {cells} | | | |",
            format.id(),
            i + 1
        ));
    }
    rows.join("\n")
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("ICECREAM_LATENCY_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let corpus = private::corpus();
    let sound = Looped::load(&corpus.join("webm-opus-audio-250ms"));
    let video: Vec<u8> = icecream_engine::input::chunk_folder(&corpus.join("webm-vp8-opus-250ms"))
        .unwrap()
        .iter()
        .flat_map(|e| std::fs::read(&e.path).unwrap())
        .collect();
    let video = Looped::from_bytes(&keyed::with_app_keyframes(&video));
    let mut table = vec![
        "| mount | blocks | engine: matched | p50 ms | p95 ms | floor: matched | p50 ms | p95 ms |"
            .to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    table.push(
        case(
            MountFormat::WebmAudio,
            sound.clone(),
            &[(1, "audio packets")],
            secs,
        )
        .await,
    );
    table.push(case(MountFormat::OggOpus, sound.clone(), &[(1, "audio packets")], secs).await);
    table.push(many(sound, secs).await);
    let tracks = [(1, "video frames"), (2, "audio packets")];
    table.push(case(MountFormat::WebmVideo, video, &tracks, secs).await);
    report::write("latency", false, &(table.join("\n") + "\n"));
}
