//! What a person does with the app, against a real Icecast.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use icecream_engine::{icecast, net, LocalIcecast, LocalOptions};

use crate::desktop::{artifacts, App, Home, Screen, ONE_AT_A_TIME};

/// What a journey needs around the app: a real Icecast, a screen, a home for the app's files.
pub(crate) struct Stage {
    pub(crate) ice: LocalIcecast,
    pub(crate) screen: Screen,
    pub(crate) home: Home,
    _dir: tempfile::TempDir,
    _one: tokio::sync::MutexGuard<'static, ()>,
}

impl Stage {
    pub(crate) async fn new() -> Stage {
        let one = ONE_AT_A_TIME.lock().await;
        let dir = tempfile::Builder::new()
            .prefix("icecream-e2e-icecast-")
            .tempdir()
            .unwrap();
        let opts = LocalOptions {
            utf8_by_default: true,
            ..Default::default()
        };
        let ice = LocalIcecast::start(dir.path(), &opts)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Stage {
            ice,
            screen: Screen::start(),
            home: Home::new(),
            _dir: dir,
            _one: one,
        }
    }
}

impl Stage {
    /// The app with a notification service on its session bus, set up for an MP3 mount here.
    async fn app_told_by(&self, notifications: &crate::session_bus::Notifications, mount: &str) -> App {
        let env = [("DBUS_SESSION_BUS_ADDRESS", notifications.address.as_str())];
        let app = App::launch_with(&self.screen, &self.home, &env).await;
        let password = self.ice.source_password.expose();
        fill_settings(&app, &self.ice, mount, password, "mp3", "recorder").await;
        app
    }

    /// The app, launched and set up for this server, like a person would.
    async fn app_set_for(&self, mount: &str, format: &str, capture: &str) -> App {
        let app = App::launch(&self.screen, &self.home).await;
        let password = self.ice.source_password.expose();
        fill_settings(&app, &self.ice, mount, password, format, capture).await;
        app
    }
}

pub(crate) async fn open_settings(app: &App) {
    app.click("#open-settings").await;
    app.wait_for(
        || async { app.el("#settings").await.attr("open").await.unwrap().is_some() },
        "Settings to open",
    )
    .await;
}

pub(crate) async fn save_settings(app: &App) {
    app.click("#save-settings").await;
    app.wait_for(
        || async { app.el("#settings").await.attr("open").await.unwrap().is_none() },
        "Settings to close",
    )
    .await;
}

/// Settings → server, password, mount and format, then Save; like a person would.
pub(crate) async fn fill_settings(
    app: &App,
    ice: &LocalIcecast,
    mount: &str,
    password: &str,
    format: &str,
    capture: &str,
) {
    open_settings(app).await;
    app.type_into("host", "127.0.0.1").await;
    app.type_into("port", &ice.port.to_string()).await;
    app.type_into("mount", mount).await;
    app.type_into("password", password).await;
    app.type_into("name", "Icecream end to end").await;
    app.choose("format", format).await;
    app.choose("capture", capture).await;
    save_settings(app).await;
}

async fn mount_listed(ice: &LocalIcecast, mount: &str) -> bool {
    let doc = icecast::fetch_status(&ice.endpoint()).await.unwrap();
    icecast::mount_status(&doc, mount).is_some()
}

