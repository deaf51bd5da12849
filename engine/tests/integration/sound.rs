//! Sound from a real sound server, as listeners hear it: PulseAudio started by the test with a
//! null sink and a microphone remapped from its monitor, a stereo test signal played into it with
//! paplay, the CLI broadcasting the microphone (`--device`) to Ogg Opus, WebM audio, MP3 and Ogg
//! FLAC mounts at once, and each listener's copy decoded and laid against the source sample by
//! sample: channels together, nothing missing or moved, levels kept, the band kept, FLAC exact.
//! And Chromium joining the engine's Opus mid-stream.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use icecream_engine::MountFormat;

use crate::support::sound::{self, check};
use crate::support::*;

const MOUNTS: [(&str, MountFormat); 4] = [
    ("/sound.opus", MountFormat::OggOpus),
    ("/sound.webm", MountFormat::WebmAudio),
    ("/sound.mp3", MountFormat::Mp3),
    ("/sound.oga", MountFormat::OggFlac),
];

/// The CLI broadcasting the microphone to every mount of `mounts`, recording into `recorded/`, its
/// words going to `cli.log`.
fn broadcast_mic(ice: &Icecast, pulse: &Pulse, dir: &Path, mounts: &[(&str, MountFormat)]) -> Child {
    let mut settings = ice.settings(mounts[0].0, mounts[0].1);
    for (i, (mount, format)) in mounts.iter().enumerate().skip(1) {
        let mut d = ice.server.destination(mount, *format);
        d.name = format!("Mount {}", i + 1);
        settings.destinations.push(d);
    }
    let file = dir.join("sound.json");
    settings.save(&file).unwrap();
    let mut cmd = cli();
    cmd.args(["stream", "--device", pulse::MIC, "--settings"])
        .arg(&file)
        .arg("--record")
        .arg(dir.join("recorded"))
        .envs(pulse.env())
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("cli.log")).unwrap());
    for i in 2..=mounts.len() {
        cmd.env(format!("ICECREAM_PASSWORD_{i}"), &ice.source_password);
    }
    cmd.spawn().unwrap()
}

/// Ctrl-C, and what the CLI said.
fn stop(mut cli: Child, dir: &Path) -> String {
    signal(cli.id(), libc::SIGINT);
    let status = cli.wait().unwrap();
    let said = std::fs::read_to_string(dir.join("cli.log")).unwrap();
    assert!(status.success(), "{said}");
    said
}

async fn fidelity(loaded: bool) {
    let ice = Icecast::start().await;
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("signal.wav");
    sound::write_signal(&wav);
    let cli = broadcast_mic(&ice, &pulse, dir.path(), &MOUNTS);
    for (mount, _) in MOUNTS {
        assert!(ice.wait_mount(mount, true).await, "{mount} went live");
    }
    let mut listeners = Vec::new();
    for (mount, _) in MOUNTS {
        listeners.push(Listener::connect_when_served(&ice.endpoint(), mount).await);
    }
    let stress = loaded.then(sound::Load::both_cores);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut player = pulse.play_in_background(&wav);
    let played = tokio::task::spawn_blocking(move || player.wait().unwrap());
    assert!(played.await.unwrap().success(), "paplay played the signal");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(stress);
    let said = stop(cli, dir.path());
    eprintln!("--- the CLI said ---\n{said}");
    let src = sound::decode(&wav);
    let mut all = Vec::new();
    for (listener, (mount, format)) in listeners.into_iter().zip(MOUNTS) {
        let file = save(
            dir.path(),
            &format!("heard{}", mount.replace('/', "-")),
            &listener.finish().await,
        );
        assert_eq!(decode_errors(&file), "", "{mount}");
        let heard = sound::compare(&src, &sound::decode(&file));
        eprintln!("{mount}: {heard:?}");
        all.push((format, heard));
    }
    for (format, heard) in &all {
        check(*format, heard);
    }
    // The codec's own figure beside the engine's: ffmpeg's libopus at the same bitrate on the same
    // signal. The engine's Opus is no further from flat than libopus alone, within 0.5 dB (in one
    // run libopus alone came +0.88 dB at 17 kHz, the engine's 0.00).
    let own = dir.path().join("libopus.opus");
    let encoded = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&wav)
        .args(["-c:a", "libopus", "-b:a", "128k"])
        .arg(&own)
        .status()
        .unwrap();
    assert!(encoded.success(), "ffmpeg encodes the signal with libopus");
    let codec = sound::compare(&src, &sound::decode(&own));
    eprintln!("ffmpeg's libopus alone: bands {:?} dB", codec.bands_db);
    let engine_opus = [MountFormat::OggOpus, MountFormat::WebmAudio];
    for (format, heard) in all.iter().filter(|(f, _)| engine_opus.contains(f)) {
        for ((hz, engine), alone) in sound::BANDS_HZ.iter().zip(&heard.bands_db).zip(&codec.bands_db) {
            assert!(
                engine.abs() <= alone.abs() + 0.5,
                "{format:?} at {hz} Hz: {engine:.2} dB, libopus alone {alone:.2} dB"
            );
        }
    }
    // Nothing was lost, and the CLI claims no loss either.
    assert!(said.contains("Stopped. Everything recorded was sent."), "{said}");
}

