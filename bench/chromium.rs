//! Debian's Chromium, headless, as a listener: started through chromedriver on a free port, with a
//! fresh profile, and asked to join a mount with a `<video>` or `<audio>` element, as the share
//! panel's embed code does. Shared by the browser-listener tests and the browser join benchmark.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::Client;

#[path = "webdriver.rs"]
mod webdriver;

pub struct Chromium {
    pub client: Client,
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

impl Chromium {
    /// A browser showing `page`: media elements need a page from a web origin to load a stream
    /// (an empty `data:` page's loads are refused as unsafe).
    pub async fn start(page: &str) -> Chromium {
        let profile = tempfile::tempdir().unwrap();
        let port = webdriver::free_port();
        let driver = Command::new(installed("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, with the Chromium it starts, so that all of it can be ended.
            .process_group(0)
            .spawn()
            .unwrap();
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
        let caps = caps.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let client = webdriver::connect(&url, caps, Duration::from_secs(30), "Chromium").await;
        let browser = Chromium {
            client,
            driver,
            _profile: profile,
        };
        browser.client.goto(page).await.expect("Chromium opens the page");
        browser
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
                r.frames = el.webkitDecodedFrameCount === undefined ? null : el.webkitDecodedFrameCount;
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
        self.client
            .execute(
                JOIN,
                vec![
                    i.into(),
                    url.into(),
                    element.into(),
                    advance_secs.into(),
                    (start == Start::PlayWhenReady).into(),
                ],
            )
            .await
            .expect("the page takes the join");
    }

    /// Every join's record so far.
    pub async fn joins(&self) -> Vec<Join> {
        let v = self
            .client
            .execute("return window.joins || []", vec![])
            .await
            .expect("the page answers");
        serde_json::from_value(v).expect("join records")
    }

    /// Ends joins that are not done (a deadline passed), so their records are final.
    pub async fn give_up(&self) {
        self.client
            .execute(
                "for (const r of (window.joins || [])) if (r && !r.done) r.done = true;",
                vec![],
            )
            .await
            .expect("the page answers");
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Even when a test fails half-way: the driver and every Chromium process it started.
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
    /// Pictures decoded (Chromium's count); the tests check it.
    #[allow(dead_code)]
    pub frames: Option<u64>,
}
