//! Capture + encode in the real webview, per path: frames achieved, per-frame copy and encode
//! time, and the CPU of the webview process and of ffmpeg, while live to a private Icecast.
//! Run by hand (each writes its table into bench/RESULTS.md with the machine, date and versions):
//!
//!     cargo bench --bench capture
//!     cargo bench --bench capture -- drift   # 30 minutes live (ICECREAM_DRIFT_SECS), A/V drift
//!     cargo bench --bench capture -- drift-native   # the same with the engine's own sound
//!
//! The camera and microphone are WebKitGTK's mock devices under Xvfb; with the engine's own sound,
//! the microphone is a PulseAudio null sink's monitor (started by the bench, as the tests do).

// Linux only: it starts the release app under Xvfb with WebKitGTK's mock camera and reads /proc.
// Elsewhere it is left out (no_main), so that Windows and macOS checks of every target pass.
#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[allow(dead_code)]
#[path = "../tests/e2e/desktop.rs"]
mod desktop;
#[allow(dead_code)]
#[path = "../tests/e2e/packets.rs"]
mod packets;
#[allow(dead_code)]
mod procstat;
#[allow(dead_code)]
#[path = "../engine/tests/integration/support/pulse.rs"]
mod pulse;
mod report;

use std::time::{Duration, Instant};

use desktop::{App, Home, Screen};
use icecream_engine::{LocalIcecast, LocalOptions};

const SECONDS: u64 = 20;
/// The app's own process (not the webview's, not ffmpeg).
const APP: &str = "target/release/icecream-desktop";

/// Resident memory (MiB) of every process whose command line contains `pattern`.
fn rss_mib(pattern: &str) -> f64 {
    let kib: u64 = procstat::matching(pattern)
        .into_iter()
        .filter_map(procstat::rss_kib)
        .sum();
    kib as f64 / 1024.0
}

/// CPU seconds (user + system) of every process whose command line contains `pattern`.
fn cpu_seconds(pattern: &str) -> f64 {
    procstat::matching(pattern)
        .into_iter()
        .filter_map(procstat::cpu_seconds)
        .sum()
}

struct Case {
    label: &'static str,
    format: &'static str,
    path: &'static str,
    size: (u32, u32),
    /// The engine captures the sound (a PulseAudio source "mic"); the page sends pictures alone.
    native: bool,
}

/// One drift sample: seconds live, how far the sound runs ahead of the pictures, and how much that
/// has changed since the first sample (ms).
struct Drift {
    at: f64,
    ahead_ms: f64,
    change_ms: f64,
}

impl Drift {
    fn row(&self) -> String {
        format!(
            "| {:>5.0} | {:>7.1} | {:>7.1} |",
            self.at, self.ahead_ms, self.change_ms
        )
    }
}

