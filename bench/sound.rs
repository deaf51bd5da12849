//! Sound from a sound card to a listener: what the engine's capture and Opus encoder cost, and how
//! late a listener hears a sound, beside ffmpeg capturing the same PulseAudio source straight to
//! `icecast://` (the floor: the same bitrate, 20 ms packets, a page per packet, a 10 ms capture
//! fragment), both at once in the same run. Run by hand (it writes its table into
//! bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench sound     # 60 s (ICECREAM_SOUND_SECS)
//!
//! A private PulseAudio (null sink "feed", source "mic" remapped from its monitor) is started for
//! the run. The bench plays a click every 500 ms into the sink through pacat (10 ms blocks at
//! their own pace, 5 ms of playback buffer) and listens to both Ogg Opus mounts, decoding every
//! packet as it arrives (libopus): latency = when the packet holding a click arrived − when the
//! click was handed to pacat. CPU: each sender's own process (the CLI encodes Opus itself, with
//! no ffmpeg; the floor is one ffmpeg), user + system time over the run.
//!
//! The floor's password is in ffmpeg's argv, as `icecast://` requires: a throwaway password of the
//! private server this bench starts on 127.0.0.1 and stops, never a person's. The CLI under test
//! gets its password from `ICECREAM_PASSWORD`, as a person's would.

// Linux only: it starts Debian's PulseAudio, icecast2 and ffmpeg on loopback.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

mod ogg_packets;
#[allow(dead_code)] // no corpus: the sound comes from the sound server
mod private;
#[allow(dead_code)]
mod procstat;
#[allow(dead_code)] // the bench plays through pacat, and unplugs nothing
#[path = "../engine/tests/integration/support/pulse.rs"]
mod pulse;
mod report;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icecream_engine::{icecast, net};
use ogg_packets::OggPackets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RATE: usize = 48_000;
const BLOCK: usize = RATE / 100;
/// A click every this many 10 ms blocks.
const CLICK_EVERY: usize = 50;

