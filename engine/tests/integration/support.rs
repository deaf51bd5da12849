//! A real Icecast for tests: Debian's icecast2 on 127.0.0.1 and a free port, its own config and
//! passwords in a temp dir, in its own process group, killed when the handle drops. Plus listeners,
//! ffprobe checks and the corpus.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use icecream_engine::icecast;
use icecream_engine::net::Endpoint;
use icecream_engine::{Ffmpeg, LocalIcecast, LocalOptions, MountFormat, Session, SessionOptions, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod harbor;
mod listener;
pub mod pulse;
pub mod sound;
pub use harbor::Harbor;
pub use listener::Listener;
pub use pulse::Pulse;
pub use sound::lavfi;

/// Every source password handed out in this test process, for the checks that logs hold none.
pub static PASSWORDS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// A private Icecast in a temp dir, for one test.
pub struct Icecast {
    pub port: u16,
    pub source_password: String,
    pub admin_password: String,
    pub server: LocalIcecast,
    pub dir: tempfile::TempDir,
}

pub type IcecastOptions = LocalOptions;

impl Icecast {
    pub async fn start() -> Icecast {
        Icecast::start_with(IcecastOptions::default()).await
    }

    pub async fn start_with(opts: IcecastOptions) -> Icecast {
        let dir = tempfile::Builder::new()
            .prefix("icecream-icecast-")
            .tempdir()
            .unwrap();
        let server = LocalIcecast::start(dir.path(), &opts)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        PASSWORDS
            .lock()
            .unwrap()
            .push(server.source_password.expose().to_string());
        Icecast {
            port: server.port,
            source_password: server.source_password.expose().to_string(),
            admin_password: server.admin_password.expose().to_string(),
            server,
            dir,
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        self.server.endpoint()
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Settings for this server, a given mount and format, with the right password.
    pub fn settings(&self, mount: &str, format: MountFormat) -> Settings {
        let mut s = self.server.settings(mount, format);
        s.stream.name = "Icecream test".into();
        s.stream.description = "A test stream".into();
        s.stream.genre = "Testing".into();
        s
    }

    pub async fn status(&self) -> serde_json::Value {
        icecast::fetch_status(&self.endpoint())
            .await
            .expect("status-json answers")
    }

    pub async fn mount(&self, mount: &str) -> Option<icecast::MountStatus> {
        icecast::mount_status(&self.status().await, mount)
    }

    /// Waits until the mount is listed (or not), up to a few seconds.
    pub async fn wait_mount(&self, mount: &str, listed: bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(8);
        while Instant::now() < deadline {
            if self.mount(mount).await.is_some() == listed {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn error_log(&self) -> String {
        self.server.error_log()
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        // A failing test shows what the server said, which a CI log otherwise loses.
        if std::thread::panicking() {
            eprintln!("--- icecast error.log ---\n{}", self.server.error_log_tail(60));
        }
    }
}

pub fn corpus(name: &str) -> PathBuf {
    // The run-time variable first: a shared target dir can hold a binary built from another clone.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.join("../../shared/corpus").join(name)
}

/// The chunks of one corpus recording, in order.
pub fn corpus_chunks(name: &str) -> Vec<Vec<u8>> {
    icecream_engine::input::chunk_folder(&corpus(name))
        .expect("corpus folder")
        .iter()
        .map(|e| std::fs::read(&e.path).unwrap())
        .collect()
}

/// The video corpus with a keyframe every 0.6 s, as the app's WebCodecs path makes its video
/// (Chromium's recorder puts one every 5 s, and a video listener can only start at one), cut
/// into 16 KiB chunks: about 250 ms of it each. Made once per test run.
pub fn keyed_video_chunks() -> Vec<Vec<u8>> {
    keyed_video().chunks(16 * 1024).map(<[u8]>::to_vec).collect()
}

/// The video corpus with a keyframe every 0.6 s, whole.
pub fn keyed_video() -> &'static [u8] {
    static KEYED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEYED.get_or_init(|| keyed::with_app_keyframes(&corpus_chunks("webm-vp8-opus-250ms").concat()))
}

pub fn ffmpeg() -> Ffmpeg {
    Ffmpeg::locate().expect("ffmpeg is installed")
}

pub fn options() -> SessionOptions {
    install_log_capture();
    let mut o = SessionOptions::new(ffmpeg());
    o.listener_poll = Duration::from_millis(500);
    o
}

/// Pushes chunks one by one until the first encoded bytes have reached the server (state Live),
/// so a listener can join at the very start. Returns how many chunks were pushed.
pub async fn push_until_live(session: &Session, chunks: &[Vec<u8>]) -> usize {
    let mut rx = session.status();
    for (i, c) in chunks.iter().enumerate() {
        session.push(c.clone()).await.expect("session accepts chunks");
        let waited = tokio::time::timeout(
            Duration::from_millis(300),
            rx.wait_for(|s| s.state != icecream_engine::State::Connecting),
        )
        .await;
        if let Ok(state) = waited {
            let state = state.unwrap().state.clone();
            assert_eq!(state, icecream_engine::State::Live, "session did not go live");
            return i + 1;
        }
    }
    panic!("the session never went live");
}

/// Keeps the stream flowing in the background at the recorder's pace (a chunk every 250 ms) until
/// the chunks run out or the session stops taking them.
pub fn feed_in_background(session: &Session, chunks: &[Vec<u8>]) -> tokio::task::JoinHandle<()> {
    let (feeder, rest) = (session.sender(), chunks.to_vec());
    tokio::spawn(async move {
        for c in rest {
            if feeder.send(c).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// Writes bytes to a file in `dir` and returns its path, for ffprobe.
pub fn save(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// ffprobe's CSV answer for `entries` (of the streams picked by `select`, if any).
fn ffprobe_csv(file: &Path, select: Option<&str>, entries: &str) -> String {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error"]);
    if let Some(sel) = select {
        cmd.args(["-select_streams", sel]);
    }
    let out = cmd
        .args(["-show_entries", entries, "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The codec names ffprobe finds, in stream order.
pub fn codecs(file: &Path) -> Vec<String> {
    ffprobe_csv(file, None, "stream=codec_name")
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Decodes the whole file; returns what ffmpeg says at `-v error` (empty when all is well).
pub fn decode_errors(file: &Path) -> String {
    decode_errors_of(file, "0")
}

/// Decodes the streams `map` picks (e.g. "0:a"), as `decode_errors` does.
pub fn decode_errors_of(file: &Path, map: &str) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", map, "-f", "null", "-"])
        .output()
        .unwrap();
    let mut s = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        s.push_str(&format!("\n(ffmpeg exited with {})", out.status));
    }
    s
}

/// End time (pts + duration, seconds) of the last packet of the first audio stream.
pub fn audio_end(file: &Path) -> f64 {
    ffprobe_csv(file, Some("a:0"), "packet=pts_time,duration_time")
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            let pts: f64 = it.next()?.parse().ok()?;
            let dur: f64 = it.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
            Some(pts + dur)
        })
        .fold(0.0, f64::max)
}

/// Where the first audio stream's packets do not follow on from each other (a packet missing, or
/// time jumping): (the end of one packet, the start of the next), in seconds.
pub fn audio_gaps(file: &Path) -> Vec<(f64, f64)> {
    let packets: Vec<(f64, f64)> = ffprobe_csv(file, Some("a:0"), "packet=pts_time,duration_time")
        .lines()
        .filter_map(|l| {
            let mut it = l.split(',');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect();
    assert!(
        packets.len() > 10,
        "ffprobe found the audio packets of {}",
        file.display()
    );
    packets
        .windows(2)
        .map(|w| (w[0].0 + w[0].1, w[1].0))
        .filter(|(end, next)| (next - end).abs() > 0.002)
        .collect()
}

/// Pushes all chunks, without pacing.
pub async fn push_all(session: &Session, chunks: &[Vec<u8>]) {
    for c in chunks {
        session.push(c.clone()).await.expect("session accepts chunks");
    }
}

/// Every log record of this test binary, so tests can check that no password was ever logged.
pub fn captured_logs() -> String {
    install_log_capture();
    LOGS.lock().unwrap().clone()
}

static LOGS: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = format!("{} {}: {}\n", record.level(), record.target(), record.args());
        LOGS.lock().unwrap().push_str(&line);
    }
    fn flush(&self) {}
}

/// Called by every helper that starts a session, so all of them log into the capture.
pub fn install_log_capture() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        log::set_boxed_logger(Box::new(Capture)).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

/// CLI flags that point at this server and a mount.
pub fn server_args(ice: &Icecast, mount: &str) -> Vec<String> {
    [
        "--host",
        "127.0.0.1",
        "--port",
        &ice.port.to_string(),
        "--mount",
        mount,
    ]
    .map(String::from)
    .to_vec()
}

/// The icecream CLI binary built with these tests.
pub fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_icecream"))
}

pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[path = "../../../bench/keyed.rs"]
mod keyed;
// Uses the looping only.
#[allow(dead_code)]
#[path = "../../../bench/looped.rs"]
mod looped;

/// A WebM recording played as long as a test needs (looped behind its one header, its clock
/// going on), as a recorder hands it over: (when, chunk) every 250 ms, up to `until_ms`.
pub fn looped_chunks(webm: &[u8], until_ms: u64) -> Vec<(u64, Vec<u8>)> {
    looped::Looped::from_bytes(webm).timeslices(250, until_ms)
}

/// A broadcast of `webm` (looped to 40 s, in 250 ms chunks fed at their pace) to `mount`, once
/// it is live; the feeding task is the second half.
pub async fn live_broadcast(
    ice: &Icecast,
    mount: &str,
    format: MountFormat,
    webm: &[u8],
) -> (Session, tokio::task::JoinHandle<()>) {
    let session = Session::start(ice.settings(mount, format), options()).unwrap();
    let feeding = feed_on_time(&session, looped_chunks(webm, 40_000));
    let mut rx = session.status();
    tokio::time::timeout(
        Duration::from_secs(15),
        rx.wait_for(|s| s.state == icecream_engine::State::Live),
    )
    .await
    .expect("the broadcast goes live")
    .unwrap();
    (session, feeding)
}

/// Pushes each chunk at its time (ms from now), as a live recorder does, until they run out or
/// the session stops taking them.
pub fn feed_on_time(session: &Session, chunks: Vec<(u64, Vec<u8>)>) -> tokio::task::JoinHandle<()> {
    let feeder = session.sender();
    let start = tokio::time::Instant::now();
    tokio::spawn(async move {
        for (due, c) in chunks {
            tokio::time::sleep_until(start + Duration::from_millis(due)).await;
            if feeder.send(c).await.is_err() {
                break;
            }
        }
    })
}
#[path = "../../../bench/procstat.rs"]
mod procstat;
pub use procstat::children;

/// The children of `pid` once it has started one and each has become its program (up to 2.5 s).
/// A child caught in the middle of its exec shows an empty command line (the kernel has swapped
/// in the new program's memory but not yet laid out its arguments): a CI run read one so.
pub async fn wait_for_children(pid: u32) -> Vec<u32> {
    for _ in 0..50 {
        let kids = children(pid);
        if !kids.is_empty() && kids.iter().all(|k| !cmdline(*k).is_empty()) {
            return kids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    children(pid)
}

impl Icecast {
    /// How many times a source asked for `mount` (from the server's access log, which gets a line
    /// when each connection ends).
    pub fn source_attempts(&self, mount: &str) -> usize {
        let log = std::fs::read_to_string(self.server.dir().join("access.log")).unwrap_or_default();
        let put = format!("\"PUT {mount} ");
        let source = format!("\"SOURCE {mount} ");
        log.lines()
            .filter(|l| l.contains(&put) || l.contains(&source))
            .count()
    }
}

pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: plain kill(2) on a pid this test started or owns.
    assert_eq!(
        unsafe { libc::kill(pid as libc::pid_t, sig) },
        0,
        "signal {sig} to {pid}"
    );
}

/// None of these processes is left, not even as a zombie waiting to be reaped.
pub fn assert_reaped(pids: &[u32]) {
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // "pid (comm) state ppid …": a reused pid belongs to someone else's process.
        let ours = stat.contains("(ffmpeg)")
            && stat
                .split(") ")
                .nth(1)
                .is_some_and(|rest| rest.split(' ').nth(1) == Some(&std::process::id().to_string()));
        assert!(!ours, "ffmpeg {pid} is still there: {stat}");
    }
}

/// The ffmpeg pid once the session runs one that is not `old`.
pub async fn wait_new_ffmpeg(session: &Session, old: Option<u32>) -> u32 {
    for _ in 0..200 {
        if let Some(p) = session.ffmpeg_pid().filter(|p| Some(*p) != old) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new ffmpeg was started");
}

/// A TCP relay between the engine and the server that can "pull the cable": the engine's side is
/// cut while the server's side stays open and silent, as when a network drops without a goodbye.
pub struct Cable {
    pub port: u16,
    cut: tokio::sync::watch::Sender<u32>,
    task: tokio::task::JoinHandle<()>,
}

impl Cable {
    pub async fn to(server_port: u16) -> Cable {
        Cable::with_rate(server_port, None).await
    }

    /// A network that carries at most `bytes_per_sec` towards the server.
    pub async fn throttled(server_port: u16, bytes_per_sec: usize) -> Cable {
        Cable::with_rate(server_port, Some(bytes_per_sec)).await
    }

    async fn with_rate(server_port: u16, rate: Option<usize>) -> Cable {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small receive window, so that only the sender's buffer hides the slowness.
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(16).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, cuts) = tokio::sync::watch::channel(0u32);
        let task = tokio::spawn(async move {
            let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            while let Ok((client, _)) = listener.accept().await {
                let mut cuts = cuts.clone();
                let held = held.clone();
                let seen = *cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", server_port)).await else {
                        return;
                    };
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 1024];
                        while let Ok(n @ 1..) = client_rx.read(&mut buf).await {
                            if server_tx.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            if let Some(rate) = rate {
                                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                            }
                        }
                        let _ = server_tx.shutdown().await;
                    };
                    let down = tokio::io::copy(&mut server_rx, &mut client_tx);
                    tokio::select! {
                        _ = async { tokio::join!(up, down) } => {}
                        _ = cuts.wait_for(|n| *n != seen) => {
                            // The server's side is kept open and never written to again.
                            held.lock().unwrap().push((server_rx, server_tx));
                        }
                    }
                });
            }
        });
        Cable { port, cut, task }
    }

    /// Cuts every connection open now; new ones go through.
    pub fn pull(&self) {
        self.cut.send_modify(|n| *n += 1);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Rust's debug forms, which must never reach a person.
const DEBUG_FORMS: [&str; 5] = ["Other(", "Error {", "Kind(", "OtherError", "Some("];

/// Fails when a sentence meant for a person carries a Rust debug form.
pub fn assert_plain(sentence: &str) {
    for form in DEBUG_FORMS {
        assert!(
            !sentence.contains(form),
            "a debug form reached a person: {sentence}"
        );
    }
}

/// Deterministic noise (xorshift), for bytes that are no format at all.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