#[tokio::test]
async fn a_sound_input_reaches_every_mount_whole() {
    fidelity(false).await;
}

#[tokio::test]
async fn a_sound_input_reaches_every_mount_whole_with_the_cpu_loaded() {
    fidelity(true).await;
}

/// What the CLI has said so far, once it has said `needle` (within 10 s).
async fn said_once(dir: &Path, needle: &str) -> String {
    for _ in 0..100 {
        let said = std::fs::read_to_string(dir.join("cli.log")).unwrap_or_default();
        if said.contains(needle) {
            return said;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the CLI never said {needle:?}: {}",
        std::fs::read_to_string(dir.join("cli.log")).unwrap_or_default()
    );
}

#[tokio::test]
async fn an_input_unplugged_mid_broadcast_is_told_and_silence_stands_in_until_it_returns() {
    let ice = Icecast::start().await;
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    lavfi(
        "sine=f=1000:r=48000:d=30",
        &["-ac", "2", "-c:a", "pcm_s16le", tone.to_str().unwrap()],
    );
    let mount = "/away.oga";
    let cli = broadcast_mic(&ice, &pulse, dir.path(), &[(mount, MountFormat::OggFlac)]);
    assert!(ice.wait_mount(mount, true).await);
    let listener = Listener::connect(&ice.endpoint(), mount).await;
    let mut player = pulse.play_in_background(&tone);
    tokio::time::sleep(Duration::from_secs(3)).await;

    pulse.unplug_mic();
    said_once(dir.path(), "The sound input went away").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        ice.mount(mount).await.is_some(),
        "the broadcast goes on while the input is away"
    );
    pulse.plug_mic();
    said_once(dir.path(), "The sound input is back.").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = player.kill();
    let _ = player.wait();
    let said = stop(cli, dir.path());
    assert!(
        said.contains("Stopped. The sound input was away for ")
            && said.contains("listeners heard silence then. Everything else captured was sent."),
        "{said}"
    );
    assert_eq!(ice.source_attempts(mount), 1, "one connection all along");
    assert_plain(said.lines().last().unwrap());

    let heard = sound::decode(&save(dir.path(), "heard.oga", &listener.finish().await));
    // Tone, then at least 1.5 s of digital silence, then the tone again (peaks per 0.1 s).
    let tenths: Vec<f32> = heard
        .chunks(sound::RATE / 10)
        .map(|c| c.iter().map(|f| f[0].abs()).fold(0.0, f32::max))
        .collect();
    // ffmpeg's sine peaks at 1/8, 0.088 once made stereo.
    let loud = |p: &f32| *p > 0.05;
    let first = tenths
        .iter()
        .position(loud)
        .unwrap_or_else(|| panic!("the tone was heard: {tenths:?}"));
    let silent_from = first
        + tenths[first..]
            .iter()
            .position(|p| *p == 0.0)
            .expect("silence stood in");
    let back = silent_from
        + tenths[silent_from..]
            .iter()
            .position(loud)
            .expect("the tone came back");
    assert!(
        back - silent_from >= 15,
        "{} s of silence",
        (back - silent_from) as f32 / 10.0
    );
    assert!(
        tenths[back + 1..back + 20].iter().all(loud),
        "the tone goes on once back"
    );
    recording_marks_the_gap(&dir.path().join("recorded"));
}