/// Plays silence with a 5 ms 2 kHz burst every 500 ms, for `secs`; returns when each click was
/// handed over.
fn play_clicks(pulse_env: Vec<(String, String)>, secs: u64) -> Vec<Instant> {
    let mut pacat = Command::new("pacat")
        .envs(pulse_env)
        .args(["--playback", "-d", "feed", "--latency-msec=5", "--raw"])
        .args(["--format=float32le", "--rate=48000", "--channels=2"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("pacat is installed (pulseaudio-utils)");
    let mut stdin = pacat.stdin.take().unwrap();
    let start = Instant::now();
    let mut clicks = Vec::new();
    for k in 0..secs as usize * 100 {
        let due = start + Duration::from_millis(10 * k as u64);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let mut block = vec![0f32; BLOCK * 2];
        if k % CLICK_EVERY == CLICK_EVERY - 1 {
            for (i, frame) in block.chunks_exact_mut(2).take(RATE / 200).enumerate() {
                let s = 0.8 * (i as f32 * 2.0 * std::f32::consts::PI * 2000.0 / RATE as f32).sin();
                frame.copy_from_slice(&[s, s]);
            }
            clicks.push(Instant::now());
        }
        let bytes: Vec<u8> = block.iter().flat_map(|s| s.to_le_bytes()).collect();
        stdin.write_all(&bytes).unwrap();
    }
    drop(stdin);
    let _ = pacat.wait();
    clicks
}

/// Listens to an Ogg Opus mount, decoding each packet as it comes; returns when each click arrived.
async fn listen(ep: net::Endpoint, mount: String, heard: Arc<Mutex<Vec<Instant>>>) {
    let mut conn = net::connect(&ep).await.unwrap();
    let req = format!("GET {mount} HTTP/1.0\r\nHost: {}\r\n\r\n", ep.authority());
    conn.write_all(req.as_bytes()).await.unwrap();
    let head = net::read_head(&mut conn).await.unwrap().expect("an answer");
    assert_eq!(head.status, 200, "{mount}: {head:?}");
    let mut packets = OggPackets::default();
    let mut decoder = opus::Decoder::new(RATE as u32, opus::Channels::Stereo).unwrap();
    let mut pcm = vec![0f32; 5760 * 2];
    let mut quiet = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let now = Instant::now();
        for p in packets.feed(&buf[..n]) {
            if p.starts_with(b"OpusHead") || p.starts_with(b"OpusTags") {
                continue;
            }
            let Ok(frames) = decoder.decode_float(&p, &mut pcm, false) else {
                continue;
            };
            // A click is sound after at least 200 ms of silence.
            for frame in pcm[..frames * 2].chunks_exact(2) {
                if frame[0].abs() <= 0.05 {
                    quiet += 1;
                    continue;
                }
                if quiet > RATE / 5 {
                    heard.lock().unwrap().push(now);
                }
                quiet = 0;
            }
        }
    }
}

async fn is_listed(ep: &net::Endpoint, mount: &str) -> bool {
    let status = icecast::fetch_status(ep).await;
    status.is_ok_and(|s| icecast::mount_status(&s, mount).is_some())
}

/// Each arrival against the latest click handed over before it, in ms, sorted.
fn latencies(clicks: &[Instant], heard: &[Instant]) -> Vec<f64> {
    let mut ms: Vec<f64> = heard
        .iter()
        .filter_map(|a| {
            let c = clicks.iter().rev().find(|c| *c <= a)?;
            Some(a.duration_since(*c).as_secs_f64() * 1000.0)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn wait_child(mut child: Child) {
    // SAFETY: kill(2) on a child this bench started: Ctrl-C for the CLI, the end for ffmpeg.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let _ = child.wait();
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("ICECREAM_SOUND_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let pulse = pulse::Pulse::start();
    let (ice, _dir) = private::icecast().await;
    let port = ice.port.to_string();
    let engine = Command::new(env!("CARGO_BIN_EXE_icecream"))
        .args([
            "stream",
            "--device",
            pulse::MIC,
            "--format",
            "ogg-opus",
            "--audio-bitrate",
            "128",
        ])
        .args(["--host", "127.0.0.1", "--port", &port, "--mount", "/engine.opus"])
        .envs(pulse.env())
        .env("ICECREAM_PASSWORD", ice.source_password.expose())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let floor = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-loglevel", "error"])
        .args(["-f", "pulse", "-fragment_size", "1920", "-i", pulse::MIC])
        .args([
            "-c:a",
            "libopus",
            "-b:a",
            "128k",
            "-frame_duration",
            "20",
            "-application",
            "audio",
        ])
        .args(["-f", "ogg", "-page_duration", "20000", "-flush_packets", "1"])
        .args(["-content_type", "audio/ogg"])
        .arg(format!(
            "icecast://source:{}@127.0.0.1:{port}/floor.opus",
            ice.source_password.expose()
        ))
        .envs(pulse.env())
        .stdin(Stdio::null())
        .spawn()
        .expect("ffmpeg is installed");
    let ep = ice.endpoint();
    let mut heard = Vec::new();
    for mount in ["/engine.opus", "/floor.opus"] {
        let started = Instant::now();
        while !is_listed(&ep, mount).await {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{mount} never went live"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let times = Arc::new(Mutex::new(Vec::new()));
        tokio::spawn(listen(ep.clone(), mount.to_string(), times.clone()));
        heard.push(times);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu_before = [engine.id(), floor.id()].map(|p| procstat::cpu_seconds(p).unwrap_or(0.0));
    let wall = Instant::now();
    let clicks = tokio::task::spawn_blocking({
        let pulse_env = pulse.env();
        move || play_clicks(pulse_env, secs)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let wall = wall.elapsed().as_secs_f64();
    let cpu = [engine.id(), floor.id()]
        .map(|p| procstat::cpu_seconds(p).unwrap_or(0.0))
        .into_iter()
        .zip(cpu_before)
        .map(|(after, before)| 100.0 * (after - before) / wall)
        .collect::<Vec<_>>();
    let rss = [engine.id(), floor.id()].map(|p| procstat::rss_kib(p).unwrap_or(0) as f64 / 1024.0);
    wait_child(engine);
    wait_child(floor);

    let mut table = format!(
        "{} clicks over {secs} s, 128 kbps stereo Ogg Opus, both senders capturing the same source at once\n\n\
         | sender | CPU (% of a core) | memory (MiB) | clicks heard | latency p50 | p95 | max |\n\
         |---|---|---|---|---|---|---|\n",
        clicks.len()
    );
    for (i, name) in [
        "Icecream (capture + libopus in the engine)",
        "floor: ffmpeg -f pulse → icecast://",
    ]
    .iter()
    .enumerate()
    {
        let ms = latencies(&clicks, &heard[i].lock().unwrap());
        let (p50, p95, max) = match ms.is_empty() {
            true => (f64::NAN, f64::NAN, f64::NAN),
            false => (pct(&ms, 0.5), pct(&ms, 0.95), *ms.last().unwrap()),
        };
        table += &format!(
            "| {name} | {:.2} | {:.1} | {} of {} | {p50:.0} ms | {p95:.0} ms | {max:.0} ms |\n",
            cpu[i],
            rss[i],
            ms.len(),
            clicks.len()
        );
    }
    report::write("sound", false, &table);
}