pub(crate) async fn wait_mount(ice: &LocalIcecast, mount: &str, listed: bool) -> bool {
    for _ in 0..80 {
        if mount_listed(ice, mount).await == listed {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Seconds of audio ffmpeg decodes from `file` without a single complaint.
fn decoded_seconds(file: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-stats", "-i"])
        .arg(file)
        // Frames keep their own times: a live camera's frame rate varies, which is not damage.
        .args(["-fps_mode", "passthrough", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("time=") && !l.trim().is_empty())
        .collect();
    assert!(
        out.status.success() && errors.is_empty(),
        "the listener got damaged media: {log}"
    );
    // The last progress line says how much was decoded: "time=00:00:04.23".
    let t = log
        .rsplit("time=")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("");
    let parts: Vec<f64> = t.split(':').filter_map(|p| p.parse().ok()).collect();
    parts.iter().fold(0.0, |acc, p| acc * 60.0 + p)
}

/// A listener on the mount while the app is live; `heard` ends it with Stop.
struct Listening(tokio::task::JoinHandle<Result<(net::Head, Vec<u8>), icecream_engine::NetError>>);

/// Clicks Go live, waits for LIVE, and starts listening to the mount.
async fn go_live_and_listen(app: &App, ice: &LocalIcecast, mount: &str) -> Listening {
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    let (ep, path) = (ice.endpoint(), mount.to_string());
    Listening(tokio::spawn(async move { net::get(&ep, &path, None).await }))
}

impl Listening {
    /// Clicks Stop and returns all the listener got, saved to `file`.
    async fn heard(self, app: &App, file: &Path) -> Vec<u8> {
        app.click("#golive").await;
        app.wait_status("Stopped").await;
        let (head, body) = tokio::time::timeout(Duration::from_secs(20), self.0)
            .await
            .expect("the listener's stream ends with the broadcast")
            .unwrap()
            .unwrap();
        assert_eq!(head.status, 200);
        std::fs::write(file, &body).unwrap();
        body
    }
}

#[tokio::test]
async fn goes_live_audio_only_to_an_mp3_mount_and_stops() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let app = stage.app_set_for("/e2e.mp3", "mp3", "recorder").await;
    // WebKitGTK's recorder gives no video, so this broadcast is radio, through the recorder path
    // (fragmented MP4/AAC, repaired by the engine).
    app.click("#audio-only").await;
    // Where the chunk socket cannot open, the chunks go by calls and the broadcast is the same.
    app.client
        .execute("window.WebSocket = undefined", vec![])
        .await
        .unwrap();
    let listener = go_live_and_listen(&app, ice, "/e2e.mp3").await;
    assert_eq!(chunk_lane(&app).await, "calls", "chunks go by push_chunk calls");
    assert!(mount_listed(ice, "/e2e.mp3").await, "the mount is on the server");
    // Long enough for stats to show and for several recorder chunks to reach the listener.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let bytes_shown = app.text("#stat-bytes").await;
    assert!(
        bytes_shown.ends_with("kB") || bytes_shown.ends_with("MB"),
        "stats show bytes: {bytes_shown}"
    );
    // The local copy is being saved, and the window says so with its size.
    let rec = app.text("#rec").await;
    assert!(
        rec.starts_with("● REC ") && (rec.ends_with("kB") || rec.ends_with("MB")),
        "the REC light shows while live: {rec:?}"
    );
    assert_eq!(
        app.value("#share-url").await,
        format!("http://127.0.0.1:{}/e2e.mp3", ice.port)
    );
    // Muted at first: a browser would refuse to start its sound before a click.
    assert!(app
        .value("#share-embed")
        .await
        .starts_with("<audio controls autoplay muted"));
    // The embed code plays an MP3 mount's live moment, and the panel says where it can.
    let live = app.text("#share-live").await;
    assert!(live.starts_with("It plays the live moment"), "{live:?}");
    screen.screenshot(&artifacts().join("live-window.png"));

    let file = home.dir.path().join("heard.mp3");
    let body = listener.heard(&app, &file).await;
    assert!(
        wait_mount(ice, "/e2e.mp3", false).await,
        "the mount is gone after Stop"
    );
    let secs = decoded_seconds(&file);
    assert!(
        secs >= 3.0,
        "the listener heard {secs} s of audio ({} bytes)",
        body.len()
    );
    // The local recording holds all of it, in the Music folder (sound only), and the window says
    // where it is.
    let recordings: Vec<PathBuf> = std::fs::read_dir(home.dir.path().join("Music/Icecream"))
        .expect("a recordings folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    assert!(
        recordings[0].extension().is_some_and(|e| e == "mp4"),
        "{recordings:?}"
    );
    let kept = decoded_seconds(&recordings[0]);
    // The MP3 the listener got is a little longer: encoder delay and the end padding.
    assert!(
        kept >= secs - 0.3,
        "the recording has {kept} s, the listener heard {secs} s"
    );
    let notice = app.text("#notice").await;
    assert!(
        notice.contains("The recording is in") && notice.contains("Music/Icecream"),
        "{notice}"
    );
    assert_eq!(
        app.text("#show-recording").await,
        "Show recording",
        "offered after Stop"
    );
    assert_eq!(app.text("#rec").await, "", "no REC light once stopped");
    // The last broadcast's figures stay on screen after Stop.
    let kept_shown = app.text("#stat-bytes").await;
    assert!(
        kept_shown.ends_with("kB") || kept_shown.ends_with("MB"),
        "the bytes sent stay after Stop: {kept_shown}"
    );

    // The log a person can send: the broadcast's states and ffmpeg's lines, never the password.
    let log = std::fs::read_to_string(home.data_dir().join("logs/icecream.log")).expect("a log file");
    for said in [
        "broadcast: Connecting",
        "broadcast: LIVE",
        "broadcast: Stopped",
        "ffmpeg[",
    ] {
        assert!(log.contains(said), "the log lacks {said:?}:\n{log}");
    }
    assert!(
        !log.contains(ice.source_password.expose()),
        "the log holds the password"
    );
    app.quit().await;
}

#[tokio::test]
async fn wrong_password_is_said_plainly_and_the_app_stays_usable() {
    let Stage {
        ice, screen, home, ..
    } = &Stage::new().await;
    let app = App::launch(screen, home).await;
    fill_settings(&app, ice, "/wrong.mp3", "not-the-password", "mp3", "auto").await;
    app.click("#audio-only").await;
    app.click("#golive").await;
    let status = app.wait_status("Stopped:").await;
    assert_eq!(
        status,
        format!("Stopped: {}", icecream_engine::IcecastError::WrongPassword),
        "the engine's sentence is shown"
    );
    assert!(!status.contains("not-the-password"));
    assert_eq!(app.text("#golive").await, "Go live");
    // Still usable: fix the password and go live.
    fill_settings(
        &app,
        ice,
        "/wrong.mp3",
        ice.source_password.expose(),
        "mp3",
        "auto",
    )
    .await;
    // The keyboard shortcut its tooltip names goes live and stops.
    let title = app.el("#golive").await.attr("title").await.unwrap();
    assert_eq!(title.as_deref(), Some("Go live (Ctrl+Shift+L)"));
    press_ctrl_shift(&app, 'l').await;
    app.wait_status("LIVE").await;
    press_ctrl_shift(&app, 'l').await;
    app.wait_status("Stopped").await;
    app.quit().await;
}

/// Ctrl+Shift+`key`, pressed as a person does (WebDriver key actions).
async fn press_ctrl_shift(app: &App, key: char) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Control.into(),
        })
        .then(KeyAction::Down {
            value: Key::Shift.into(),
        })
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key })
        .then(KeyAction::Up {
            value: Key::Shift.into(),
        })
        .then(KeyAction::Up {
            value: Key::Control.into(),
        });
    app.client.perform_actions(keys).await.unwrap();
}

