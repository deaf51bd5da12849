//! What a second destination costs: the `icecream` CLI streams the WebM Opus recording at the
//! recorder's pace to one, two and three destinations on a private Icecast, and /proc says the CPU
//! of the engine and of its ffmpegs per second of media, and their peak RSS. A second destination
//! of the same format adds a sender and nothing else (target: under 0.1 % of a core and 1 MiB); one
//! of a new transcoded format adds its ffmpeg. Each case runs eight times: CPU averaged, RSS
//! the highest peak. Run by hand (it writes its table into
//! bench/RESULTS.md, with the date, the machine and the versions):
//!
//!     cargo bench -p icecream-engine --bench destinations

// Linux only: it starts Debian's icecast2 and reads CPU and memory from /proc.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

mod private;
#[allow(dead_code)]
mod procstat;
mod report;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use icecream_engine::media::format::MountFormat;
use icecream_engine::settings::Destination;
use icecream_engine::{LocalIcecast, Settings};

/// The corpus recording is 20 s long.
const MEDIA_SECONDS: f64 = 20.0;
/// Each case is run this often and its CPU averaged: one run's CPU time is counted in 10 ms
/// ticks, 0.05 % of a core over 20 s, as coarse as the 0.1 % target.
const RUNS: usize = 8;

/// CPU seconds and peak RSS (KiB) of the engine and of all its ffmpegs together.
#[derive(Default, Debug)]
struct Cost {
    engine_cpu: f64,
    engine_rss: u64,
    ffmpeg_cpu: f64,
    ffmpeg_rss: u64,
    ffmpegs: usize,
}

impl Cost {
    fn cpu(&self) -> f64 {
        100.0 * (self.engine_cpu + self.ffmpeg_cpu) / MEDIA_SECONDS
    }

    /// The CPU of `runs` averaged, and their highest peak RSS.
    fn of(runs: &[Cost]) -> Cost {
        let n = runs.len() as f64;
        Cost {
            engine_cpu: runs.iter().map(|c| c.engine_cpu).sum::<f64>() / n,
            engine_rss: runs.iter().map(|c| c.engine_rss).max().unwrap_or(0),
            ffmpeg_cpu: runs.iter().map(|c| c.ffmpeg_cpu).sum::<f64>() / n,
            ffmpeg_rss: runs.iter().map(|c| c.ffmpeg_rss).max().unwrap_or(0),
            ffmpegs: runs.iter().map(|c| c.ffmpegs).max().unwrap_or(0),
        }
    }
}

fn run(server: &LocalIcecast, corpus: &Path, formats: &[MountFormat], n: usize) -> Cost {
    let dir = tempfile::tempdir().unwrap();
    let destinations: Vec<Destination> = (formats.iter().enumerate())
        .map(|(i, f)| {
            let mut d = server.destination(&format!("/d{n}-{i}.{}", f.extension()), *f);
            d.name = format!("Destination {}", i + 1);
            d
        })
        .collect();
    let settings = Settings {
        destinations,
        ..Settings::default()
    };
    let file = dir.path().join("settings.json");
    settings.save(&file).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_icecream"));
    cmd.args(["stream", "--settings"])
        .arg(&file)
        .arg("--input")
        .arg(corpus.join("webm-opus-audio-250ms"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for i in 0..formats.len() {
        let var = match i {
            0 => "ICECREAM_PASSWORD".to_string(),
            i => format!("ICECREAM_PASSWORD_{}", i + 1),
        };
        cmd.env(var, server.source_password.expose());
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut cost = Cost::default();
    let mut kids: HashMap<u32, (f64, u64)> = HashMap::new();
    while child.try_wait().unwrap().is_none() {
        if let (Some(cpu), Some(rss)) = (procstat::cpu_seconds(pid), procstat::rss_kib(pid)) {
            cost.engine_cpu = cost.engine_cpu.max(cpu);
            cost.engine_rss = cost.engine_rss.max(rss);
        }
        for kid in procstat::children(pid) {
            if let (Some(cpu), Some(rss)) = (procstat::cpu_seconds(kid), procstat::rss_kib(kid)) {
                let seen = kids.entry(kid).or_default();
                *seen = (seen.0.max(cpu), seen.1.max(rss));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        child.wait().unwrap().success(),
        "the CLI streamed to every destination"
    );
    cost.ffmpegs = kids.len();
    // An empty sum is -0.0, which would print as "-0.00 %".
    cost.ffmpeg_cpu = kids.values().map(|k| k.0).sum::<f64>() + 0.0;
    cost.ffmpeg_rss = kids.values().map(|k| k.1).sum();
    cost
}

#[tokio::main]
async fn main() {
    let corpus = private::corpus();
    let (server, _dir) = private::icecast().await;
    use MountFormat::{Mp3, OggVorbis, WebmAudio};
    let cases: [(&str, Vec<MountFormat>); 6] = [
        ("WebM audio", vec![WebmAudio]),
        ("WebM audio × 2", vec![WebmAudio, WebmAudio]),
        ("WebM audio × 2 + MP3", vec![WebmAudio, WebmAudio, Mp3]),
        ("MP3", vec![Mp3]),
        ("MP3 × 2", vec![Mp3, Mp3]),
        ("MP3 × 2 + Ogg Vorbis", vec![Mp3, Mp3, OggVorbis]),
    ];
    let mut table = String::from(
        "| destinations | ffmpegs | engine CPU | ffmpeg CPU | all CPU | added by the last | of it the engine \
         | engine RSS, MiB | added, MiB | ffmpeg RSS, MiB |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut before: Option<Cost> = None;
    for (n, (label, formats)) in cases.iter().enumerate() {
        let runs: Vec<Cost> = (0..RUNS)
            .map(|r| run(&server, &corpus, formats, n * RUNS + r))
            .collect();
        let cost = Cost::of(&runs);
        // Each case adds one destination to the one before it, except where a new group starts.
        let prev = before.as_ref().filter(|_| formats.len() > 1);
        let added = prev.map_or("–".to_string(), |p| {
            format!("{:+.2} % of a core", cost.cpu() - p.cpu())
        });
        // The engine's part alone: with one ffmpeg for both, ffmpeg does the same work either way
        // and its difference is run-to-run spread.
        let engine_added = prev.map_or("–".to_string(), |p| {
            format!(
                "{:+.2} %",
                100.0 * (cost.engine_cpu - p.engine_cpu) / MEDIA_SECONDS
            )
        });
        let added_rss = prev.map_or("–".to_string(), |p| {
            format!(
                "{:+.2}",
                (cost.engine_rss + cost.ffmpeg_rss) as f64 / 1024.0
                    - (p.engine_rss + p.ffmpeg_rss) as f64 / 1024.0
            )
        });
        let line = format!(
            "| {label} | {} | {:.2} % | {:.2} % | {:.2} % | {added} | {engine_added} | {:.1} | {added_rss} | {:.1} |",
            cost.ffmpegs,
            100.0 * cost.engine_cpu / MEDIA_SECONDS,
            100.0 * cost.ffmpeg_cpu / MEDIA_SECONDS,
            cost.cpu(),
            cost.engine_rss as f64 / 1024.0,
            cost.ffmpeg_rss as f64 / 1024.0,
        );
        println!("{line}");
        table.push_str(&line);
        table.push('\n');
        before = Some(cost);
    }
    report::write("destinations", false, &table);
}
