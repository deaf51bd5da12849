//! A real browser as a listener: Debian's Chromium, headless, through chromedriver; WebKitGTK's
//! MiniBrowser (the engine of GNOME Web and the family of Safari) through WebKitWebDriver on a
//! private Xvfb screen; or Firefox ESR, headless, through its own WebDriver BiDi socket. Each on a
//! free port with a fresh profile, and asked to join a mount with a `<video>` or `<audio>`
//! element, as the share panel's embed code does. Shared by the browser-listener tests and the
//! browser benchmarks.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::Client;

#[path = "behind_live.rs"]
pub mod behind_live;
#[path = "bidi.rs"]
mod bidi;
#[path = "webdriver.rs"]
mod webdriver;

/// How the test speaks to the browser.
enum Driving {
    /// Classic WebDriver (HTTP): chromedriver, WebKitWebDriver.
    WebDriver(Client),
    /// Firefox's own BiDi socket.
    Bidi(Box<bidi::Bidi>),
}

pub struct Browser {
    driving: Option<Driving>,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn installed(name: &str) -> String {
    which::which(name)
        .unwrap_or_else(|_| {
            panic!("{name} is not installed; run .ci/install-deps (Debian: apt install chromium chromium-driver)")
        })
        .display()
        .to_string()
}

/// Debian's WebKitGTK browser for automation (webkit2gtk-driver installs its driver beside it).
const MINIBROWSER: &str = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser";

impl Browser {
    /// WebKitGTK's MiniBrowser showing `page`, on a screen of its own (xvfb-run): it has no
    /// headless mode.
    pub async fn webkit(page: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = webdriver::free_port();
        let mut xvfb = Command::new(installed("xvfb-run"));
        xvfb.args(["-a", "-s", "-screen 0 1280x800x24 -nolisten tcp"])
            .arg(installed("WebKitWebDriver"))
            .env("HOME", profile.path());
        let driver = spawn_driver(&mut xvfb, port);
        let caps = serde_json::json!({
            "webkitgtk:browserOptions": { "binary": MINIBROWSER, "args": ["--automation"] }
        });
        Browser::connect(driver, port, caps, profile, page, "WebKitGTK's MiniBrowser").await
    }

    /// Firefox ESR showing `page`, headless.
    pub async fn firefox(page: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = webdriver::free_port();
        let binary = which::which("firefox-esr")
            .or_else(|_| which::which("firefox"))
            .unwrap_or_else(|_| {
                panic!("Firefox is not installed; run .ci/install-deps (Debian: apt install firefox-esr)")
            });
        let driver = bidi::spawn_firefox(&binary.display().to_string(), profile.path(), port);
        let mut browser = Browser {
            driving: None,
            driver,
            _profile: profile,
        };
        browser.driving = Some(Driving::Bidi(Box::new(
            bidi::Bidi::connect(port, Duration::from_secs(60), page).await,
        )));
        browser
    }

    /// Chromium showing `page`: media elements need a page from a web origin to load a stream
    /// (an empty `data:` page's loads are refused as unsafe).
    pub async fn chromium(page: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = webdriver::free_port();
        let driver = spawn_driver(&mut Command::new(installed("chromedriver")), port);
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": installed("chromium"),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run",
                    "--autoplay-policy=no-user-gesture-required",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        Browser::connect(driver, port, caps, profile, page, "Chromium").await
    }

    async fn connect(
        driver: Child,
        port: u16,
        caps: serde_json::Value,
        profile: tempfile::TempDir,
        page: &str,
        what: &str,
    ) -> Browser {
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        // Whatever happens next, the driver and its browser end with this handle.
        let mut browser = Browser {
            driving: None,
            driver,
            _profile: profile,
        };
        let client = webdriver::connect(&url, caps, Duration::from_secs(30), what).await;
        client
            .goto(page)
            .await
            .unwrap_or_else(|e| panic!("{what} opens the page: {e}"));
        browser.driving = Some(Driving::WebDriver(client));
        browser
    }

    /// Runs `script` (a function body of `arguments`, as classic WebDriver's execute takes it) in
    /// the page and gives back what it returned.
    pub async fn execute(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        match self.driving.as_ref().expect("connected") {
            Driving::WebDriver(client) => client
                .execute(script, args)
                .await
                .unwrap_or_else(|e| panic!("the page runs the script: {e}")),
            Driving::Bidi(bidi) => bidi.execute(script, args).await,
        }
    }