#[tokio::test]
async fn settings_survive_a_restart_and_the_password_stays_private() {
    let Stage {
        ice, screen, home, ..
    } = &Stage::new().await;
    let app = App::launch(screen, home).await;
    fill_settings(&app, ice, "/kept.ogg", "kept-secret-pw", "ogg-vorbis", "auto").await;
    app.quit().await;

    let app = App::launch(screen, home).await;
    // The recorder's 2-second self-test has run: Picture and sound says what this webview can do.
    app.wait_self_tested().await;
    app.click("#open-settings").await;
    app.show_section("picture").await;
    assert_eq!(
        app.text("#capture-hint").await,
        "Icecream's page can encode the picture itself (WebCodecs); the web engine's recorder \
         (MediaRecorder) gives no video here and records sound. Automatic: the page encodes the \
         picture, and the recorder records the sound wherever Icecream cannot capture it itself."
    );
    app.show_section("destinations").await;
    let field = |name: &'static str| {
        let app = &app;
        async move { app.value(&format!("#settings-form [name=\"{name}\"]")).await }
    };
    app.wait_for(
        || async { field("port").await == ice.port.to_string() },
        "the saved port",
    )
    .await;
    assert_eq!(field("host").await, "127.0.0.1");
    assert_eq!(field("mount").await, "/kept.ogg");
    assert_eq!(field("format").await, "ogg-vorbis");
    assert_eq!(field("name").await, "Icecream end to end");
    // The password is kept, but never sent back to the page.
    assert_eq!(field("password").await, "");
    let placeholder = app
        .el("#settings-form [name=\"password\"]")
        .await
        .attr("placeholder")
        .await
        .unwrap();
    assert_eq!(placeholder.as_deref(), Some("Saved (leave empty to keep it)"));
    let kept_text = app.text("#password-kept").await;
    let source = app.client.source().await.unwrap();
    assert!(
        !source.contains("kept-secret-pw"),
        "the password is not in the page"
    );
    app.quit().await;

    let data = home.data_dir();
    let store = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(
        !store.contains("kept-secret-pw"),
        "the password is not in the settings store"
    );
    let pw = data.join("password");
    assert_eq!(std::fs::read_to_string(&pw).unwrap(), "kept-secret-pw");
    assert_eq!(
        kept_text,
        format!(
            "No keyring service runs on this computer, so the password is kept in {}, a file only you \
             can read.",
            pw.display()
        ),
        "Settings says where the password is"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&pw).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the user can read the password file");
}