/// Goes live for `secs` and returns the case's table row; a long run (drift) also returns a
/// sample every 30 s of how far the sound runs ahead of the pictures.
async fn run(app: &App, ice: &LocalIcecast, case: &Case, secs: u64) -> (String, Vec<Drift>) {
    let script = r#"
const [host, port, password, format, width, height, path, native, done] = arguments;
const invoke = window.__TAURI__.core.invoke;
(async () => {
  const view = await invoke('load_settings');
  const s = view.settings;
  Object.assign(s.destinations[0].server, { host, port, mount: '/bench', tls: false });
  s.destinations[0].format = format;
  Object.assign(s.encoding, { width, height, fps: 30 });
  if (native) s.sound_input = 'mic';
  await invoke('save_settings', { settings: s, passwords: [password] });
  localStorage.setItem('capturePath', path);
  localStorage.setItem('audioOnly', format === 'webm-video' ? '0' : '1');
  done('ok');
})().catch((e) => done(String(e && e.message || e)));
"#;
    let args = vec![
        "127.0.0.1".into(),
        ice.port.into(),
        ice.source_password.expose().into(),
        case.format.into(),
        case.size.0.into(),
        case.size.1.into(),
        case.path.into(),
        case.native.into(),
    ];
    let r = app.client.execute_async(script, args).await.unwrap();
    assert_eq!(r.as_str(), Some("ok"), "{r}");
    // Reload so the page opens the camera at the new size, then go live.
    app.client.refresh().await.unwrap();
    app.wait_self_tested().await;
    let idle_rss = rss_mib(APP);
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    let (web0, ff0, t0) = (
        cpu_seconds("WebKitWebProcess"),
        cpu_seconds("pipe:1"),
        Instant::now(),
    );
    let stats_now = || async {
        app.client
            .execute(
                "return window.icecreamCaptureStats ? window.icecreamCaptureStats() : null",
                vec![],
            )
            .await
            .unwrap()
    };
    // With the engine's sound: how far the card's clock has moved from the computer's, which the
    // pictures' times follow (seconds, as the page's own figure is).
    let sound_clock = || async {
        let s = app
            .client
            .execute(
                "return window.icecreamSoundStatus ? window.icecreamSoundStatus() : null",
                vec![],
            )
            .await
            .unwrap();
        s["drift_ms"].as_f64().map(|ms| ms / 1000.0)
    };
    // Every 30 s (once, in a short case): how far the sound's clock has moved from the pictures'.
    let mut first_ahead = None;
    let mut drift = vec![];
    while t0.elapsed() < Duration::from_secs(secs) {
        let step = Duration::from_secs(secs)
            .saturating_sub(t0.elapsed())
            .min(Duration::from_secs(30));
        tokio::time::sleep(step).await;
        let ahead = match case.native {
            true => sound_clock().await,
            false => stats_now().await["audioAhead"].as_f64(),
        };
        if let Some(ahead) = ahead {
            let first = *first_ahead.get_or_insert(ahead);
            if secs > SECONDS {
                let sample = Drift {
                    at: t0.elapsed().as_secs_f64(),
                    ahead_ms: ahead * 1000.0,
                    change_ms: (ahead - first) * 1000.0,
                };
                println!("{}", sample.row());
                drift.push(sample);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let live_rss = rss_mib(APP);
    let (web, ff) = (
        cpu_seconds("WebKitWebProcess") - web0,
        cpu_seconds("pipe:1") - ff0,
    );
    let stats = stats_now().await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    let frames = stats["frames"].as_f64().unwrap_or(0.0);
    let per = |key: &str| {
        if frames > 0.0 {
            stats[key].as_f64().unwrap() / frames
        } else {
            0.0
        }
    };
    let (fps, copy_encode) = if case.path == "webcodecs" && case.format == "webm-video" {
        (
            format!(
                "{}x{} {:.1} fps",
                stats["width"],
                stats["height"],
                frames / stats["seconds"].as_f64().unwrap()
            ),
            format!("{:.1} / {:.1} ms", per("copyMs"), per("encodeMs")),
        )
    } else {
        ("audio only".to_string(), "—".to_string())
    };
    let row = format!(
        "| {} | {fps} | {copy_encode} | {:.0} % | {:.1} % | {idle_rss:.0} → {live_rss:.0} MiB |",
        case.label,
        100.0 * web / wall,
        100.0 * ff / wall
    );
    println!("{row}");
    (row, drift)
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let ice = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    let screen = Screen::start();
    let home = Home::new();
    let native = std::env::args().any(|a| a == "drift-native");
    let pulse = native.then(pulse::Pulse::start);
    let env = pulse.as_ref().map(pulse::Pulse::env).unwrap_or_default();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = App::launch_with(&screen, &home, &env).await;
    println!("{SECONDS} s live per case; CPU in % of one core");
    let case = |label, format, path, size| Case {
        label,
        format,
        path,
        size,
        native: false,
    };
    let cases = [
        case("WebCodecs VP8+Opus → WebM", "webm-video", "webcodecs", (640, 480)),
        case(
            "WebCodecs VP8+Opus → WebM",
            "webm-video",
            "webcodecs",
            (1280, 720),
        ),
        case("WebCodecs Opus → MP3", "mp3", "webcodecs", (640, 480)),
        case("MediaRecorder AAC/fMP4 → MP3", "mp3", "recorder", (640, 480)),
    ];
    let long = std::env::args().any(|a| a == "drift") || native;
    if long {
        // A long broadcast through the WebCodecs path: the sound's and the pictures' clocks.
        let secs = std::env::var("ICECREAM_DRIFT_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1800);
        let case = Case {
            label: "WebCodecs VP8 + the engine's sound → WebM",
            native,
            ..case("WebCodecs VP8+Opus → WebM", "webm-video", "webcodecs", (640, 480))
        };
        let (row, drift) = run(&app, &ice, &case, secs).await;
        let (low, high) = (drift.iter()).fold((0.0f64, 0.0f64), |(l, h), d| {
            (l.min(d.change_ms), h.max(d.change_ms))
        });
        let rows: Vec<String> = drift.iter().map(Drift::row).collect();
        let (what, recorded) = match native {
            true => (
                "the sound card's clock against the computer's, ms (the pictures' times follow it)",
                recorded_pictures(&home),
            ),
            false => ("sound ahead of pictures, ms", String::new()),
        };
        let table = format!(
            "| s live | {what} | change since the start, ms |\n|---|---|---|\n{}\n\n\
             Every 5 minutes shown. Over all {} samples the change stays between {low:+.0} and \
             {high:+.0} ms.{recorded} The same run:\n\n{HEAD}{row}\n",
            report::every(&rows, 10).join("\n"),
            drift.len(),
        );
        report::write(
            if native {
                "capture-drift-native"
            } else {
                "capture-drift"
            },
            true,
            &table,
        );
    } else {
        let mut rows = vec![];
        for case in &cases {
            rows.push(run(&app, &ice, case, SECONDS).await.0);
        }
        report::write("capture", true, &format!("{HEAD}{}", rows.join("\n")));
    }
    app.quit().await;
}

/// The capture table's head.
const HEAD: &str = "| path → mount | frames | per frame: copy / hand to encoder | webview CPU | ffmpeg CPU \
                    | app RSS before → live |\n|---|---|---|---|---|---|\n";

/// What the broadcast's recording (picture beside the engine's sound) holds, in a sentence.
fn recorded_pictures(home: &Home) -> String {
    let dir = home.dir.path().join("Videos/Icecream");
    let Some(file) = std::fs::read_dir(&dir)
        .ok()
        .and_then(|d| d.flatten().map(|e| e.path()).max())
    else {
        return format!(" No recording was found in {}.", dir.display());
    };
    let p = packets::Packets::of(&file);
    let pictures: Vec<f64> = p.times(0).collect();
    let sound: Vec<f64> = p.times(1).collect();
    let widest = pictures.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let (p0, p1, s0, s1) = (
        pictures[0],
        pictures[pictures.len() - 1],
        sound[0],
        sound[sound.len() - 1],
    );
    format!(
        " The recording ({}): {} pictures from {p0:.3} to {p1:.3} s (the widest gap {:.0} ms), sound \
         from {s0:.3} to {s1:.3} s: both start together and the last picture is {:.0} ms from the \
         last sound.",
        p.codecs.join(" + "),
        pictures.len(),
        widest * 1000.0,
        (s1 - p1) * 1000.0
    )
}
