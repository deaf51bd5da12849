//! The harness: Xvfb, tauri-driver (which starts WebKitWebDriver, which starts the app), a WebDriver
//! client, and the app's own data folders in a temp dir. Everything is killed when it drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

#[path = "../../bench/webdriver.rs"]
mod webdriver;

/// One app at a time: WebKit is heavy for a 2-core machine, and the tests measure nothing.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Group {
    use std::os::unix::process::CommandExt;
    let program = format!("{:?}", cmd.get_program());
    Group(
        cmd.stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{program} could not start: {e}")),
    )
}

/// A virtual screen of its own.
pub struct Screen {
    pub display: String,
    _xvfb: Group,
}

impl Screen {
    pub fn start() -> Screen {
        for n in 0..50 {
            let num = 80 + (std::process::id() as usize + n * 7) % 400;
            let (socket, lock) = (format!("/tmp/.X11-unix/X{num}"), format!("/tmp/.X{num}-lock"));
            // A display is taken while the server named in its lock runs. A killed server leaves
            // its lock and socket behind (a CI run found 224 of them and no display free), and the
            // socket would be taken below for this server's: cleared first.
            let owner = std::fs::read_to_string(&lock)
                .ok()
                .map(|pid| pid.trim().to_string());
            if owner.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists()) {
                continue;
            }
            let _ = std::fs::remove_file(&lock);
            if std::fs::remove_file(&socket).is_err() && Path::new(&socket).exists() {
                continue;
            }
            let mut xvfb = spawn_group(
                Command::new("Xvfb")
                    .args([
                        &format!(":{num}"),
                        "-screen",
                        "0",
                        "1280x860x24",
                        "-nolisten",
                        "tcp",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{num}")).exists() {
                    return Screen {
                        display: format!(":{num}"),
                        _xvfb: xvfb,
                    };
                }
                if let Ok(Some(_)) = xvfb.0.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("Xvfb did not start; install the xvfb package");
    }

    /// A screenshot of the whole screen, as a person would see it.
    pub fn screenshot(&self, to: &Path) {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let status = Command::new("/usr/bin/import")
            .args(["-window", "root"])
            .arg(to)
            .env("DISPLAY", &self.display)
            .status()
            .expect("ImageMagick's import takes screenshots; install imagemagick");
        assert!(status.success(), "screenshot failed");
    }
}

impl Screen {
    /// Drives a native window (GTK's folder dialog) the way a person's keyboard does: xdotool,
    /// with the given arguments, on this screen. Its output, trimmed.
    pub fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool drives native dialogs in the tests; install the xdotool package");
        assert!(
            out.status.success(),
            "xdotool {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Waits for a native window with this title and gives it the keyboard; its id.
    pub async fn focus_window(&self, title: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", title])
                .env("DISPLAY", &self.display)
                .output()
                .expect("xdotool drives native dialogs in the tests; install the xdotool package");
            let id = String::from_utf8_lossy(&found.stdout);
            if let Some(id) = id.lines().next() {
                let id = id.to_string();
                self.xdotool(&["windowfocus", "--sync", &id]);
                return id;
            }
            assert!(Instant::now() < deadline, "no window titled {title:?} appeared");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether a window with this title is shown.
    pub fn shows_window(&self, title: &str) -> bool {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", title])
            .env("DISPLAY", &self.display)
            .output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    }
}

/// Where screenshots of a test run are kept.
pub fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("e2e-artifacts")
}

/// The app's home: its settings and password live here across restarts of the app.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::Builder::new()
                .prefix("icecream-home-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data/org.icecream.desktop")
    }
}

/// The running app and a WebDriver session on it.
pub struct App {
    pub client: Client,
    log: PathBuf,
    _driver: Group,
}

impl Drop for App {
    fn drop(&mut self) {
        // A failing test shows what the app and its page said.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| !l.contains("ALSA") && !l.contains("GLib-GObject"))
                .collect();
            eprintln!(
                "--- app log ---\n{}",
                lines[lines.len().saturating_sub(80)..].join("\n")
            );
        }
    }
}

impl App {
    pub async fn launch(screen: &Screen, home: &Home) -> App {
        App::launch_with(screen, home, &[]).await
    }

    pub async fn launch_with(screen: &Screen, home: &Home, env: &[(&str, &str)]) -> App {
        // An app quit a moment ago may still be finishing (delivering its broadcast): a new one
        // would hand over to it and exit (one app at a time).
        let deadline = Instant::now() + Duration::from_secs(20);
        while !App::pids(home).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let port = webdriver::free_port();
        let native = webdriver::free_port();
        let driver_bin = which_tauri_driver();
        let log_path = home.dir.path().join(format!("driver-{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let driver = spawn_group(
            Command::new(driver_bin)
                .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
                .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
                .env("DISPLAY", &screen.display)
                .env("HOME", home.dir.path())
                .env("XDG_DATA_HOME", home.dir.path().join("data"))
                .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
                .env("XDG_CACHE_HOME", home.dir.path().join("cache"))
                .env("ICECREAM_MOCK_CAPTURE", "1")
                .env("RUST_LOG", "info")
                // No keyring unless a test gives one (secret_service.rs): never the machine's own.
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}/no-bus", home.dir.path().display()),
                )
                // No sound server unless a test starts one (sound.rs): never the machine's own
                // microphone; without one the page's recorder takes the sound.
                .env(
                    "PULSE_SERVER",
                    format!("unix:{}/no-pulse", home.dir.path().display()),
                )
                .envs(env.iter().copied())
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": env!("CARGO_BIN_EXE_icecream-desktop") }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let client =
            webdriver::connect(&url, caps, Duration::from_secs(30), "the app under tauri-driver").await;
        let app = App {
            client,
            log: log_path,
            _driver: driver,
        };
        app.wait_for(
            || async { app.client.find(Locator::Css("body[data-ready]")).await.is_ok() },
            "the page to be ready",
        )
        .await;
        app
    }

