//! A private D-Bus session bus (one app at a time is found there), and a real Secret Service for
//! the keyring tests: GNOME Keyring on such a bus, in a home of its own, unlocked, as a desktop
//! session has it. Nothing reaches the machine's own bus or
//! keyring. secret-tool reads entries back as a person's keyring manager would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private D-Bus session bus, as a desktop session has one.
pub struct SessionBus {
    /// What the app and the CLI are given as DBUS_SESSION_BUS_ADDRESS.
    pub address: String,
    bus: Child,
    dir: tempfile::TempDir,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let dir = tempfile::Builder::new()
            .prefix("icecream-session-")
            .tempdir()
            .unwrap();
        let address = format!("unix:path={}", dir.path().join("bus").display());
        // A session bus that starts no services by itself: the system's activation files would
        // start a second GNOME Keyring the moment something asks for secrets, without our login
        // password ("another secret service is running").
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                "<busconfig><type>session</type><listen>{address}</listen>\
                 <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
                 <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>"
            ),
        )
        .unwrap();
        let bus = Command::new("dbus-daemon")
            .arg("--nofork")
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (package dbus)");
        wait_until(|| dir.path().join("bus").exists(), "the session bus");
        SessionBus { address, bus, dir }
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A desktop's notification service (dunst, a real org.freedesktop.Notifications server) on a
/// private session bus, showing on the test's screen.
pub struct Notifications {
    pub address: String,
    dunst: Child,
    _bus: SessionBus,
}

impl Notifications {
    pub fn start(display: &str) -> Notifications {
        let bus = SessionBus::start();
        let dunst = Command::new("dunst")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("DISPLAY", display)
            .env("HOME", bus.dir.path())
            .env("XDG_CONFIG_HOME", bus.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dunst is installed (package dunst)");
        let n = Notifications {
            address: bus.address.clone(),
            dunst,
            _bus: bus,
        };
        wait_until(|| n.dunstctl(&["count", "history"]).is_some(), "dunst");
        n
    }

    fn dunstctl(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("dunstctl")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// Every notification shown so far, as (summary, body), oldest first.
    pub fn shown(&self) -> Vec<(String, String)> {
        // Shown ones go to the history when closed; the history is what dunstctl can read.
        self.dunstctl(&["close-all"]);
        std::thread::sleep(Duration::from_millis(200));
        let history = self.dunstctl(&["history"]).unwrap_or_default();
        let doc: serde_json::Value = serde_json::from_str(&history).unwrap_or_default();
        let text = |n: &serde_json::Value, key: &str| n[key]["data"].as_str().unwrap_or("").to_string();
        let mut all: Vec<(i64, String, String)> = doc["data"][0]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                (
                    n["id"]["data"].as_i64().unwrap_or(0),
                    text(n, "summary"),
                    text(n, "body"),
                )
            })
            .collect();
        all.sort();
        all.into_iter().map(|(_, s, b)| (s, b)).collect()
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        let _ = self.dunst.kill();
        let _ = self.dunst.wait();
    }
}

pub struct SecretService {
    /// What the app and the CLI are given as DBUS_SESSION_BUS_ADDRESS.
    pub address: String,
    keyring: Child,
    _bus: SessionBus,
}

impl SecretService {
    pub fn start() -> SecretService {
        let bus = SessionBus::start();
        let (address, dir) = (bus.address.clone(), bus.dir.path());
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_RUNTIME_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("keyring.log")).unwrap())
            .spawn()
            .expect("gnome-keyring-daemon is installed (package gnome-keyring)");
        // The login keyring's own password, given once on stdin as a desktop login does.
        {
            use std::io::Write;
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"keyring-login").unwrap();
        }
        let ss = SecretService {
            address,
            keyring,
            _bus: bus,
        };
        // Ready once its login keyring exists and takes an item (it is made a moment after start).
        let probe = ["service", "icecream-test-probe", "username", "probe"];
        if !ready(|| {
            ss.secret_tool_with_input(&[&["store", "--label", "probe"][..], &probe[..]].concat(), b"x")
        }) {
            let log = std::fs::read_to_string(ss._bus.dir.path().join("keyring.log")).unwrap_or_default();
            panic!("the Secret Service's login keyring did not start: {log}");
        }
        ss.secret_tool(&[&["clear"][..], &probe[..]].concat());
        ss
    }

    fn secret_tool_with_input(&self, args: &[&str], input: &[u8]) -> bool {
        use std::io::Write;
        let Ok(mut child) = Command::new("secret-tool")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            return false;
        };
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait().is_ok_and(|s| s.success())
    }

    fn secret_tool(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .expect("secret-tool is installed (package libsecret-tools)");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }

    /// The password the app keeps under its service name, as secret-tool finds it.
    pub fn app_password(&self) -> Option<String> {
        self.secret_tool(&[
            "lookup",
            "service",
            icecream_engine::secrets::saved_password::KEYRING_SERVICE,
            "username",
            icecream_engine::secrets::saved_password::KEYRING_ACCOUNT,
        ])
        .filter(|p| !p.is_empty())
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
    }
}

fn wait_until(ok: impl FnMut() -> bool, what: &str) {
    assert!(ready(ok), "{what} did not start");
}

/// Whether `ok` holds within 15 s.
fn ready(mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Every file under `dir`, for the check that none holds the password.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