#[tokio::test]
async fn first_run_tries_it_on_this_computer_and_watches_the_broadcast() {
    let _one = ONE_AT_A_TIME.lock().await;
    let screen = Screen::start();
    let home = Home::new();
    let app = App::launch(&screen, &home).await;
    // No server yet: the first-run offer is there and Go live waits for one.
    assert!(app.el("#golive").await.attr("disabled").await.unwrap().is_some());
    // Locked down: a command the page does not use (the IPC benchmark's) is refused.
    let refused = app
        .client
        .execute_async(
            "const done = arguments[0]; window.__TAURI__.core.invoke('bench_json', { data: [1] })\
             .then(() => done('allowed'), (e) => done(String(e)))",
            vec![],
        )
        .await
        .unwrap();
    assert!(refused.as_str().unwrap().contains("not allowed"), "{refused}");
    app.click("#audio-only").await;
    app.click("#try-local").await;
    app.wait_for(
        || async { app.el("#golive").await.attr("disabled").await.unwrap().is_none() },
        "the private server",
    )
    .await;
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    let url = app.value("#share-url").await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/live.mp3"),
        "{url}"
    );
    app.click("#watch-toggle").await;
    // The in-app player plays what listeners get: its clock moves.
    let played = || async {
        let t = app
            .client
            .execute(
                "return document.getElementById('watch-player').currentTime",
                vec![],
            )
            .await
            .unwrap();
        t.as_f64().unwrap_or(0.0)
    };
    app.wait_for(|| async { played().await > 1.0 }, "the Watch player to play")
        .await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    // The private server lives in the app's data folder and stops with the app.
    let conf = home.data_dir().join("local-icecast/icecast.xml");
    assert!(conf.is_file());
    let pid_of_server = || {
        let out = Command::new("pgrep")
            .args(["-f", conf.to_str().unwrap()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert!(
        !pid_of_server().is_empty(),
        "the private server runs while the app does"
    );
    app.quit().await;
    for _ in 0..50 {
        if pid_of_server().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the private server outlived the app");
}

/// One ffprobe answer, as CSV lines.
fn probe(file: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "csv=p=0"])
        .args(args)
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn goes_live_with_camera_and_microphone_through_webcodecs_to_a_webm_mount() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let app = stage.app_set_for("/e2e.webm", "webm-video", "auto").await;
    // A size changed in Settings after the camera opened goes out at that size.
    app.wait_self_tested().await;
    open_settings(&app).await;
    app.type_into("width", "320").await;
    app.type_into("height", "240").await;
    save_settings(&app).await;
    let listener = go_live_and_listen(&app, ice, "/e2e.webm").await;
    assert_eq!(
        chunk_lane(&app).await,
        "socket",
        "chunks go over the chunk socket"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    screen.screenshot(&artifacts().join("live-video-window.png"));
    // Watch plays the mount as listeners get it: pictures decoded, its clock moving, no error.
    app.click("#watch-toggle").await;
    let watched = || async {
        let w = app
            .client
            .execute(
                "const p = document.getElementById('watch-player'); \
                 return p ? [p.currentTime, p.getVideoPlaybackQuality().totalVideoFrames, p.error ? p.error.code : 0] : [0, 0, 0]",
                vec![],
            )
            .await
            .unwrap();
        let n = |i: usize| w[i].as_f64().unwrap_or(0.0);
        assert_eq!(n(2), 0.0, "the Watch player reported a media error");
        (n(0), n(1))
    };
    app.wait_for(
        || async {
            let (clock, frames) = watched().await;
            clock > 1.0 && frames > 0.0
        },
        "the Watch player to play the live WebM video",
    )
    .await;
    screen.screenshot(&artifacts().join("watching-video.png"));
    app.click("#watch-toggle").await;
    // Kept with the screenshots: what a listener got is the first thing to look at if this fails.
    let file: PathBuf = artifacts().join("watched.webm");
    let body = listener.heard(&app, &file).await;

    let codecs = probe(&file, &["-show_entries", "stream=codec_name"]);
    assert_eq!(codecs, ["vp8", "opus"], "camera and microphone are both on air");
    let size = probe(
        &file,
        &["-select_streams", "v:0", "-show_entries", "stream=width,height"],
    );
    assert_eq!(size, ["320,240"], "the size chosen in Settings went out");
    let secs = decoded_seconds(&file);
    assert!(secs >= 4.0, "the listener got {secs} s ({} bytes)", body.len());
    // A keyframe at least every second, from the first frame the listener got.
    let packets = probe(
        &file,
        &["-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"],
    );
    let keys: Vec<f64> = packets
        .iter()
        .filter(|l| l.contains('K'))
        .filter_map(|l| l.split(',').next()?.parse().ok())
        .collect();
    assert!(
        packets.first().is_some_and(|l| l.contains('K')),
        "the listener starts on a keyframe"
    );
    assert!(keys.len() >= 4, "keyframes: {keys:?}");
    // No frame more than a second after the last keyframe is a delta frame. (A camera that
    // stalls under load gives no frames at all for a while; that is not a missing keyframe.)
    let mut last_key = 0.0;
    for line in &packets {
        let Some(pts) = line.split(',').next().and_then(|t| t.parse::<f64>().ok()) else {
            continue;
        };
        if line.contains('K') {
            last_key = pts;
        } else {
            assert!(
                pts - last_key <= 1.0,
                "a delta frame {:.3} s after the last keyframe (at {last_key}): {keys:?}",
                pts - last_key
            );
        }
    }
    // Audio and video start together.
    let starts: Vec<f64> = probe(&file, &["-show_entries", "stream=start_time"])
        .iter()
        .filter_map(|l| l.parse().ok())
        .collect();
    assert_eq!(starts.len(), 2);
    assert!((starts[0] - starts[1]).abs() < 0.040, "start times {starts:?}");

    // Stop loses nothing: the recording holds every frame the camera gave the encoder and every
    // second of sound, and the listener's stream ends on that same last frame and packet.
    let captured = app
        .client
        .execute("return window.icecreamCaptureStats()", vec![])
        .await
        .unwrap();
    let frames = captured["frames"].as_u64().unwrap() as usize;
    let sound = captured["audioSeconds"].as_f64().unwrap();
    let recording = std::fs::read_dir(home.dir.path().join("Videos/Icecream"))
        .expect("a recordings folder")
        .flatten()
        .next()
        .expect("a recording")
        .path();
    let sizes =
        |file: &Path, stream: &str| probe(file, &["-select_streams", stream, "-show_entries", "packet=size"]);
    let kept = sizes(&recording, "v:0");
    assert_eq!(kept.len(), frames, "every captured frame is in the recording");
    let audio = probe(
        &recording,
        &[
            "-select_streams",
            "a:0",
            "-show_entries",
            "packet=pts_time,duration_time",
        ],
    );
    let times: Vec<(f64, f64)> = audio
        .iter()
        .filter_map(|l| {
            let (p, d) = l.split_once(',')?;
            Some((p.parse().ok()?, d.parse().ok()?))
        })
        .collect();
    let kept_sound = times.last().unwrap().0 + times.last().unwrap().1 - times[0].0;
    assert!(
        (kept_sound - sound).abs() < 0.03,
        "the recording has {kept_sound:.3} s of sound; {sound:.3} s were captured"
    );
    for stream in ["v:0", "a:0"] {
        let (all, heard) = (sizes(&recording, stream), sizes(&file, stream));
        let at = all
            .windows(heard.len().min(8))
            .position(|w| w == &heard[..w.len()])
            .expect("the listener's packets are the recording's");
        assert_eq!(
            &all[at..],
            &heard[..],
            "the listener got the recording's {stream} packets up to its very last"
        );
    }
    app.quit().await;
}

#[tokio::test]
async fn bad_input_is_refused_plainly_and_nothing_is_lost() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    // A settings file someone damaged: kept aside, never overwritten, and the app says so.
    let data = home.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    let damaged = b"{\"settings\": {\"server\": {\"host\": 12, ";
    std::fs::write(data.join("settings.json"), damaged).unwrap();
    let app = App::launch(screen, home).await;
    let notice = app.text("#notice").await;
    assert!(
        notice.starts_with("Your settings file could not be read (it is not valid JSON")
            && notice.contains("settings.damaged-"),
        "{notice}"
    );
    let aside: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("settings.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert_eq!(
        std::fs::read(&aside[0]).unwrap(),
        damaged,
        "the damaged file is kept as it was"
    );
    // While live, a chunk far too big for a recorder is refused in words, and the broadcast goes on.
    let password = ice.source_password.expose();
    fill_settings(&app, ice, "/bad.mp3", password, "mp3", "recorder").await;
    app.click("#audio-only").await;
    let listener = go_live_and_listen(&app, ice, "/bad.mp3").await;
    // By a call, and over the chunk socket, the way the page sends chunks.
    let by_call = "const done = arguments[0];\
        window.__TAURI__.core.invoke('push_chunk', new Uint8Array(17 * 1024 * 1024))\
          .then(() => done('accepted'), (e) => done(e.message || String(e)))";
    let by_socket = "const done = arguments[0];\
        window.__TAURI__.core.invoke('chunk_socket').then((url) => {\
          const ws = new WebSocket(url);\
          ws.onopen = () => ws.send(new Uint8Array(17 * 1024 * 1024));\
          ws.onmessage = (e) => { ws.close(); done(e.data); };\
          ws.onerror = () => done('no socket');\
        })";
    for script in [by_call, by_socket] {
        let said = app.client.execute_async(script, vec![]).await.unwrap();
        assert_eq!(
            said.as_str().unwrap(),
            "A recorder chunk of 17.8 MB was refused: chunks over 16.8 MB are not media from the recorder."
        );
    }
    // Only the app's page gets in: a wrong token or another origin is refused before any chunk.
    let url = app
        .client
        .execute_async(
            "window.__TAURI__.core.invoke('chunk_socket').then(arguments[0])",
            vec![],
        )
        .await
        .unwrap();
    let url = url.as_str().unwrap();
    assert_eq!(upgrade(url, "tauri://localhost").await, 101, "the app's own page");
    assert_eq!(upgrade(url, "http://example.org").await, 403, "another origin");
    // One character off (a token that already ends in 'x' gets a 'y': once in 64 runs it did).
    let other = if url.ends_with('x') { 'y' } else { 'x' };
    let guessed = format!("{}{other}", &url[..url.len() - 1]);
    assert_eq!(upgrade(&guessed, "tauri://localhost").await, 403, "a wrong token");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(app.text("#status").await.starts_with("LIVE"), "still live");
    let heard = home.dir.path().join("after-bad-input.mp3");
    listener.heard(&app, &heard).await;
    assert!(decoded_seconds(&heard) > 2.0, "the broadcast went on");
    app.quit().await;
}

/// How the live page sends its chunks: "socket" or "calls" (ui/js/ipc.js, ChunkLane.via).
async fn chunk_lane(app: &App) -> String {
    let via = app
        .client
        .execute("return window.icecreamChunkLane", vec![])
        .await
        .unwrap();
    via.as_str().unwrap_or_default().to_string()
}

/// The HTTP status a WebSocket upgrade to `url` (ws://127.0.0.1:port/path) gets from `origin`.
async fn upgrade(url: &str, origin: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("ws://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: {origin}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap()
}

/// Processes whose parent is `pid` and whose name is `comm`.
fn children_named(pid: u32, comm: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid = stat.rsplit(") ").next()?.split(' ').nth(1)?;
            (stat.contains(&format!("({comm})")) && ppid == pid.to_string()).then_some(child)
        })
        .collect()
}

