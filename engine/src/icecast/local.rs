//! A private Icecast on this computer: "Try it on this computer" in the app, and the real server
//! every test talks to. Its own config and random passwords in a folder we own, bound to 127.0.0.1
//! on a free port, in its own process group, stopped when the handle drops (and by the kernel if we
//! die first, on Linux).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::Endpoint;
use crate::settings::{Destination, ServerSettings};
use crate::{icecast, MountFormat, Secret, Settings};

#[derive(Debug, thiserror::Error)]
pub enum LocalIcecastError {
    #[error(
        "Icecast is not installed on this computer, so a private server cannot be started. \
         Install it (Debian/Ubuntu: sudo apt install icecast2; Fedora: sudo dnf install icecast; \
         macOS: brew install icecast) and try again."
    )]
    NotInstalled,
    #[error("The private Icecast server could not be set up in {path}: {reason}.")]
    Files { path: String, reason: String },
    #[error("The private Icecast server did not start. Its log says: {log}")]
    DidNotStart { log: String },
}

#[derive(Clone, Debug, Default)]
pub struct LocalOptions {
    /// Every mount stores titles as UTF-8 (Icecast's default is Latin-1).
    pub utf8_by_default: bool,
    /// Mounts that get `<charset>UTF-8</charset>` when the default is left as Latin-1.
    pub utf8_mounts: Vec<String>,
    pub source_timeout_secs: Option<u32>,
    pub max_sources: Option<u32>,
    /// Bytes a joining listener gets at once from before it joined (Icecast's default: 65535).
    pub burst_size: Option<u32>,
    /// Also serve TLS on a port of its own, with this certificate and its key in one PEM file.
    pub tls_certificate: Option<PathBuf>,
}

pub struct LocalIcecast {
    pub port: u16,
    /// The TLS port, when `tls_certificate` was given.
    pub tls_port: Option<u16>,
    pub source_password: Secret,
    pub admin_password: Secret,
    dir: PathBuf,
    child: Child,
}

/// Where Icecast keeps its web and admin stylesheets, which status-json and admin/metadata need.
fn share_dir() -> Option<PathBuf> {
    [
        "/usr/share/icecast2",
        "/usr/share/icecast",
        "/usr/local/share/icecast",
        "/opt/homebrew/share/icecast",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|d| d.join("web/status-json.xsl").is_file())
}

/// Debian calls it icecast2, everyone else icecast.
fn icecast_binary() -> Result<PathBuf, LocalIcecastError> {
    which::which("icecast2")
        .or_else(|_| which::which("icecast"))
        .map_err(|_| LocalIcecastError::NotInstalled)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A password nobody can guess, from the system's random source.
pub fn random_password() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

struct Config<'a> {
    port: u16,
    tls_port: Option<u16>,
    source_password: &'a str,
    admin_password: &'a str,
    share: &'a Path,
    dir: &'a Path,
    opts: &'a LocalOptions,
}

impl Config<'_> {
    /// `Access-Control-Allow-Origin: *`: the share panel's embed code reads a WebM mount with
    /// `fetch` to play its live moment (share.rs), which a page from another site may do only where
    /// the server says so; Icecast 2.4 sends it only when configured.
    fn text(&self) -> String {
        let charset = "<charset>UTF-8</charset>";
        let mut mounts: String = self
            .opts
            .utf8_mounts
            .iter()
            .map(|m| {
                format!(
                    "<mount><mount-name>{}</mount-name>{charset}</mount>",
                    xml_escape(m)
                )
            })
            .collect();
        if self.opts.utf8_by_default {
            mounts.push_str(&format!("<mount type=\"default\">{charset}</mount>"));
        }
        format!(
            r#"<icecast>
  <location>this computer</location><admin>icecream@localhost</admin>
  <limits>
    <clients>100</clients><sources>{sources}</sources><queue-size>1048576</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout>
    <source-timeout>{timeout}</source-timeout><burst-on-connect>1</burst-on-connect><burst-size>{burst}</burst-size>
  </limits>
  <authentication>
    <source-password>{source}</source-password>
    <admin-user>admin</admin-user><admin-password>{admin}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <http-headers><header name="Access-Control-Allow-Origin" value="*" /></http-headers>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  {tls_socket}
  {mounts}
  <fileserve>1</fileserve>
  <paths>
    <basedir>{share}</basedir><logdir>{dir}</logdir>
    <webroot>{share}/web</webroot><adminroot>{share}/admin</adminroot>{certificate}
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>"#,
            timeout = self.opts.source_timeout_secs.unwrap_or(10),
            burst = self.opts.burst_size.unwrap_or(65535),
            sources = self.opts.max_sources.unwrap_or(20),
            source = xml_escape(self.source_password),
            admin = xml_escape(self.admin_password),
            port = self.port,
            tls_socket = match self.tls_port {
                Some(p) => format!(
                    "<listen-socket><port>{p}</port><bind-address>127.0.0.1</bind-address><ssl>1</ssl></listen-socket>"
                ),
                None => String::new(),
            },
            certificate = match &self.opts.tls_certificate {
                Some(pem) => format!(
                    "<ssl-certificate>{}</ssl-certificate>",
                    xml_escape(&pem.display().to_string())
                ),
                None => String::new(),
            },
            share = xml_escape(&self.share.display().to_string()),
            dir = xml_escape(&self.dir.display().to_string()),
        )
    }
}

/// Writes a file only its owner can read: the config holds the passwords.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

