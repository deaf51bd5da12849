//! The app broadcasting sound alone from a real sound server: PulseAudio started by the test (a
//! null sink, a microphone remapped from its monitor, no mock microphone involved), the input
//! chosen on the stage, the engine capturing it, four mounts at once, and each listener's copy
//! laid against the played signal sample by sample, as the CLI's test does.

#[path = "../../engine/tests/integration/support/listener.rs"]
#[allow(dead_code)]
pub(crate) mod listener;
#[path = "../../engine/tests/integration/support/pulse.rs"]
#[allow(dead_code)]
pub(crate) mod pulse;
#[path = "../../engine/tests/integration/support/sound.rs"]
#[allow(dead_code)]
pub(crate) mod signal;

use std::path::Path;
use std::time::Duration;

use icecream_engine::MountFormat;

use crate::desktop::{artifacts, App, Home, Screen};
use crate::journeys::{add_destination, fill_settings, open_settings, save_settings, wait_mount, Stage};
use listener::Listener;
use pulse::Pulse;

const MOUNTS: [(&str, &str, MountFormat); 4] = [
    ("/app.oga", "ogg-flac", MountFormat::OggFlac),
    ("/app.opus", "ogg-opus", MountFormat::OggOpus),
    ("/app.webm", "webm-audio", MountFormat::WebmAudio),
    ("/app.mp3", "mp3", MountFormat::Mp3),
];

