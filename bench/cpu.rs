//! CPU and memory while live, per mount format, beside the floor in the same run. The `icecream`
//! CLI (the engine, without a window) streams each corpus recording at the recorder's pace to a
//! private Icecast; at the same moments the floor (bench/floor.rs: ffmpeg alone, the engine's
//! arguments, straight to `icecast://`) is fed the same chunks on a mount of its own. CPU of the
//! engine, of its ffmpeg and of the floor's ffmpeg is read from /proc per second of media; RSS of
//! the engine before going live and at its highest while live, and of each ffmpeg at its highest.
//! Run by hand (it writes its table into bench/RESULTS.md, with the date, the machine and the
//! versions):
//!
//!     cargo bench -p icecream-engine --bench cpu

// Linux only: it starts Debian's icecast2 and reads CPU and memory from /proc.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

mod floor;
mod private;
#[allow(dead_code)]
mod procstat;
mod report;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icecream_engine::input::ChunkEntry;
use icecream_engine::media::format::{self, MountFormat};
use icecream_engine::{Ffmpeg, LocalIcecast};

/// The corpus recordings are 20 s long.
const MEDIA_SECONDS: f64 = 20.0;

/// The most CPU seconds and RSS KiB seen of one process (the last sample before it ends).
#[derive(Default)]
struct Seen {
    cpu: f64,
    rss: u64,
}

impl Seen {
    fn sample(&mut self, pid: u32) {
        if let (Some(cpu), Some(rss)) = (procstat::cpu_seconds(pid), procstat::rss_kib(pid)) {
            self.cpu = self.cpu.max(cpu);
            self.rss = self.rss.max(rss);
        }
    }

    fn percent(&self) -> f64 {
        100.0 * self.cpu / MEDIA_SECONDS
    }

    fn mib(&self) -> f64 {
        self.rss as f64 / 1024.0
    }
}

struct Row {
    label: &'static str,
    format: MountFormat,
    corpus: &'static str,
}

/// Writes a chunk folder into the floor's ffmpeg at the recorder's own moments, then ends its input.
fn feed(mut floor: Child, entries: Vec<ChunkEntry>) -> std::thread::JoinHandle<Child> {
    let mut stdin = floor.stdin.take().unwrap();
    std::thread::spawn(move || {
        let start = Instant::now();
        for e in entries {
            std::thread::sleep((start + e.at).saturating_duration_since(Instant::now()));
            if stdin.write_all(&std::fs::read(&e.path).unwrap()).is_err() {
                break;
            }
        }
        floor
    })
}

fn run(server: &LocalIcecast, ffmpeg: &Ffmpeg, row: &Row, corpus: &Path) -> String {
    let folder = corpus.join(row.corpus);
    let entries = icecream_engine::input::chunk_folder(&folder).unwrap();
    let first = std::fs::read(&entries[0].path).unwrap();
    let container = format::sniff(&first).expect("a recorder's container");
    let id = row.format.id();
    let mut ours = Command::new(env!("CARGO_BIN_EXE_icecream"))
        .args([
            "stream",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
        ])
        .args(["--mount", &format!("/cpu-{id}"), "--format", id])
        .arg("--input")
        .arg(&folder)
        .env("ICECREAM_PASSWORD", server.source_password.expose())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let floor = floor::command(ffmpeg, server, row.format, container, &format!("/floor-{id}"))
        .spawn()
        .unwrap();
    let floor_pid = floor.id();
    let feeder = feed(floor, entries);
    let pid = ours.id();
    std::thread::sleep(Duration::from_millis(100));
    let idle_rss = procstat::rss_kib(pid).unwrap_or(0);
    let (mut engine, mut its_ffmpeg, mut floor_ffmpeg) = (Seen::default(), Seen::default(), Seen::default());
    // Sampled until both end: the last samples before each ends are its totals.
    while ours.try_wait().unwrap().is_none() || !feeder.is_finished() {
        engine.sample(pid);
        // The engine restarts no ffmpeg here, so its one child is the encoder.
        for kid in procstat::children(pid) {
            its_ffmpeg.sample(kid);
        }
        floor_ffmpeg.sample(floor_pid);
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut floor = feeder.join().unwrap();
    assert!(floor.wait().unwrap().success(), "the floor's ffmpeg streamed");
    format!(
        "| {} | {:.2} % | {:.1} % | {:.1} % | {:+.1} % | {:.1} → {:.1} | {:.1} | {:.1} |",
        row.label,
        engine.percent(),
        its_ffmpeg.percent(),
        floor_ffmpeg.percent(),
        engine.percent() + its_ffmpeg.percent() - floor_ffmpeg.percent(),
        idle_rss as f64 / 1024.0,
        engine.mib(),
        its_ffmpeg.mib(),
        floor_ffmpeg.mib(),
    )
}

#[tokio::main]
async fn main() {
    let corpus = private::corpus();
    let (server, _dir) = private::icecast().await;
    let ffmpeg = Ffmpeg::locate().unwrap();
    let row = |label, format, corpus| Row {
        label,
        format,
        corpus,
    };
    let (webm_video, webm_audio, webkit) = (
        "webm-vp8-opus-250ms",
        "webm-opus-audio-250ms",
        "webkitgtk-mp4-aac-audio",
    );
    let rows = [
        row(
            "WebM VP8+Opus → WebM video (written by the engine)",
            MountFormat::WebmVideo,
            webm_video,
        ),
        row(
            "WebM Opus → WebM audio (written by the engine)",
            MountFormat::WebmAudio,
            webm_audio,
        ),
        row(
            "WebM Opus → Ogg Opus (written by the engine)",
            MountFormat::OggOpus,
            webm_audio,
        ),
        row("WebM Opus → Ogg Vorbis", MountFormat::OggVorbis, webm_audio),
        row("WebM Opus → MP3", MountFormat::Mp3, webm_audio),
        row("WebM Opus → AAC", MountFormat::Aac, webm_audio),
        row("WebKit MP4/AAC → MP3", MountFormat::Mp3, webkit),
        row(
            "WebKit MP4/AAC → WebM video (sound only: Opus)",
            MountFormat::WebmVideo,
            webkit,
        ),
    ];
    let mut table = String::from(
        "| input → mount | engine CPU | its ffmpeg CPU | floor ffmpeg CPU | engine + its ffmpeg − floor \
         | engine RSS before → live peak, MiB | its ffmpeg RSS, MiB | floor ffmpeg RSS, MiB |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        let line = run(&server, &ffmpeg, r, &corpus);
        println!("{line}");
        table.push_str(&line);
        table.push('\n');
    }
    report::write("cpu", false, &table);
}
