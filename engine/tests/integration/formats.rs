//! Every mount format, end to end: corpus chunks → engine → ffmpeg → Icecast → a listener, whose
//! bytes ffprobe decodes with the expected codecs.

use icecream_engine::{MountFormat, Session};

use crate::support::*;

async fn broadcast_and_listen(format: MountFormat, corpus_name: &str, expected: &[&str]) {
    let ice = Icecast::start().await;
    let mount = format!("/{}", format.id());
    let chunks = corpus_chunks(corpus_name);
    let session = Session::start(ice.settings(&mount, format), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    assert!(ice.wait_mount(&mount, true).await, "mount is listed while live");

    let listed = ice.mount(&mount).await.unwrap();
    assert_eq!(listed.name.as_deref(), Some("Icecream test"));
    assert_eq!(listed.description.as_deref(), Some("A test stream"));
    assert_eq!(listed.genre.as_deref(), Some("Testing"));

    let listener = Listener::connect(&ice.endpoint(), &mount).await;
    push_all(&session, &chunks[pushed..]).await;
    let summary = session.stop().await.expect("broadcast ends cleanly");
    assert!(summary.bytes_sent > 0);
    let received = listener.finish().await;
    assert!(!received.is_empty(), "the listener received nothing");

    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), &format!("listener.{}", format.extension()), &received);
    assert_eq!(codecs(&file), expected, "codecs of what the listener got");
    assert_eq!(
        decode_errors(&file),
        "",
        "the listener's stream decodes without errors"
    );
    assert!(ice.wait_mount(&mount, false).await, "mount is gone after stop");
}

#[tokio::test]
async fn webm_video() {
    broadcast_and_listen(MountFormat::WebmVideo, "webm-vp8-opus-250ms", &["vp8", "opus"]).await;
}

#[tokio::test]
async fn webm_audio() {
    broadcast_and_listen(MountFormat::WebmAudio, "webm-opus-audio-250ms", &["opus"]).await;
}

#[tokio::test]
async fn ogg_opus() {
    broadcast_and_listen(MountFormat::OggOpus, "webm-opus-audio-250ms", &["opus"]).await;
}

#[tokio::test]
async fn ogg_vorbis() {
    broadcast_and_listen(MountFormat::OggVorbis, "webm-opus-audio-250ms", &["vorbis"]).await;
}

#[tokio::test]
async fn mp3() {
    broadcast_and_listen(MountFormat::Mp3, "webm-opus-audio-250ms", &["mp3"]).await;
}

#[tokio::test]
async fn aac() {
    broadcast_and_listen(MountFormat::Aac, "webm-opus-audio-250ms", &["aac"]).await;
}

// WebKitGTK's recorder: AAC in fragmented MP4, with its repeated last fragment header.
const WEBKIT: &str = "webkitgtk-mp4-aac-audio";

#[tokio::test]
async fn webkit_mp4_to_webm_audio() {
    broadcast_and_listen(MountFormat::WebmAudio, WEBKIT, &["opus"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_ogg_opus() {
    broadcast_and_listen(MountFormat::OggOpus, WEBKIT, &["opus"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_ogg_vorbis() {
    broadcast_and_listen(MountFormat::OggVorbis, WEBKIT, &["vorbis"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_mp3() {
    broadcast_and_listen(MountFormat::Mp3, WEBKIT, &["mp3"]).await;
}

#[tokio::test]
async fn webkit_mp4_to_aac() {
    broadcast_and_listen(MountFormat::Aac, WEBKIT, &["aac"]).await;
}

#[tokio::test]
async fn ogg_flac() {
    broadcast_and_listen(MountFormat::OggFlac, "webm-opus-audio-250ms", &["flac"]).await;
}

/// 16-bit stereo samples at 48 kHz, as ffmpeg decodes `file`.
fn pcm(file: &std::path::Path) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:a:0",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-sample_fmt",
            "s16",
            "-f",
            "s16le",
            "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Eight seconds of stereo sound that no lossy codec keeps exactly (two tones and noise), as 16-bit
/// PCM in Matroska: what a lossless mount must hand listeners sample for sample.
fn exact_sound(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("exact.mka");
    lavfi(
        "aevalsrc=0.5*sin(440*2*PI*t)+0.1*random(0)|0.4*sin(660*2*PI*t)+0.1*random(1):s=48000:d=8",
        &["-c:a", "pcm_s16le", "-f", "matroska", file.to_str().unwrap()],
    );
    file
}

#[tokio::test]
async fn ogg_flac_is_lossless() {
    let ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let input = exact_sound(dir.path());
    let chunks: Vec<Vec<u8>> = std::fs::read(&input)
        .unwrap()
        .chunks(16 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    let session = Session::start(ice.settings("/lossless.oga", MountFormat::OggFlac), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let listener = Listener::connect(&ice.endpoint(), "/lossless.oga").await;
    push_all(&session, &chunks[pushed..]).await;
    session.stop().await.expect("broadcast ends cleanly");
    let heard = save(dir.path(), "heard.oga", &listener.finish().await);
    assert_eq!(codecs(&heard), ["flac"]);
    assert_eq!(decode_errors(&heard), "");
    let (heard, given) = (pcm(&heard), pcm(&input));
    let frame = 4; // one stereo 16-bit sample
    let probe = &heard[..4096];
    let at = given
        .windows(probe.len())
        .step_by(frame)
        .position(|w| w == probe)
        .expect("the listener's first samples are among the input's")
        * frame;
    let n = heard.len().min(given.len() - at);
    assert!(n >= 5 * 48_000 * frame, "{} s compared", n / (48_000 * frame));
    let differ = heard[..n]
        .chunks(frame)
        .zip(given[at..at + n].chunks(frame))
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differ, 0, "every sample as given, from sample {}", at / frame);
}
