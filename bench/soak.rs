//! Soak: the WebM video corpus looped for 30 minutes at its real pace into the engine, live to a
//! private Icecast with one listener; our RSS and open file descriptors (and ffmpeg's RSS) sampled
//! every 10 s (every 5 minutes shown in the table). Beside it, in the same run, the floor
//! (bench/floor.rs: ffmpeg alone, straight to `icecast://`) gets the same bytes at the same
//! moments, with a listener of its own; its RSS is sampled too. Run by hand (it writes its table
//! into bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench soak                        # 30 minutes
//!     ICECREAM_SOAK_SECS=120 cargo bench -p icecream-engine --bench soak # a shorter look
//!

// Linux only: it starts Debian's icecast2 and samples memory and descriptors from /proc.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

mod floor;
#[allow(dead_code)]
mod procstat;
mod report;
// The soak needs only the looping, not the block scanner.
#[allow(dead_code)]
#[path = "looped.rs"]
mod looped;

use icecream_engine::media::format::MountFormat;
use icecream_engine::{Container, Ffmpeg, LocalIcecast, LocalOptions, Session, SessionOptions, State};
use looped::Looped;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Resident memory in MiB, 0 once the process is gone.
fn rss_mib(pid: u32) -> f64 {
    procstat::rss_kib(pid).unwrap_or(0) as f64 / 1024.0
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Listens to `mount` until it ends; the bytes heard.
async fn listen(endpoint: icecream_engine::net::Endpoint, mount: &str) -> u64 {
    let mut conn = icecream_engine::net::connect(&endpoint).await.unwrap();
    let req = format!("GET {mount} HTTP/1.0\r\nHost: {}\r\n\r\n", endpoint.authority());
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    while let Ok(n @ 1..) = conn.read(&mut buf).await {
        total += n as u64;
    }
    total
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("ICECREAM_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1800);
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/webm-vp8-opus-250ms");
    let looped = Looped::load(&corpus);
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .expect("a private Icecast");
    let mount = "/soak.webm";
    let settings = server.settings(mount, MountFormat::WebmVideo);
    let ffmpeg = Ffmpeg::locate().expect("ffmpeg");
    let floor_mount = "/floor.webm";
    let (mut floor, mut floor_in) = floor::start(
        &ffmpeg,
        &server,
        MountFormat::WebmVideo,
        Container::Webm,
        floor_mount,
    );
    let floor_pid = floor.id().unwrap();
    let session = Session::start(settings, SessionOptions::new(ffmpeg)).unwrap();
    let sender = session.sender();
    let me = std::process::id();

    let pace = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        sender.send(looped.header.clone()).await.unwrap();
        floor_in.write_all(&looped.header).await.unwrap();
        for n in 0.. {
            let (tc, cluster) = looped.cluster(n);
            if tc >= secs * 1000 {
                break;
            }
            tokio::time::sleep_until(start + Duration::from_millis(tc)).await;
            let floor_took = floor_in.write_all(&cluster).await;
            if sender.send(cluster).await.is_err() || floor_took.is_err() {
                break;
            }
        }
        // floor_in drops here: the floor's input ends, as ours does with stop().
    });
    let mut status = session.status();
    status.wait_for(|s| s.state == State::Live).await.unwrap();
    let (ours_heard, floor_heard) = (
        tokio::spawn(listen(server.endpoint(), mount)),
        tokio::spawn(listen(server.endpoint(), floor_mount)),
    );
    let mut rows = vec![];
    let started = Instant::now();
    while !pace.is_finished() {
        let s = status.borrow().clone();
        let ffmpeg_rss = session.ffmpeg_pid().map_or(0.0, rss_mib);
        rows.push(format!(
            "| {:>5} | {:>6.1} | {:>3} | {:>6.1} | {:>6.1} | {:>7.1} | {:?} |",
            started.elapsed().as_secs(),
            rss_mib(me),
            open_fds(),
            ffmpeg_rss,
            rss_mib(floor_pid),
            s.bytes_sent as f64 / 1e6,
            s.state,
        ));
        eprintln!("{}", rows.last().unwrap());
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    // Every 5 minutes and the last sample in the table; the output above has them all.
    let shown = report::every(&rows, (300 / SAMPLE_EVERY.as_secs()) as usize);
    let summary = session.stop().await.expect("a clean stop");
    let floor_ended = floor.wait().await.is_ok_and(|s| s.success());
    let (heard, floor_heard) = (ours_heard.await.unwrap(), floor_heard.await.unwrap());
    let table = format!(
        "| s | our RSS MiB | our fds | its ffmpeg RSS MiB | floor ffmpeg RSS MiB | MB sent | state |\n\
         |---|---|---|---|---|---|---|\n{}\n\n\
         {} s of media, {:.1} MB sent, {:.1} MB heard by the listener, {} gaps; the floor's listener \
         heard {:.1} MB{}.\n",
        shown.join("\n"),
        secs,
        summary.bytes_sent as f64 / 1e6,
        heard as f64 / 1e6,
        summary.gaps,
        floor_heard as f64 / 1e6,
        if floor_ended {
            ""
        } else {
            " (the floor's ffmpeg did not end cleanly)"
        },
    );
    report::write("soak", false, &table);
}