    /// Adds a muted, autoplaying `<video>` or `<audio>` for `url` to the page, as join `i`. The
    /// page records when it reaches `playing`, how far its clock then moves, and any media error;
    /// once the clock has moved `advance_secs` (or on an error) the element is removed, so the
    /// browser's six connections per host are not used up by finished joins.
    pub async fn join(&self, i: usize, url: &str, element: &str, advance_secs: f64, start: Start) {
        const JOIN: &str = r#"
            const [i, url, tag, want, press] = arguments;
            window.joins = window.joins || [];
            const el = document.createElement(tag);
            const r = { i, url, playing: null, start: null, advanced: 0, error: null, done: false };
            const t0 = performance.now();
            window.joins[i] = r;
            const finish = () => {
                if (r.done) return;
                r.done = true;
                // Chromium's count, else the standard one (WebKitGTK has only that).
                if (el.webkitDecodedFrameCount !== undefined) r.frames = el.webkitDecodedFrameCount;
                else r.frames = el.getVideoPlaybackQuality ? el.getVideoPlaybackQuality().totalVideoFrames : null;
                el.removeAttribute('src');
                el.load();
                el.remove();
            };
            el.muted = true;
            if (press) el.addEventListener('canplay', () => el.play().catch(() => {}), { once: true });
            else el.autoplay = true;
            el.addEventListener('playing', () => {
                if (r.playing === null) { r.playing = (performance.now() - t0) / 1000; r.start = el.currentTime; }
            });
            el.addEventListener('timeupdate', () => {
                if (r.start === null || r.done) return;
                r.advanced = el.currentTime - r.start;
                if (r.advanced >= want) finish();
            });
            el.addEventListener('error', () => {
                if (r.done) return;
                r.error = el.error ? `${el.error.code} ${el.error.message}` : 'error';
                finish();
            });
            el.src = url;
            (document.body || document.documentElement).appendChild(el);
        "#;
        self.execute(
            JOIN,
            vec![
                i.into(),
                url.into(),
                element.into(),
                advance_secs.into(),
                (start == Start::PlayWhenReady).into(),
            ],
        )
        .await;
    }

    /// Adds `html` (the share panel's embed code, or a plain tag) to the page, its scripts run, and
    /// records its player every 100 ms.
    pub async fn watch(&self, html: &str) {
        self.execute(behind_live::WATCH, vec![html.into()]).await;
    }

    /// Stops the player `watch` added and gives back its record.
    pub async fn watched(&self) -> behind_live::Watched {
        self.execute(behind_live::UNWATCH, vec![]).await;
        serde_json::from_value(self.execute("return window.watched", vec![]).await)
            .expect("the page's record")
    }

    /// Every join's record so far.
    pub async fn joins(&self) -> Vec<Join> {
        let v = self.execute("return window.joins || []", vec![]).await;
        serde_json::from_value(v).expect("join records")
    }

    /// Ends joins that are not done (a deadline passed), so their records are final.
    pub async fn give_up(&self) {
        self.execute(
            "for (const r of (window.joins || [])) if (r && !r.done) r.done = true;",
            vec![],
        )
        .await;
    }
}

/// A WebDriver server on `port`, in its own process group with the browser it starts, so that all
/// of it can be ended.
fn spawn_driver(cmd: &mut Command, port: u16) -> Child {
    cmd.arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap()
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Even when a test fails half-way: the driver and every browser process it started.
        // SAFETY: kill(2) on the process group this test created.
        unsafe { libc::kill(-(self.driver.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

/// How a join starts playing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)] // the tests join as the embed code does only
pub enum Start {
    /// `autoplay` alone: Chromium starts once it has loaded what it considers enough.
    Autoplay,
    /// `play()` as soon as the element can play, as the share panel's embed code does
    /// (`oncanplay`) and as a listener pressing Play does.
    PlayWhenReady,
}

/// One listener's join, as the page saw it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Join {
    /// Which join, and where, for the failure message.
    #[allow(dead_code)]
    pub i: usize,
    #[allow(dead_code)]
    pub url: String,
    /// Seconds from adding the element to its first `playing`.
    pub playing: Option<f64>,
    /// How far `currentTime` moved after `playing`.
    pub advanced: f64,
    pub error: Option<String>,
    pub done: bool,
    /// Pictures decoded (Chromium's count, or the standard playback quality's); the tests check it.
    #[allow(dead_code)]
    pub frames: Option<u64>,
}
