//! A real Secret Service for the keyring tests: GNOME Keyring on a private D-Bus session bus, in a
//! home of its own, unlocked, as a desktop session has it. Nothing reaches the machine's own bus or
//! keyring. secret-tool reads entries back as a person's keyring manager would.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SecretService {
    /// What the app and the CLI are given as DBUS_SESSION_BUS_ADDRESS.
    pub address: String,
    bus: Child,
    keyring: Child,
    _dir: tempfile::TempDir,
}

impl SecretService {
    pub fn start() -> SecretService {
        let dir = tempfile::Builder::new()
            .prefix("icecream-keyring-")
            .tempdir()
            .unwrap();
        let address = format!("unix:path={}", dir.path().join("bus").display());
        let bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--address", &address])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (package dbus)");
        wait_until(|| dir.path().join("bus").exists(), "the session bus");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path().join("data"))
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
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
            bus,
            keyring,
            _dir: dir,
        };
        wait_until(
            || ss.secret_tool(&["search", "--all", "service", "none"]).is_some(),
            "the Secret Service",
        );
        ss
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
            icecream_engine::saved_password::KEYRING_SERVICE,
            "username",
            icecream_engine::saved_password::KEYRING_ACCOUNT,
        ])
        .filter(|p| !p.is_empty())
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.bus.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.wait();
    }
}

fn wait_until(mut ok: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not start");
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