#[tokio::test]
async fn sigterm_stops_the_broadcast_cleanly_before_the_app_goes() {
    let stage = &Stage::new().await;
    let Stage { ice, home, .. } = stage;
    let app = stage.app_set_for("/term.mp3", "mp3", "recorder").await;
    app.click("#audio-only").await;
    let listener = go_live_and_listen(&app, ice, "/term.mp3").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let pid = app.pid(home).expect("the app's process");
    let encoders = children_named(pid, "ffmpeg");
    assert_eq!(encoders.len(), 1, "one ffmpeg while live");
    // SAFETY: kill(2) on the app this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    let mut gone = false;
    for _ in 0..200 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the app quits on SIGTERM");
    assert!(
        wait_mount(ice, "/term.mp3", false).await,
        "the stream was ended, the mount is free"
    );
    for p in encoders {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists(),
            "ffmpeg {p} is gone, not even a zombie"
        );
    }
    let (_, body) = tokio::time::timeout(Duration::from_secs(20), listener.0)
        .await
        .expect("the listener's stream ended")
        .unwrap()
        .unwrap();
    let heard = home.dir.path().join("heard.mp3");
    std::fs::write(&heard, &body).unwrap();
    assert!(decoded_seconds(&heard) > 2.0, "the listener heard the broadcast");
    let recording = std::fs::read_dir(home.dir.path().join("Music/Icecream"))
        .expect("a recordings folder")
        .flatten()
        .next()
        .expect("a recording")
        .path();
    assert!(
        decoded_seconds(&recording) > 2.0,
        "the recording is complete and plays"
    );
    drop(app);
}

/// A certificate the server made itself, for localhost (openssl, as a server's owner would make
/// one): the PEM Icecast reads (certificate and key) and its SHA-256 fingerprint as shown.
fn own_certificate(dir: &Path) -> (PathBuf, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let pem = dir.join("server.pem");
    let both = [std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()].concat();
    std::fs::write(&pem, both).unwrap();
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&fp.stdout);
    let sha256 = text.trim().rsplit('=').next().unwrap().to_string();
    (pem, sha256)
}

