//! How far behind live a browser listener plays (issue 25, item 10): Chromium and Firefox ESR
//! each join a mount 5 s into a broadcast, on Icecast with its default burst (64 KiB), once with
//! the share panel's embed code and once with a plain `<audio src>` (`<video src>`) tag, muted and
//! autoplaying, as a web page would have it. Behind live is the listener's position against the
//! moment the server sent that part of the stream (bench/behind_live.rs), sampled every 100 ms
//! while it plays, from 3 s after joining for 9 s.
//!
//! Run by hand: `cargo bench -p icecream-engine --bench live_edge`.

#![cfg_attr(not(target_os = "linux"), no_main)]
#![cfg(target_os = "linux")]

#[allow(dead_code)]
mod browsers;
mod keyed;
#[allow(dead_code)]
#[path = "looped.rs"]
mod looped;
mod report;

use std::time::Duration;

use browsers::behind_live::{max, median, Behind, Relay};
use browsers::Browser;
use icecream_engine::media::format::MountFormat;
use icecream_engine::{LocalIcecast, LocalOptions, Session, SessionOptions, Share, State};
use looped::{corpus, Looped};

#[derive(Clone, Copy, Debug)]
enum Listener {
    Chromium,
    Firefox,
}

/// One listener's figures: "join → playing | behind live p50 | max".
async fn case(who: Listener, format: MountFormat, input: &Looped, embed: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    let mount = format!("/edge.{}", format.extension());
    let ffmpeg = icecream_engine::Ffmpeg::locate().unwrap();
    let session = Session::start(server.settings(&mount, format), SessionOptions::new(ffmpeg)).unwrap();
    let sender = session.sender();
    let chunks = input.timeslices(250, 30_000);
    let started = tokio::time::Instant::now();
    let feeding = tokio::spawn(async move {
        for (due, c) in chunks {
            tokio::time::sleep_until(started + Duration::from_millis(due)).await;
            if sender.send(c).await.is_err() {
                break;
            }
        }
    });
    let mut rx = session.status();
    tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|s| s.state == State::Live))
        .await
        .expect("the broadcast goes live")
        .unwrap();
    let relay = Relay::start(server.port).await;
    let page = format!("http://127.0.0.1:{}/", server.port);
    let browser = match who {
        Listener::Chromium => Browser::chromium(&page).await,
        Listener::Firefox => Browser::firefox(&page).await,
    };
    tokio::time::sleep_until(started + Duration::from_secs(5)).await;
    let url = format!("http://127.0.0.1:{}{mount}", relay.port);
    let html = if embed {
        Share::new(&url, format, "").embed_html
    } else {
        let tag = if format.has_video() { "video" } else { "audio" };
        format!("<{tag} controls autoplay muted src=\"{url}\"></{tag}>")
    };
    browser.watch(&html).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let watched = browser.watched().await;
    drop(browser);
    feeding.abort();
    let _ = session.stop().await;
    if let Some(e) = &watched.error {
        return format!("failed: {e} | – | –");
    }
    let capture = relay.capture(dir.path());
    let behind = Behind::of(&watched, &capture);
    let late = behind.between(3.0, 12.0);
    eprintln!(
        "{who:?} {} {}: {:?}",
        format.id(),
        if embed { "embed" } else { "plain" },
        behind
            .samples
            .iter()
            .map(|s| format!("{:.1}:{:.2}", s.0, s.1))
            .collect::<Vec<_>>()
    );
    if late.is_empty() {
        return format!("{:.2} s | did not play | –", behind.to_playing);
    }
    format!(
        "{:.2} s | {:.2} s | {:.2} s",
        behind.to_playing,
        median(&late),
        max(&late)
    )
}

#[tokio::main]
async fn main() {
    let video = Looped::from_bytes(&keyed::with_app_keyframes(&corpus("webm-vp8-opus-250ms")));
    let sound = Looped::from_bytes(&corpus("webm-opus-audio-250ms"));
    let mut rows = vec![
        "| browser | mount | embed code: join → playing | behind live p50 | max | plain tag: join → playing | behind live p50 | max |"
            .to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for who in [Listener::Chromium, Listener::Firefox] {
        for (format, input) in [
            (MountFormat::WebmAudio, &sound),
            (MountFormat::WebmVideo, &video),
            (MountFormat::OggOpus, &sound),
            (MountFormat::Mp3, &sound),
        ] {
            let embed = case(who, format, input, true).await;
            let plain = case(who, format, input, false).await;
            let row = format!("| {who:?} | {} | {embed} | {plain} |", format.id());
            println!("{row}");
            rows.push(row);
        }
    }
    report::write("live-edge", false, &(rows.join("\n") + "\n"));
}
