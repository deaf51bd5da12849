//! A camera broadcast whose sound the engine captures: the page encodes the pictures alone
//! (WebCodecs, WebKitGTK's mock camera), a real PulseAudio gives the microphone (a null sink's
//! monitor remapped, the signal played with paplay), and the engine puts the pictures beside its
//! own sound on the sound's clock. The listeners' copies: the WebM video mount's sound laid against
//! the played signal sample by sample, its pictures regular and beside the sound; an MP3 mount made
//! by ffmpeg from the same stream; the recording a Matroska video that holds both from the start.

use std::path::PathBuf;
use std::time::Duration;

use icecream_engine::MountFormat;

use crate::desktop::artifacts;
use crate::journeys::{add_destination, open_settings, save_settings, wait_mount, Stage};
use crate::packets::Packets;
use crate::sound::{choose_the_mic, hearing, listener::Listener, play_then_stop, signal, sound_line_says};

#[tokio::test]
async fn the_cameras_pictures_go_beside_the_engines_own_sound() {
    camera_with_the_engines_sound(false).await;
}

/// Both cores busy beside the app (whose webview alone takes most of two): pictures may come less
/// often, the sound still arrives whole.
#[tokio::test]
async fn with_the_cpu_loaded_the_sound_beside_the_pictures_still_arrives_whole() {
    camera_with_the_engines_sound(true).await;
}

async fn camera_with_the_engines_sound(loaded: bool) {
    let (pulse, stage, app) = hearing("/av.webm", "webm-video").await;
    let Stage {
        ice, screen, home, ..
    } = &stage;
    open_settings(&app).await;
    add_destination(&app, ice, "Radio copy", "/av.mp3").await;
    app.choose("format", "mp3").await;
    save_settings(&app).await;
    // Settings as a person opens them again, for docs/: the page's own picture (WebKitWebDriver's),
    // since the root window's lags behind a modal dialog.
    open_settings(&app).await;
    app.show_section("destinations").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    std::fs::write(
        artifacts().join("settings.png"),
        app.client.screenshot().await.unwrap(),
    )
    .unwrap();
    app.click("#cancel-settings").await;

    // With the camera on, the microphone list is the sound server's too.
    choose_the_mic(&app).await;
    sound_line_says(&app, "stereo, captured by PulseAudio").await;

    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("signal.wav");
    signal::write_signal(&wav);
    app.click("#golive").await;
    app.wait_status("LIVE").await;
    for mount in ["/av.webm", "/av.mp3"] {
        assert!(wait_mount(ice, mount, true).await, "{mount} went live");
    }
    let video = Listener::connect_when_served(&ice.endpoint(), "/av.webm").await;
    let mp3 = Listener::connect_when_served(&ice.endpoint(), "/av.mp3").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = loaded.then(signal::Load::both_cores);
    let shot = format!(
        "picture-and-sound-live{}.png",
        if loaded { "-loaded" } else { "" }
    );
    play_then_stop(&app, &pulse, screen, &wav, &shot).await;
    drop(load);

    let src = signal::decode(&wav);
    let webm = dir.path().join("heard-av.webm");
    std::fs::write(&webm, video.finish().await).unwrap();
    let heard_mp3 = dir.path().join("heard-av.mp3");
    std::fs::write(&heard_mp3, mp3.finish().await).unwrap();
    for (file, format) in [(&webm, MountFormat::WebmAudio), (&heard_mp3, MountFormat::Mp3)] {
        let heard = signal::compare(&src, &signal::decode(file));
        eprintln!("{}: {heard:?}", file.display());
        signal::check(format, &heard);
    }
    let listened = Packets::of(&webm);
    assert_eq!(listened.codecs, ["vp8", "opus"], "the video mount carries both");
    listened.pictures_are_regular_and_beside_the_sound("the listener's copy", loaded);

    // The recording: Matroska (the sound kept as captured, PCM), picture and sound from the start.
    let recordings: Vec<PathBuf> = std::fs::read_dir(home.dir.path().join("Videos/Icecream"))
        .expect("a recordings folder")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(recordings.len(), 1, "{recordings:?}");
    assert!(
        recordings[0].extension().is_some_and(|e| e == "mkv"),
        "{recordings:?}"
    );
    let recorded = Packets::of(&recordings[0]);
    assert_eq!(recorded.codecs, ["vp8", "pcm_f32le"], "{recordings:?}");
    let first = |stream: usize| recorded.times(stream).next().expect("packets");
    assert!(
        first(0).abs() < 0.001 && first(1).abs() < 0.001,
        "both start at 0"
    );
    recorded.pictures_are_regular_and_beside_the_sound("the recording", loaded);
    app.quit().await;
}