/// The stage's sound line once it says `needle`.
pub(crate) async fn sound_line_says(app: &App, needle: &str) -> String {
    for _ in 0..150 {
        let line = app.text("#sound-line").await;
        if line.contains(needle) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let line = app.text("#sound-line").await;
    let log = app.log_text();
    panic!(
        "waited 30 s for the sound line to say {needle:?}; it says {line:?}\n--- the app's log ---\n{log}"
    );
}

#[tokio::test]
async fn sound_alone_is_captured_by_the_engine_and_reaches_every_mount_whole() {
    let (first, format, _) = MOUNTS[0];
    let (pulse, stage, app) = hearing(first, format).await;
    let Stage {
        ice, screen, home, ..
    } = &stage;
    open_settings(&app).await;
    for (i, (mount, format, _)) in MOUNTS.iter().enumerate().skip(1) {
        add_destination(&app, ice, &format!("Mount {}", i + 1), mount).await;
        app.choose("format", format).await;
    }
    save_settings(&app).await;

    radio_from_the_mic(&app, home).await;

    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("signal.wav");
    signal::write_signal(&wav);
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    for (mount, _, _) in MOUNTS {
        assert!(wait_mount(ice, mount, true).await, "{mount} went live");
    }
    let mut listeners = Vec::new();
    for (mount, _, _) in MOUNTS {
        listeners.push(Listener::connect_when_served(&ice.endpoint(), mount).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    play_then_stop(&app, &pulse, screen, &wav, "sound-alone-live.png").await;
    // The page recorded nothing: no chunk went from it.
    let lane = app
        .client
        .execute("return String(window.icecreamChunkLane)", vec![])
        .await
        .unwrap();
    assert_eq!(lane.as_str(), Some("undefined"), "the page opened no chunk lane");

    let src = signal::decode(&wav);
    let mut all = Vec::new();
    for (listener, (mount, _, format)) in listeners.into_iter().zip(MOUNTS) {
        let file = dir.path().join(format!("heard{}", mount.replace('/', "-")));
        std::fs::write(&file, listener.finish().await).unwrap();
        let heard = signal::compare(&src, &signal::decode(&file));
        eprintln!("{mount}: {heard:?}");
        all.push((format, heard));
    }
    for (format, heard) in &all {
        signal::check(*format, heard);
    }
    // Back to the meter alone, ready for the next broadcast.
    sound_line_says(&app, "captured by PulseAudio").await;
    app.quit().await;
}

/// Once the engine lists the sound server's inputs, the person picks the microphone.
pub(crate) async fn choose_the_mic(app: &App) {
    sound_line_says(app, "captured by PulseAudio").await;
    app.client
        .execute(
            "const s = document.getElementById('microphone'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('change'));",
            vec![pulse::MIC.into()],
        )
        .await
        .unwrap();
}

/// A sound server of the test's own, a stage, and the app with that server as the computer's,
/// set up for `mount` in `format`.
pub(crate) async fn hearing(mount: &str, format: &str) -> (Pulse, Stage, App) {
    let pulse = Pulse::start();
    let stage = Stage::new().await;
    let env = pulse.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = App::launch_with(&stage.screen, &stage.home, &env).await;
    let password = stage.ice.source_password.expose();
    fill_settings(&app, &stage.ice, mount, password, format, "auto").await;
    (pulse, stage, app)
}

/// Audio only on: the engine lists the sound server's inputs, and the person picks the
/// microphone, which is kept in settings by its id.
async fn radio_from_the_mic(app: &App, home: &Home) {
    app.click("#audio-only").await;
    choose_the_mic(app).await;
    app.wait_for(
        || async {
            let saved = std::fs::read_to_string(home.data_dir().join("settings.json")).unwrap_or_default();
            saved.contains("\"sound_input\": \"mic\"") || saved.contains("\"sound_input\":\"mic\"")
        },
        "the chosen input kept in settings by its id",
    )
    .await;
    sound_line_says(app, "stereo, captured by PulseAudio").await;
}

#[tokio::test]
async fn an_input_unplugged_while_live_is_told_and_the_broadcast_goes_on() {
    let (pulse, stage, app) = hearing("/away.opus", "ogg-opus").await;
    let Stage {
        ice, screen, home, ..
    } = &stage;
    radio_from_the_mic(&app, home).await;
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    signal::lavfi(
        "sine=f=1000:r=48000:d=30",
        &["-ac", "2", "-c:a", "pcm_s16le", tone.to_str().unwrap()],
    );
    let mut player = pulse.play_in_background(&tone);
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    // WebKitGTK (the app's own Watch, muted) plays the Opus the engine encoded.
    app.click("#watch-toggle").await;
    app.wait_for(
        || async {
            let t = (app.client)
                .execute(
                    "return document.getElementById('watch-player').currentTime",
                    vec![],
                )
                .await
                .unwrap();
            t.as_f64().unwrap_or(0.0) > 1.0
        },
        "the Watch player to play the engine's Opus",
    )
    .await;

    pulse.unplug_mic();
    sound_line_says(&app, "The sound input went away").await;
    screen.screenshot(&artifacts().join("sound-input-away.png"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status = app.text("#status").await;
    assert!(status.starts_with("LIVE"), "the broadcast goes on: {status}");
    assert!(wait_mount(ice, "/away.opus", true).await, "the mount stays");

    pulse.plug_mic();
    sound_line_says(&app, "sound is back").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    let said = app.text("#notice").await;
    assert!(said.contains("The sound input was away for"), "{said}");
    assert!(!said.contains("Everything recorded was sent"), "{said}");
    let _ = player.kill();
    let _ = player.wait();
    app.quit().await;
}

/// Plays `wav` into the microphone while live; in its −3 dBFS step the meters read what goes on
/// air (both channels near the top) and the window is kept as `shot`; once it has played, Stop,
/// which says that everything was sent.
pub(crate) async fn play_then_stop(app: &App, pulse: &Pulse, screen: &Screen, wav: &Path, shot: &str) {
    let mut player = pulse.play_in_background(wav);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let peaks: Vec<f64> = meter_peaks(app).await;
    screen.screenshot(&artifacts().join(shot));
    assert!(
        peaks.len() == 2 && peaks.iter().all(|p| (-8.0..=0.0).contains(p)),
        "the meter shows each channel's peak: {peaks:?}"
    );
    let played = tokio::task::spawn_blocking(move || player.wait().unwrap());
    assert!(played.await.unwrap().success(), "paplay played the signal");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    let said = app.text("#notice").await;
    assert!(said.contains("Everything recorded was sent."), "{said}");
}

/// Each channel's peak as the stage's meters show it, in dBFS.
async fn meter_peaks(app: &App) -> Vec<f64> {
    let v = app
        .client
        .execute(
            "return ['level', 'level-right'].map((id) => document.getElementById(id))\
             .filter((m) => !m.hidden).map((m) => m.dataset.peakDbfs)",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str()?.parse().ok()).collect())
        .unwrap_or_default()
}