/// The recording holds the whole capture, silence included, and the cue sheet beside it marks
/// where the input went away and where it came back, within a block and a cue frame.
fn recording_marks_the_gap(folder: &Path) {
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mka = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "mka"))
        .unwrap_or_else(|| panic!("a recording: {files:?}"));
    let cue = std::fs::read_to_string(format!("{}.cue", mka.display())).expect("a cue sheet");
    let recorded = sound::decode(mka);
    let first = recorded
        .iter()
        .position(|f| f[0].abs() > 0.05)
        .expect("the tone was recorded");
    let gap = first
        + recorded[first..]
            .iter()
            .position(|f| f[0] == 0.0 && f[1] == 0.0)
            .unwrap();
    let back = gap + recorded[gap..].iter().position(|f| f[0] != 0.0).unwrap();
    let marks: Vec<f64> = cue
        .lines()
        .filter_map(|l| l.trim().strip_prefix("INDEX 01 "))
        .map(|t| {
            let n: Vec<f64> = t.split(':').map(|x| x.parse().unwrap()).collect();
            n[0] * 60.0 + n[1] + n[2] / 75.0
        })
        .collect();
    assert!(
        cue.contains("TITLE \"The sound input went away (")
            && cue.contains("TITLE \"The sound input is back\""),
        "{cue}"
    );
    let secs = |frame: usize| frame as f64 / sound::RATE as f64;
    eprintln!(
        "marks at {marks:?} s; silence recorded {:.3}–{:.3} s",
        secs(gap),
        secs(back)
    );
    assert_eq!(marks.len(), 3, "{cue}");
    for (mark, at) in [(marks[1], secs(gap)), (marks[2], secs(back))] {
        assert!(
            (mark - at).abs() < 0.06,
            "a mark at {mark:.3} s for {at:.3} s:\n{cue}"
        );
    }
}

#[tokio::test]
async fn a_wrong_input_or_a_picture_format_is_told_in_words() {
    let pulse = Pulse::start();
    let run = |args: &[&str]| {
        let out = cli()
            .args(args)
            .envs(pulse.env())
            .env("ICECREAM_PASSWORD", "x")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, said) = run(&["devices"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains("  mic ") && said.contains("Remapped Monitor of Null Output (stereo, the default)"),
        "{said}"
    );
    assert!(
        said.contains("feed.monitor  Monitor of Null Output (stereo)"),
        "{said}"
    );

    let server = ["--host", "127.0.0.1", "--port", "9", "--mount"];
    let (code, said) = run(&[
        &["stream", "--device", "Nope"][..],
        &server,
        &["/a.mp3", "--format", "mp3"],
    ]
    .concat());
    assert_eq!(code, Some(1));
    assert_eq!(
        said.trim(),
        "icecream: There is no sound input called \u{201c}Nope\u{201d}. The inputs here are: \u{201c}Remapped Monitor of Null Output\u{201d} (mic), \u{201c}Monitor of Null Output\u{201d} (feed.monitor). Run `icecream devices` to see them again."
    );
    let (code, said) = run(&[&["stream", "--device", "mic"][..], &server, &["/a.webm"]].concat());
    assert_eq!(code, Some(1));
    assert!(
        said.contains("a sound input has no picture, and /a.webm is a WebM video mount."),
        "{said}"
    );
    assert_plain(&said);
}

/// Browsers play the Opus the engine encodes from a capture: Chromium joins the WebM audio and
/// the Ogg Opus mount of a broadcast microphone 8 times each, mid-stream, and every join plays.
#[tokio::test]
async fn chromium_joins_captured_sound_at_any_moment() {
    let _one = crate::browser::ONE_AT_A_TIME.lock().await;
    let ice = Icecast::start().await;
    let pulse = Pulse::start();
    let dir = tempfile::tempdir().unwrap();
    let tone = dir.path().join("tone.wav");
    lavfi(
        "sine=f=440:r=48000:d=60",
        &["-ac", "2", "-c:a", "pcm_s16le", tone.to_str().unwrap()],
    );
    let mounts = [
        ("/join.webm", MountFormat::WebmAudio),
        ("/join.opus", MountFormat::OggOpus),
    ];
    let cli = broadcast_mic(&ice, &pulse, dir.path(), &mounts);
    for (mount, _) in mounts {
        assert!(ice.wait_mount(mount, true).await, "{mount} went live");
    }
    let mut player = pulse.play_in_background(&tone);
    for (mount, format) in mounts {
        let browser = crate::browsers::Browser::chromium(&format!("http://127.0.0.1:{}/", ice.port)).await;
        let joins =
            crate::browser::joins_spread_over_8_s(&browser, &ice, mount, "audio", Duration::ZERO).await;
        crate::browser::every_join_played(format, "audio", &joins);
    }
    let _ = player.kill();
    let _ = player.wait();
    stop(cli, dir.path());
}
