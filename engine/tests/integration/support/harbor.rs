//! A real Liquidsoap `input.harbor` for tests: Debian's liquidsoap (2.1.x) on 127.0.0.1 and a free
//! port, one mount, its script and log in a temp dir, in its own process group, killed when the
//! handle drops. It is the other kind of server broadcasters stream to: it takes Icecast source
//! logins but has no status page and answers in its own way.
//!
//! What the harbor decodes is written to a raw PCM file (44.1 kHz, stereo, s16le) that is appended
//! to, so the file holds all of it even when the harbor stops and restarts its output (it does when
//! its buffer runs dry). Its length is how much audio arrived.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use icecream_engine::net::Endpoint;
use icecream_engine::settings::Destination;
use icecream_engine::{MountFormat, Secret, Settings};

/// Bytes of one second of what the harbor writes: 44100 frames of 2 channels of 2 bytes.
const PCM_BYTES_PER_SEC: f64 = 44_100.0 * 2.0 * 2.0;

pub struct Harbor {
    pub port: u16,
    /// The mount, with its leading slash.
    pub mount: String,
    pub password: String,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Harbor {
    /// Starts a harbor that takes the source "source" with a random password on `mount`.
    pub async fn start(mount: &str) -> Harbor {
        let dir = tempfile::Builder::new()
            .prefix("icecream-harbor-")
            .tempdir()
            .unwrap();
        let password = icecream_engine::icecast::local::random_password();
        super::PASSWORDS.lock().unwrap().push(password.clone());
        let mount = format!("/{}", mount.trim_start_matches('/'));
        let (script, log) = (dir.path().join("harbor.liq"), dir.path().join("liquidsoap.log"));
        // A port picked free can be taken by someone else before Liquidsoap binds it; Liquidsoap
        // then logs the error and keeps running without the harbor, so its log is what tells.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let text = script_text(&mount, port, &password, &dir.path().join("heard.pcm"));
            std::fs::write(&script, text).unwrap();
            let mut child = spawn(&script, &log);
            if wait_ready(&mut child, &log, &mount, port).await {
                return Harbor {
                    port,
                    mount,
                    password,
                    child,
                    dir,
                };
            }
            kill_group(&mut child);
        }
        panic!(
            "liquidsoap's harbor did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::loopback(self.port)
    }

    /// Settings for this harbor's mount in `format`, with the right password.
    pub fn settings(&self, format: MountFormat) -> Settings {
        let mut s = Settings::default();
        *s.first_mut() = self.destination(format);
        s.stream.name = "Icecream test".into();
        s
    }

    /// This harbor's mount as one destination of a broadcast.
    pub fn destination(&self, format: MountFormat) -> Destination {
        let mut d = Destination::default();
        d.server.host = "127.0.0.1".into();
        d.server.port = self.port as u32;
        d.server.tls = false;
        d.server.mount = self.mount.clone();
        d.server.username = "source".into();
        d.server.password = Secret::new(self.password.clone());
        d.format = format;
        d
    }

    /// CLI flags that point at this harbor and its mount.
    pub fn cli_args(&self) -> Vec<String> {
        [
            "--host",
            "127.0.0.1",
            "--port",
            &self.port.to_string(),
            "--mount",
            &self.mount,
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("liquidsoap.log")).unwrap_or_default()
    }

    /// The harbor's log without its thread and frame chatter.
    pub fn log_tail(&self, lines: usize) -> String {
        icecream_engine::icecast::local::last_lines(&self.log(), lines, &["[threads:", "[frame:", "Header:"])
    }

    /// Waits until the log has `needle` at least `times` times (Liquidsoap writes its log a moment
    /// after the fact); false after 10 s.
    pub async fn wait_log(&self, needle: &str, times: usize) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().matches(needle).count() < times {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// How often the harbor was asked for `path` with a GET (its log has a line for each at level 4).
    pub fn get_requests(&self, path: &str) -> usize {
        self.log()
            .matches(&format!("HTTP GET request on {path}."))
            .count()
    }

    /// Seconds of audio the harbor has decoded so far.
    pub fn heard_secs(&self) -> f64 {
        self.heard_bytes() as f64 / PCM_BYTES_PER_SEC
    }

    fn heard_bytes(&self) -> u64 {
        std::fs::metadata(self.dir.path().join("heard.pcm")).map_or(0, |m| m.len())
    }

    /// What the harbor decoded, as 16-bit samples (both channels interleaved).
    pub fn heard_samples(&self) -> Vec<i16> {
        std::fs::read(self.dir.path().join("heard.pcm"))
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// Waits until the source has left and the harbor has played out what it buffered (it plays at
    /// the real pace: up to the length of the stream when the source sent faster), then returns the
    /// seconds it decoded.
    pub async fn played_out(&self, limit: Duration) -> f64 {
        let deadline = Instant::now() + limit;
        let mut last = (self.heard_bytes(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.heard_bytes();
            let left = self.log().contains("Feeding stopped");
            if now != last.0 {
                last = (now, Instant::now());
            } else if left && now > 0 && last.1.elapsed() > Duration::from_secs(2) {
                return self.heard_secs();
            }
            assert!(
                Instant::now() < deadline,
                "the harbor did not finish playing within {limit:?} ({} s heard so far)",
                self.heard_secs()
            );
        }
    }
}

/// Until the harbor listens on its port (its log says the mount is added, which it does only once
/// the port is bound) and accepts connections; up to 30 s, for a loaded machine.
async fn wait_ready(child: &mut Child, log: &Path, mount: &str, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    let added = format!("Adding mountpoint '{mount}' on port {port}");
    let ep = Endpoint::loopback(port);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("Address already in use") {
            return false;
        }
        if text.contains(&added) && icecream_engine::net::accepts(&ep).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A harbor that waits for 1 s of audio before it plays (12 s by default) and holds up to 10 min
/// (20 s by default: a source sending faster than real time would lose the rest). Liquidsoap runs
/// as root only when told to. Level 4 logs each request. No stdlib: it takes Liquidsoap 2.1 ~8 s of
/// CPU to load, and the builtins here need none of it.
fn script_text(mount: &str, port: u16, password: &str, pcm: &Path) -> String {
    format!(
        r#"settings.init.allow_root.set(true)
settings.log.stdout.set(true)
settings.log.file.set(false)
settings.log.level.set(4)
settings.harbor.bind_addrs.set(["127.0.0.1"])
settings.frame.audio.samplerate.set(44100)
settings.frame.audio.channels.set(2)
s = input.harbor("{mount}", port={port}, user="source", password="{password}", buffer=1., max=600.)
output.file(%wav(header=false), "{pcm}", append=true, fallible=true, s)
"#,
        mount = mount.trim_start_matches('/'),
        pcm = pcm.display(),
    )
}

fn spawn(script: &Path, log: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new("liquidsoap");
    cmd.arg("--no-stdlib")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0);
    // SAFETY: prctl only, between fork and exec: the harbor dies with the test.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
        .expect("liquidsoap is installed (apt-get install liquidsoap; see .ci/install-deps)")
}

fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) on the process group of a child this test started.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.wait();
}

impl Drop for Harbor {
    fn drop(&mut self) {
        // A failing test shows what the harbor said.
        if std::thread::panicking() {
            eprintln!("--- liquidsoap log ---\n{}", self.log_tail(60));
        }
        kill_group(&mut self.child);
    }
}
