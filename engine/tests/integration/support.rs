//! A real Icecast for tests: Debian's icecast2 on 127.0.0.1 and a free port, its own config and
//! passwords in a temp dir, in its own process group, killed when the handle drops. Plus listeners,
//! ffprobe checks and the corpus.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icecream_engine::icecast;
use icecream_engine::net::Endpoint;
use icecream_engine::{Ffmpeg, MountFormat, Secret, Session, SessionOptions, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const SOURCE_PASSWORD_PREFIX: &str = "src-pw-";

pub struct Icecast {
    pub port: u16,
    pub source_password: String,
    pub admin_password: String,
    pub dir: tempfile::TempDir,
    child: Child,
}

#[derive(Clone, Debug, Default)]
pub struct IcecastOptions {
    /// Mounts that get a `<charset>`; Icecast otherwise assumes ISO-8859-1 for metadata.
    pub utf8_mounts: Vec<String>,
    pub source_timeout_secs: Option<u32>,
    pub max_sources: Option<u32>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ std::process::id() as u128);
    format!("{:016x}", h.finish())
}

impl Icecast {
    pub async fn start() -> Icecast {
        Icecast::start_with(IcecastOptions::default()).await
    }

    pub async fn start_with(opts: IcecastOptions) -> Icecast {
        // A port picked free can be taken by a parallel test before Icecast binds it: try again.
        for _ in 0..5 {
            if let Some(ice) = Icecast::try_start(&opts).await {
                return ice;
            }
        }
        panic!("icecast2 did not start; is the icecast2 package installed?");
    }

    async fn try_start(opts: &IcecastOptions) -> Option<Icecast> {
        let dir = tempfile::Builder::new()
            .prefix("icecream-icecast-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let source_password = format!("{SOURCE_PASSWORD_PREFIX}{}", random_token());
        let admin_password = format!("adm-{}", random_token());
        let mounts: String = opts
            .utf8_mounts
            .iter()
            .map(|m| format!("<mount><mount-name>{m}</mount-name><charset>UTF-8</charset></mount>"))
            .collect();
        let config = format!(
            r#"<icecast>
  <location>test</location><admin>test@localhost</admin>
  <limits>
    <clients>100</clients><sources>{sources}</sources><queue-size>1048576</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>{timeout}</source-timeout><burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>{source_password}</source-password>
    <admin-user>admin</admin-user><admin-password>{admin_password}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  {mounts}
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir><logdir>{dir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>"#,
            timeout = opts.source_timeout_secs.unwrap_or(10),
            sources = opts.max_sources.unwrap_or(20),
            dir = dir.path().display(),
        );
        let conf = dir.path().join("icecast.xml");
        std::fs::write(&conf, config).unwrap();
        let mut cmd;
        // Icecast refuses to run as root: drop to its own user, which must own the log dir.
        if unsafe { libc::geteuid() } == 0 {
            let status = Command::new("chown")
                .args(["-R", "icecast2", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(status.success());
            cmd = Command::new("setpriv");
            cmd.args([
                "--reuid=icecast2",
                "--regid=icecast",
                "--clear-groups",
                "--pdeathsig=KILL",
                "icecast2",
            ]);
        } else {
            cmd = Command::new("icecast2");
        }
        use std::os::unix::process::CommandExt;
        cmd.arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let child = cmd
            .spawn()
            .expect("icecast2 could not be started; install the icecast2 package");
        let mut ice = Icecast {
            port,
            source_password,
            admin_password,
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = ice.child.try_wait() {
                return None;
            }
            if icecast::fetch_status(&ice.endpoint()).await.is_ok() {
                return Some(ice);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Settings for this server, a given mount and format, with the right password.
    pub fn settings(&self, mount: &str, format: MountFormat) -> Settings {
        let mut s = Settings::default();
        s.server.host = "127.0.0.1".into();
        s.server.port = self.port as u32;
        s.server.mount = mount.into();
        s.server.password = Secret::new(self.source_password.clone());
        s.encoding.format = format;
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
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        // A failing test shows what the server said, which a CI log otherwise loses.
        if std::thread::panicking() {
            if let Ok(log) = std::fs::read_to_string(self.dir.path().join("error.log")) {
                // Status polling fills the log; what matters is the rest.
                let lines: Vec<&str> = log
                    .lines()
                    .filter(|l| !l.contains("Stats request") && !l.contains("xslt/"))
                    .collect();
                eprintln!("--- icecast error.log (last 60 lines) ---");
                for l in &lines[lines.len().saturating_sub(60)..] {
                    eprintln!("{l}");
                }
            }
        }
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// A listener on a mount, saving what it receives until the server ends the stream.
pub struct Listener {
    task: tokio::task::JoinHandle<Vec<u8>>,
}

impl Listener {
    pub async fn connect(ep: &Endpoint, mount: &str) -> Listener {
        let mut conn = icecream_engine::net::connect(ep)
            .await
            .expect("listener connects");
        let req = format!(
            "GET {mount} HTTP/1.0\r\nHost: {}\r\nIcy-MetaData: 0\r\n\r\n",
            ep.authority()
        );
        conn.write_all(req.as_bytes()).await.unwrap();
        let head = icecream_engine::net::read_head(&mut conn)
            .await
            .unwrap()
            .expect("listener gets an answer");
        assert_eq!(head.status, 200, "listener was refused: {head:?}");
        let task = tokio::spawn(async move {
            let mut body = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(90), conn.read_to_end(&mut body)).await;
            body
        });
        Listener { task }
    }

    /// Everything received, once the server has closed the stream.
    pub async fn finish(self) -> Vec<u8> {
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the server ends the listener's stream")
            .unwrap()
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
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
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

/// Child processes of `pid`, from /proc (each thread lists the children it spawned).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    tasks
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The children of `pid` once it has started one (up to 2.5 s).
pub async fn wait_for_children(pid: u32) -> Vec<u32> {
    for _ in 0..50 {
        let kids = children(pid);
        if !kids.is_empty() {
            return kids;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    vec![]
}
