//! CPU and memory while live, per mount format: the `icecream` CLI (the engine, without a window)
//! streams each corpus recording at its real pace to a private Icecast; its own CPU and ffmpeg's
//! are read from /proc, per second of media, and its RSS before going live and at its highest while
//! live. Run by hand:
//!
//!     cargo bench -p icecream-engine --bench cpu

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use icecream_engine::{LocalIcecast, LocalOptions};

#[allow(dead_code)]
mod procstat;

/// (CPU seconds, RSS KiB, children) of one process, from /proc.
fn sample(pid: u32) -> Option<(f64, u64, Vec<u32>)> {
    Some((
        procstat::cpu_seconds(pid)?,
        procstat::rss_kib(pid)?,
        procstat::children(pid),
    ))
}

struct Row {
    label: &'static str,
    format: &'static str,
    corpus: &'static str,
}

fn run(server: &LocalIcecast, row: &Row, corpus: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_icecream"))
        .args([
            "stream",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port.to_string(),
        ])
        .args(["--mount", &format!("/cpu-{}", row.format), "--format", row.format])
        .arg("--input")
        .arg(corpus.join(row.corpus))
        .env("ICECREAM_PASSWORD", server.source_password.expose())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(100));
    let idle_rss = sample(pid).map_or(0, |s| s.1);
    let (mut cpu, mut peak_rss, mut ffmpeg_cpu) = (0.0, 0, 0.0);
    // Sampled until the CLI exits: the last samples before it ends are the totals.
    while child.try_wait().unwrap().is_none() {
        if let Some((c, rss, kids)) = sample(pid) {
            cpu = c;
            peak_rss = peak_rss.max(rss);
            let f: f64 = kids.iter().filter_map(|k| sample(*k)).map(|s| s.0).sum();
            if f > 0.0 {
                ffmpeg_cpu = f;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // The recordings are 20 s long.
    let media = 20.0;
    format!(
        "| {} | {:.2} % | {:.1} % | {:.1} | {:.1} |",
        row.label,
        100.0 * cpu / media,
        100.0 * ffmpeg_cpu / media,
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    )
}

#[tokio::main]
async fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    let row = |label, format, corpus| Row {
        label,
        format,
        corpus,
    };
    let rows = [
        row(
            "WebM VP8+Opus → WebM video (remux)",
            "webm-video",
            "webm-vp8-opus-250ms",
        ),
        row(
            "WebM Opus → WebM audio (remux)",
            "webm-audio",
            "webm-opus-audio-250ms",
        ),
        row(
            "WebM Opus → Ogg Opus (remux)",
            "ogg-opus",
            "webm-opus-audio-250ms",
        ),
        row("WebM Opus → Ogg Vorbis", "ogg-vorbis", "webm-opus-audio-250ms"),
        row("WebM Opus → MP3", "mp3", "webm-opus-audio-250ms"),
        row("WebM Opus → AAC", "aac", "webm-opus-audio-250ms"),
        row("WebKit MP4/AAC → MP3", "mp3", "webkitgtk-mp4-aac-audio"),
        row(
            "WebKit MP4/AAC → WebM video (VP8 + Opus)",
            "webm-video",
            "webkitgtk-mp4-aac-audio",
        ),
    ];
    let mut table = String::from(
        "| input → mount | engine CPU | ffmpeg CPU | engine RSS before live, MiB | engine RSS live (peak), MiB |\n\
         |---|---|---|---|---|\n",
    );
    for r in &rows {
        let line = run(&server, r, &corpus);
        println!("{line}");
        table.push_str(&line);
        table.push('\n');
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("cpu.md"), table).unwrap();
}