#[tokio::test]
async fn trusts_a_servers_own_certificate_and_goes_live() {
    let one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::Builder::new()
        .prefix("icecream-e2e-tls-")
        .tempdir()
        .unwrap();
    let (pem, sha256) = own_certificate(dir.path());
    let opts = LocalOptions {
        tls_certificate: Some(pem),
        ..Default::default()
    };
    let ice = LocalIcecast::start(&dir.path().join("icecast"), &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = ice.tls_port.unwrap();
    let (screen, home) = (Screen::start(), Home::new());
    let app = App::launch(&screen, &home).await;

    open_settings(&app).await;
    app.type_into("host", "localhost").await;
    app.type_into("port", &port.to_string()).await;
    app.click("#settings-form [name=\"tls\"]").await;
    app.type_into("mount", "/tls.mp3").await;
    app.type_into("password", ice.source_password.expose()).await;
    app.choose("format", "mp3").await;
    save_settings(&app).await;
    app.click("#audio-only").await;

    // Go live: refused, the sentence with the fingerprint, and the offer to trust it.
    app.click("#golive").await;
    let status = app.wait_status("Stopped:").await;
    assert_eq!(
        status,
        format!(
            "Stopped: {}",
            icecream_engine::NetError::UntrustedCertificate {
                host: "localhost".into(),
                port,
                sha256: sha256.parse().unwrap(),
            }
        )
    );
    assert!(status.contains(&sha256), "the fingerprint is shown: {status}");
    app.wait_for(
        || async {
            app.client
                .find(fantoccini::Locator::Css("#notice .trust-certificate"))
                .await
                .is_ok()
        },
        "the offer to trust the certificate",
    )
    .await;
    // The screen shows what the page drew a moment ago.
    tokio::time::sleep(Duration::from_secs(1)).await;
    screen.screenshot(&artifacts().join("trust-certificate.png"));
    app.click("#notice .trust-certificate").await;
    app.wait_for(
        || async { app.text("#notice").await.contains("is trusted from now on") },
        "the certificate to be trusted",
    )
    .await;

    // Live through TLS, and a listener hears it.
    let listener = go_live_and_listen(&app, &ice, "/tls.mp3").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let file = home.dir.path().join("heard-tls.mp3");
    listener.heard(&app, &file).await;
    assert!(decoded_seconds(&file) >= 1.0);

    // Settings lists the pin, and can forget it; Test connection then offers it again.
    open_settings(&app).await;
    let listed = app.text("#trusted-list").await;
    assert!(
        listed.contains(&format!("localhost:{port}")) && listed.contains(&sha256),
        "the pin is listed: {listed}"
    );
    app.click("#trusted-list button").await;
    app.wait_for(
        || async {
            app.el("#trusted-certificates")
                .await
                .attr("hidden")
                .await
                .unwrap()
                .is_some()
        },
        "the pin to be forgotten",
    )
    .await;
    app.click("#test-connection").await;
    app.wait_for(
        || async {
            app.client
                .find(fantoccini::Locator::Css("#test-results .trust-certificate"))
                .await
                .is_ok()
        },
        "Test connection to offer the certificate",
    )
    .await;
    app.click("#test-results .trust-certificate").await;
    app.wait_for(
        || async { app.text("#settings-message").await == "The server accepts this broadcast." },
        "Test connection to pass once trusted",
    )
    .await;
    assert!(app.text("#trusted-list").await.contains(&sha256));
    app.quit().await;
    drop(one);
}

#[tokio::test]
async fn the_password_lives_in_the_keyring() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let keyring = crate::session_bus::SecretService::start();
    let env = [("DBUS_SESSION_BUS_ADDRESS", keyring.address.as_str())];
    // A password file from before the keyring: it moves in at start and is deleted.
    let data = home.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("password"), "an-older-password").unwrap();
    let app = App::launch_with(screen, home, &env).await;
    assert_eq!(keyring.app_password().as_deref(), Some("an-older-password"));
    assert!(!data.join("password").exists(), "the old file is gone");

    let password = ice.source_password.expose();
    fill_settings(&app, ice, "/keyring.mp3", password, "mp3", "auto").await;
    assert_eq!(keyring.app_password().as_deref(), Some(password));
    for file in crate::session_bus::files_under(home.dir.path()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(password),
            "{} holds the password",
            file.display()
        );
    }
    open_settings(&app).await;
    assert_eq!(
        app.text("#password-kept").await,
        "The password is kept in this computer's keyring."
    );
    app.quit().await;

    // Read back after a restart: the broadcast logs in with it.
    let app = App::launch_with(screen, home, &env).await;
    app.click("#audio-only").await;
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    app.quit().await;

    // The CLI uses the app's saved password.
    // The CLI is the engine package's binary, built beside the app by `cargo test --workspace`.
    let cli = Path::new(env!("CARGO_BIN_EXE_icecream-desktop")).with_file_name("icecream");
    assert!(cli.exists(), "build the CLI too: cargo build -p icecream-engine");
    let out = Command::new(cli)
        .args([
            "test-connection",
            "--saved-password",
            "--host",
            "127.0.0.1",
            "--port",
        ])
        .arg(ice.port.to_string())
        .args(["--mount", "/keyring.mp3"])
        .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
        .env("HOME", home.dir.path())
        .env("XDG_DATA_HOME", home.dir.path().join("data"))
        .env_remove("ICECREAM_PASSWORD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_second_launch_hands_over_to_the_first_window() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (screen, home) = (Screen::start(), Home::new());
    let bus = crate::session_bus::SessionBus::start();
    let env = [("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())];
    let app = App::launch_with(&screen, &home, &env).await;
    let first = App::pids(&home);
    assert_eq!(first.len(), 1, "{first:?}");

    // Launched again as a person would, from the menu: same user, same session.
    let mut second = Command::new(env!("CARGO_BIN_EXE_icecream-desktop"))
        .env("DISPLAY", &screen.display)
        .env("HOME", home.dir.path())
        .env("XDG_DATA_HOME", home.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
        .env("XDG_CACHE_HOME", home.dir.path().join("cache"))
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("ICECREAM_MOCK_CAPTURE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if status.is_none() {
        let _ = second.kill();
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "the second launch exits within 5 s: {status:?}"
    );
    assert_eq!(App::pids(&home), first, "the first app is the only one");
    app.wait_for(
        || async { app.log_text().contains("a second launch was asked for") },
        "the first window to be shown",
    )
    .await;
    assert_eq!(
        app.text("#golive").await,
        "Go live",
        "the first window still answers"
    );
    app.quit().await;
}

/// The folder dialog's title (commands.rs).
const FOLDER_DIALOG: &str = "Where Icecream keeps its recordings";

#[tokio::test]
async fn the_recordings_folder_is_chosen_with_the_folder_dialog() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let app = stage.app_set_for("/folder.mp3", "mp3", "recorder").await;
    app.click("#audio-only").await;
    let chosen = home.dir.path().join("Shows/Friday night");
    std::fs::create_dir_all(&chosen).unwrap();

    // Cancelled: nothing changes.
    open_settings(&app).await;
    app.show_section("recording").await;
    app.click("#choose-folder").await;
    screen.focus_window(FOLDER_DIALOG).await;
    screen.xdotool(&["key", "Escape"]);
    wait_closed(screen, FOLDER_DIALOG).await;
    assert_eq!(app.value("#settings-form [name=\"folder\"]").await, "");

    // Chosen as a person does: the location typed (Ctrl+L), then Select.
    app.click("#choose-folder").await;
    screen.focus_window(FOLDER_DIALOG).await;
    screen.xdotool(&["key", "ctrl+l"]);
    screen.xdotool(&["type", "--delay", "20", &format!("{}/", chosen.display())]);
    screen.screenshot(&artifacts().join("folder-dialog.png"));
    screen.xdotool(&["key", "Return"]);
    // The page is not asked anything while the dialog is up: WebKitWebDriver takes the modal
    // dialog's wait for a hung page.
    wait_closed(screen, FOLDER_DIALOG).await;
    let wanted = chosen.display().to_string();
    assert_eq!(app.value("#settings-form [name=\"folder\"]").await, wanted);
    save_settings(&app).await;
    let saved = std::fs::read_to_string(home.data_dir().join("settings.json")).unwrap();
    assert!(
        saved.contains(&serde_json::to_string(&wanted).unwrap()),
        "settings.json holds the folder: {saved}"
    );

    // The next broadcast is recorded there.
    let listener = go_live_and_listen(&app, ice, "/folder.mp3").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    listener.heard(&app, &home.dir.path().join("heard.mp3")).await;
    let kept: Vec<PathBuf> = std::fs::read_dir(&chosen)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(kept.len(), 1, "one recording in the chosen folder: {kept:?}");
    assert!(decoded_seconds(&kept[0]) >= 2.0, "{kept:?}");
    app.quit().await;
}

async fn wait_closed(screen: &Screen, title: &str) {
    for _ in 0..50 {
        if !screen.shows_window(title) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screen.screenshot(&artifacts().join("window-left-open.png"));
    panic!("the window {title:?} is still open after 5 s");
}

/// Another program's window in front of the app's `window`, with the keyboard and the pointer.
/// Kill the program when done.
async fn other_program_in_front(screen: &Screen, window: &str) -> std::process::Child {
    let other = Command::new("xmessage")
        .args([
            "-name",
            "other-program",
            "-geometry",
            "400x200+0+0",
            "Another program",
        ])
        .env("DISPLAY", &screen.display)
        .spawn()
        .expect("xmessage (package x11-utils)");
    let front = screen.focus_window("other-program").await;
    screen.xdotool(&["mousemove", "--window", &front, "20", "20"]);
    assert_ne!(screen.xdotool(&["getwindowfocus"]), window);
    other
}

/// Stop, which is not announced (still `told` notifications in all); then the other program and
/// the app go.
async fn stop_unannounced(
    app: App,
    notifications: &crate::session_bus::Notifications,
    told: usize,
    mut other: std::process::Child,
) {
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    assert_eq!(
        notifications.shown().len(),
        told,
        "Stop is the person's own doing"
    );
    let _ = other.kill();
    let _ = other.wait();
    app.quit().await;
}

#[tokio::test]
async fn a_drop_behind_other_windows_is_told_by_a_notification() {
    let mut stage = Stage::new().await;
    let notifications = crate::session_bus::Notifications::start(&stage.screen.display);
    let app = stage.app_told_by(&notifications, "/told.mp3").await;
    app.click("#audio-only").await;
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    let screen = &stage.screen;

    // While the window has the keyboard, its status line says it all: no notification.
    let window = screen.focus_window("Icecream").await;
    stage.ice.kill();
    app.wait_status("Reconnecting").await;
    stage.ice.restart().await.unwrap();
    app.wait_status("LIVE").await;
    assert_eq!(
        notifications.shown(),
        vec![],
        "nothing while the window is in front"
    );

    let other = other_program_in_front(screen, &window).await;
    stage.ice.kill();
    app.wait_status("Reconnecting").await;
    stage.ice.restart().await.unwrap();
    app.wait_status("LIVE").await;
    let shown = notifications.shown();
    let summaries: Vec<&str> = shown.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        summaries,
        ["Your broadcast dropped", "You are live again"],
        "{shown:?}"
    );
    assert!(
        shown[0]
            .1
            .contains("Icecream is reconnecting; the recording goes on."),
        "{shown:?}"
    );
    for (_, body) in &shown {
        assert!(
            !body.contains("Error {") && !body.contains("Other("),
            "plain words: {body}"
        );
    }
    stop_unannounced(app, &notifications, 2, other).await;
}

/// In the open Settings: a new destination on `ice`, named and with its own mount, for Ogg Vorbis.
pub(crate) async fn add_destination(app: &App, ice: &LocalIcecast, name: &str, mount: &str) {
    app.click("#add-destination").await;
    app.type_into("destination_name", name).await;
    app.type_into("host", "127.0.0.1").await;
    app.type_into("port", &ice.port.to_string()).await;
    app.type_into("mount", mount).await;
    app.type_into("password", ice.source_password.expose()).await;
    app.choose("format", "ogg-vorbis").await;
}

fn destination_row(i: usize) -> String {
    format!("#destination-rows li[data-index=\"{i}\"]")
}

/// A destination row's state, as the page has it (`live`, `stopped`, …); empty until the row is
/// shown.
async fn row_state(app: &App, i: usize) -> String {
    let state = app.attr(&destination_row(i), "data-state").await;
    state.unwrap_or_default()
}

/// Presses a button in destination `i`'s row (its Stop or Start) and waits until the row says
/// `state` and the server lists its mount, or no longer does.
async fn press_in_row(app: &App, ice: &LocalIcecast, i: usize, button: &str, state: &str, mount: &str) {
    app.click(&format!("{} .{button}", destination_row(i))).await;
    app.wait_for(|| async { row_state(app, i).await == state }, state)
        .await;
    let listed = state == "live";
    assert!(
        wait_mount(ice, mount, listed).await,
        "{mount} listed: {listed} after its {button}"
    );
}

#[tokio::test]
async fn two_destinations_go_live_together_and_one_stops_and_starts_alone() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let app = stage.app_set_for("/first.mp3", "mp3", "recorder").await;
    let password = ice.source_password.expose();

    // A second destination, added in Settings as a person would: its own name, mount, format and
    // password.
    open_settings(&app).await;
    add_destination(&app, ice, "Backup", "/second.ogg").await;
    assert_eq!(
        app.text("#destination-list li:nth-child(2) button").await,
        "Backup"
    );
    // The first is still as it was when picked again.
    app.click("#destination-list li:nth-child(1) button").await;
    assert_eq!(app.value("#settings-form [name=\"mount\"]").await, "/first.mp3");
    save_settings(&app).await;

    app.click("#audio-only").await;
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    let row = destination_row;
    let state_of = |i: usize| row_state(&app, i);
    app.wait_for(
        || async { state_of(0).await == "live" && state_of(1).await == "live" },
        "both destinations live",
    )
    .await;
    assert!(
        app.text("#status").await.ends_with("· 2 of 2"),
        "{}",
        app.text("#status").await
    );
    assert!(app.text(&row(1)).await.contains("Backup"));
    assert!(wait_mount(ice, "/first.mp3", true).await && wait_mount(ice, "/second.ogg", true).await);
    screen.screenshot(&artifacts().join("two-destinations.png"));

    // Backup stops alone; the first stays live.
    press_in_row(&app, ice, 1, "stop-destination", "stopped", "/second.ogg").await;
    assert!(mount_listed(ice, "/first.mp3").await, "the first mount stays");
    assert_eq!(state_of(0).await, "live");
    let status = app.text("#status").await;
    assert!(
        status.starts_with("LIVE") && status.ends_with("· 1 of 2"),
        "{status}"
    );

    screen.screenshot(&artifacts().join("one-destination-stopped.png"));

    // And starts again from its row while the first goes on.
    press_in_row(&app, ice, 1, "start-destination", "live", "/second.ogg").await;
    assert_eq!(state_of(0).await, "live");
    assert!(app.text("#status").await.ends_with("· 2 of 2"));

    app.click("#golive").await;
    app.wait_status("Stopped").await;
    // Each destination's password is kept apart (here in private files: no keyring in this test),
    // none in the settings file.
    let data = home.data_dir();
    let saved = std::fs::read_to_string(data.join("settings.json")).unwrap();
    assert!(!saved.contains(password), "the settings file holds a password");
    let files: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("password"))
        .collect();
    assert_eq!(files.len(), 2, "one password per destination: {files:?}");
    app.quit().await;
}