impl LocalIcecast {
    /// Starts a server whose config, logs and passwords live in `dir` (created if missing).
    pub async fn start(dir: &Path, opts: &LocalOptions) -> Result<LocalIcecast, LocalIcecastError> {
        let files = |e: std::io::Error| LocalIcecastError::Files {
            path: dir.display().to_string(),
            reason: crate::plain_io_reason(&e),
        };
        let binary = icecast_binary()?;
        let share = share_dir().ok_or(LocalIcecastError::NotInstalled)?;
        std::fs::create_dir_all(dir).map_err(files)?;
        let mut last_log = String::new();
        // A port picked free can be taken by someone else before Icecast binds it: try again.
        for _ in 0..5 {
            let port = free_port().map_err(files)?;
            let tls_port = match opts.tls_certificate {
                Some(_) => Some(free_port().map_err(files)?),
                None => None,
            };
            let (source_password, admin_password) = (random_password(), random_password());
            let conf = dir.join("icecast.xml");
            let text = Config {
                port,
                tls_port,
                source_password: &source_password,
                admin_password: &admin_password,
                share: &share,
                dir,
                opts,
            }
            .text();
            write_private(&conf, &text).map_err(files)?;
            let child = spawn(&binary, &conf, dir).map_err(files)?;
            let mut ice = LocalIcecast {
                port,
                tls_port,
                source_password: Secret::new(source_password),
                admin_password: Secret::new(admin_password),
                dir: dir.to_path_buf(),
                child,
            };
            if ice.wait_ready().await {
                return Ok(ice);
            }
            last_log = ice.error_log_tail(5);
        }
        Err(LocalIcecastError::DidNotStart { log: last_log })
    }

    /// Kills the server at once, as a crash or a power cut would (for fault tests).
    pub fn kill(&mut self) {
        kill_group(&mut self.child);
    }

    /// Starts the server again on the same port with the same passwords, after `kill`.
    pub async fn restart(&mut self) -> Result<(), LocalIcecastError> {
        kill_group(&mut self.child);
        let binary = icecast_binary()?;
        let dir = self.dir.clone();
        let files = |e: std::io::Error| LocalIcecastError::Files {
            path: dir.display().to_string(),
            reason: crate::plain_io_reason(&e),
        };
        // The port can stay taken for a moment after the old server died.
        for _ in 0..20 {
            self.child = spawn(&binary, &dir.join("icecast.xml"), &dir).map_err(files)?;
            if self.wait_ready().await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(LocalIcecastError::DidNotStart {
            log: self.error_log_tail(5),
        })
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if icecast::fetch_status(&self.endpoint()).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::loopback(self.port)
    }

    /// The TLS port's endpoint (trusting only what the system trusts), when it has one.
    pub fn tls_endpoint(&self) -> Option<Endpoint> {
        Some(Endpoint {
            host: "localhost".into(),
            port: self.tls_port?,
            tls: true,
            pin: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Settings that broadcast to this server on `mount` in `format`, password included.
    pub fn settings(&self, mount: &str, format: MountFormat) -> Settings {
        Settings {
            destinations: vec![self.destination(mount, format)],
            ..Settings::default()
        }
    }

    /// A destination on this server: `mount` in `format`, password included.
    pub fn destination(&self, mount: &str, format: MountFormat) -> Destination {
        Destination {
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: self.port as u32,
                tls: false,
                mount: mount.into(),
                mount_per_user: false,
                username: "source".into(),
                password: self.source_password.clone(),
            },
            format,
            ..Destination::default()
        }
    }

    pub fn error_log(&self) -> String {
        let read = |name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        read("stderr.log") + &read("error.log")
    }

    /// The last lines of the log that say something (status polling fills it otherwise).
    pub fn error_log_tail(&self, lines: usize) -> String {
        last_lines(&self.error_log(), lines, &["Stats request", "xslt/", "DBUG"])
    }
}

/// The last `lines` lines of a server's log, without those that hold any of `chatter`.
pub fn last_lines(log: &str, lines: usize, chatter: &[&str]) -> String {
    let useful: Vec<&str> = log
        .lines()
        .filter(|l| !chatter.iter().any(|c| l.contains(c)))
        .collect();
    useful[useful.len().saturating_sub(lines)..].join("\n")
}

fn spawn(binary: &Path, conf: &Path, dir: &Path) -> std::io::Result<Child> {
    let mut cmd;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Icecast refuses to run as root: drop to its own user, which must own the folder.
        if unsafe { libc::geteuid() } == 0 {
            chown_to_icecast(dir)?;
            cmd = Command::new("setpriv");
            cmd.args(["--reuid=icecast2", "--regid=icecast", "--clear-groups"]);
            #[cfg(target_os = "linux")]
            cmd.arg("--pdeathsig=KILL");
            cmd.arg(binary);
        } else {
            cmd = Command::new(binary);
            #[cfg(target_os = "linux")]
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd.process_group(0);
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        cmd = Command::new(binary);
    }
    // Before its log is open, Icecast says what is wrong on stderr.
    let stderr = std::fs::File::create(dir.join("stderr.log"))?;
    cmd.arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
}

#[cfg(unix)]
fn chown_to_icecast(dir: &Path) -> std::io::Result<()> {
    let status = Command::new("chown")
        .args(["-R", "icecast2:icecast"])
        .arg(dir)
        .stdin(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(
            "the icecast2 user could not be given the folder",
        ))
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for LocalIcecast {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