    /// The app's process id: the one running our binary with this test's HOME.
    pub fn pid(&self, home: &Home) -> Option<u32> {
        App::pids(home).into_iter().next()
    }

    /// Every process running our binary with this test's HOME.
    pub fn pids(home: &Home) -> Vec<u32> {
        let exe = env!("CARGO_BIN_EXE_icecream-desktop");
        let home_env = format!("HOME={}", home.dir.path().display());
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let env = std::fs::read(e.path().join("environ")).ok()?;
                let ours = cmd.starts_with(exe.as_bytes())
                    && env.split(|b| *b == 0).any(|v| v == home_env.as_bytes());
                ours.then_some(pid)
            })
            .collect()
    }

    /// What the app has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
        // The driver's process group (WebKitWebDriver and the app) goes when it drops.
    }

    pub async fn el(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} in the window: {e}"))
    }

    /// An attribute of the element, if the element and its attribute are there.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        let found = self.client.find(Locator::Css(css)).await.ok()?;
        found.attr(name).await.ok().flatten()
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn value(&self, css: &str) -> String {
        self.el(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn click(&self, css: &str) {
        // Scrolled to first, as a person scrolls: WebKitWebDriver does not scroll a modal dialog's
        // overflow by itself.
        let _ = self
            .client
            .execute(
                "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
                vec![css.into()],
            )
            .await;
        self.el(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Replaces a field's text, the way a person selects it and types.
    pub async fn type_into(&self, name: &str, text: &str) {
        self.show_section_of(name).await;
        let el = self.el(&format!("#settings-form [name=\"{name}\"]")).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// Settings shows one section at a time: a person clicks the section a field is in first.
    pub async fn show_section_of(&self, name: &str) {
        let section = self
            .client
            .execute(
                "const el = document.querySelector(`#settings-form [name=\"${arguments[0]}\"]`);\
                 const s = el && el.closest('[data-section]');\
                 return s && s.hidden ? s.dataset.section : null;",
                vec![name.into()],
            )
            .await
            .unwrap();
        if let Some(section) = section.as_str() {
            self.show_section(section).await;
        }
    }

    /// Clicks the Settings section button `section` (destinations, stream, picture, recording).
    pub async fn show_section(&self, section: &str) {
        self.click(&format!("#settings-form .sections [data-show=\"{section}\"]"))
            .await;
    }

    /// Picks an option of a settings list. A list low in the dialog can be out of reach for a
    /// moment while the dialog lays out, so this tries again for a few seconds.
    pub async fn choose(&self, name: &str, value: &str) {
        self.show_section_of(name).await;
        let css = format!("#settings-form [name=\"{name}\"]");
        for _ in 0..25 {
            let el = self.el(&css).await;
            // Scrolled to, as a person scrolls the dialog: WebKitWebDriver does not scroll a modal
            // dialog's overflow by itself.
            let _ = self
                .client
                .execute(
                    "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})",
                    vec![css.clone().into()],
                )
                .await;
            if el.select_by_value(value).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let why = self
            .client
            .execute(
                "const el = document.querySelector(arguments[0]); const r = el.getBoundingClientRect();\
                 return JSON.stringify({disabled: el.disabled, section: (el.closest('[data-section]') || {}).hidden,\
                 dialog: document.getElementById('settings').open, top: r.top, height: r.height,\
                 options: [...el.options].map(o => o.value), status: document.getElementById('status').textContent})",
                vec![css.clone().into()],
            )
            .await
            .map(|v| v.to_string())
            .unwrap_or_default();
        panic!("could not choose {value} in {name}: {why}");
    }

    pub async fn wait_for<F, Fut>(&self, mut ok: F, what: &str)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(40);
        while Instant::now() < deadline {
            if ok().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "waited 40 s for {what}; the status says {:?} and the notice {:?}",
            self.text("#status").await,
            self.text("#notice").await
        );
    }

    /// Waits until the camera and microphone are open and the recorder's 2-second self-test has run
    /// (both come after the page is ready).
    pub async fn wait_self_tested(&self) {
        self.wait_for(
            || async {
                self.client
                    .find(Locator::Css("body[data-self-tested]"))
                    .await
                    .is_ok()
            },
            "the capture self-test",
        )
        .await;
    }

    /// Waits until the status line starts with `prefix`, and returns it.
    pub async fn wait_status(&self, prefix: &str) -> String {
        self.wait_for(
            || async { self.text("#status").await.starts_with(prefix) },
            &format!("status {prefix:?}"),
        )
        .await;
        self.text("#status").await
    }
}

fn which_tauri_driver() -> PathBuf {
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tauri-driver"));
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("tauri-driver"))
        .chain(home_bin)
        .find(|p| p.is_file())
        .expect("tauri-driver is needed: cargo install tauri-driver --locked")
}