#[tokio::test]
async fn each_destination_that_drops_is_named_in_its_notification() {
    let mut stage = Stage::new().await;
    let notifications = crate::session_bus::Notifications::start(&stage.screen.display);
    let app = stage.app_told_by(&notifications, "/named.mp3").await;
    open_settings(&app).await;
    add_destination(&app, &stage.ice, "Backup", "/backup.ogg").await;
    save_settings(&app).await;
    app.click("#audio-only").await;
    app.click("#golive").await;
    let both = |state: &'static str| {
        let app = &app;
        move || async move { row_state(app, 0).await == state && row_state(app, 1).await == state }
    };
    app.wait_for(both("live"), "both destinations live").await;

    // Behind another program's window, the server goes away and comes back: each destination is
    // told of by its name, the broadcast as a whole not as well.
    let screen = &stage.screen;
    let window = screen.focus_window("Icecream").await;
    let other = other_program_in_front(screen, &window).await;
    stage.ice.kill();
    app.wait_for(both("reconnecting"), "both destinations reconnecting")
        .await;
    stage.ice.restart().await.unwrap();
    app.wait_for(both("live"), "both destinations live again").await;
    let mut summaries: Vec<String> = notifications.shown().into_iter().map(|(s, _)| s).collect();
    summaries.sort();
    assert_eq!(
        summaries,
        [
            "127.0.0.1/named.mp3 dropped",
            "127.0.0.1/named.mp3 is live again",
            "Backup dropped",
            "Backup is live again",
        ]
    );
    stop_unannounced(app, &notifications, 4, other).await;
}
