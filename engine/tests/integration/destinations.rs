//! One broadcast to several destinations: one stream per format, one sender per destination, and
//! each destination its own fate.

use std::time::Duration;

use icecream_engine::settings::Destination;
use icecream_engine::{MountFormat, Secret, Session, Settings, State};

use crate::support::*;

/// Waits until destination `index` is in a state `want` accepts; returns the broadcast's state then.
async fn wait_destination(
    session: &Session,
    index: usize,
    what: &str,
    want: impl Fn(&State) -> bool,
) -> State {
    let mut rx = session.status();
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        rx.wait_for(|s| {
            s.destinations
                .iter()
                .any(|d| d.index == index && want(&d.status.state))
        }),
    )
    .await;
    match got {
        Ok(Ok(s)) => s.state.clone(),
        _ => panic!(
            "destination {index} never got {what}: {:?}",
            session.status().borrow().destinations
        ),
    }
}

fn named(name: &str, mut d: Destination) -> Destination {
    d.name = name.into();
    d
}

fn broadcast(destinations: Vec<Destination>) -> Settings {
    Settings {
        destinations,
        ..Settings::default()
    }
}

/// A live camera and microphone (keyframes every 0.6 s), as long as a test needs.
fn camera_for(ms: u64) -> Vec<(u64, Vec<u8>)> {
    looped_chunks(keyed_video(), ms)
}

/// Three destinations on two Icecast servers, and a fourth on Liquidsoap's harbor that shares the
/// MP3 stream with the second server's.
#[tokio::test]
async fn three_destinations_each_keep_their_own_fate() {
    let first = Icecast::start().await;
    let mut second = Icecast::start().await;
    let harbor = Harbor::start("/multi.mp3").await;
    let settings = broadcast(vec![
        named(
            "Web page",
            first.server.destination("/multi.webm", MountFormat::WebmVideo),
        ),
        named(
            "Radio apps",
            second.server.destination("/multi.mp3", MountFormat::Mp3),
        ),
        named(
            "Opus",
            first.server.destination("/multi.opus", MountFormat::OggOpus),
        ),
        named("Harbor", harbor.destination(MountFormat::Mp3)),
    ]);
    let session = Session::start(settings, options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(30_000));
    for i in 0..4 {
        wait_destination(&session, i, "live", |s| *s == State::Live).await;
    }
    // WebM and Ogg Opus are written by the engine; only MP3 needs an encoder, one for both.
    assert_eq!(session.ffmpeg_pids().len(), 1, "one ffmpeg, for MP3");
    let video = Listener::connect(&first.endpoint(), "/multi.webm").await;
    let opus = Listener::connect(&first.endpoint(), "/multi.opus").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let line = session.status().borrow().line();
    assert!(
        line.starts_with("LIVE ") && line.contains("4 of 4 destinations live"),
        "{line}"
    );

    // The second server dies: its destination reconnects, the others are not touched.
    second.server.kill();
    let overall = wait_destination(&session, 1, "reconnecting", |s| {
        matches!(s, State::Reconnecting { .. })
    })
    .await;
    assert_eq!(overall, State::Live, "the broadcast stays live on the others");
    let line = session.status().borrow().line();
    assert!(line.contains("3 of 4 destinations live"), "{line}");
    // The harbor shares the MP3 stream with the dead server and is not held up by it.
    let heard = harbor.heard_secs();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        harbor.heard_secs() > heard,
        "the harbor goes on while the other MP3 server is away: {}",
        harbor.log_tail(20)
    );
    second.server.restart().await.unwrap();
    wait_destination(&session, 1, "live again", |s| *s == State::Live).await;
    let radio = Listener::connect(&second.endpoint(), "/multi.mp3").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let status = session.status().borrow().clone();
    assert!(
        status.destinations.iter().all(|d| d.status.bytes_sent > 0),
        "{status:?}"
    );
    let summary = session.stop().await.expect("a clean stop");
    feeding.abort();
    assert_eq!(summary.gaps, 1, "one gap, on the second destination: {summary:?}");
    let dir = tempfile::tempdir().unwrap();
    for (listener, name, least) in [
        (video, "video.webm", 7.0),
        (opus, "audio.opus", 7.0),
        (radio, "radio.mp3", 2.0),
    ] {
        let file = save(dir.path(), name, &listener.finish().await);
        assert_eq!(decode_errors(&file), "", "{name} decodes cleanly");
        let heard = audio_end(&file);
        assert!(heard >= least, "{name}: {heard} s");
        if name != "radio.mp3" {
            // Every packet, while the other server went away and came back.
            assert_eq!(audio_gaps(&file), vec![], "{name} has no gap");
        }
    }
    assert_eq!(codecs(&dir.path().join("video.webm")), ["vp8", "opus"]);
    // The harbor decoded the MP3 stream from Go live to Stop (it plays at the real pace).
    let heard = harbor.played_out(Duration::from_secs(60)).await;
    let live = summary.live_for.as_secs_f64();
    assert!(
        heard >= live - 1.5,
        "the harbor decoded {heard:.1} s of {live:.1} s live: {}",
        harbor.log_tail(20)
    );
}

#[tokio::test]
async fn a_refused_destination_says_why_and_the_others_stay_live() {
    let ice = Icecast::start().await;
    let mut wrong = named("Backup", ice.server.destination("/refused.mp3", MountFormat::Mp3));
    wrong.server.password = Secret::new("not-the-password");
    let settings = broadcast(vec![
        named(
            "Station",
            ice.server.destination("/kept.opus", MountFormat::OggOpus),
        ),
        wrong,
    ]);
    let session = Session::start(settings, options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(20_000));
    wait_destination(&session, 0, "live", |s| *s == State::Live).await;
    let listener = Listener::connect(&ice.endpoint(), "/kept.opus").await;
    wait_destination(&session, 1, "failed", |s| matches!(s, State::Failed { .. })).await;
    let status = session.status().borrow().clone();
    let State::Failed { reason } = &status.destinations[1].status.state else {
        unreachable!()
    };
    assert!(reason.contains("password"), "{reason}");
    assert_plain(reason);
    assert_eq!(status.state, State::Live);
    assert!(
        status.line().contains("1 of 2 destinations live"),
        "{}",
        status.line()
    );
    assert!(
        ice.mount("/refused.mp3").await.is_none(),
        "nothing reached the refused mount"
    );
    // Started again, it is refused again, for the same reason, and the other stays live.
    let again = session.start_destination(1).await.unwrap_err();
    assert_eq!(&again.to_string(), reason);
    let failed_again = State::Failed {
        reason: reason.clone(),
    };
    let overall = wait_destination(&session, 1, "failed again", |s| *s == failed_again).await;
    assert_eq!(overall, State::Live);
    tokio::time::sleep(Duration::from_secs(3)).await;
    session
        .stop()
        .await
        .expect("the broadcast ends well: one destination was live");
    feeding.abort();
    let dir = tempfile::tempdir().unwrap();
    let file = save(dir.path(), "kept.opus", &listener.finish().await);
    assert_eq!(decode_errors(&file), "");
    assert!(audio_end(&file) > 2.0);
}

#[tokio::test]
async fn destinations_of_one_format_share_one_stream() {
    let (a, b) = (Icecast::start().await, Icecast::start().await);
    // Two MP3 mounts: one ffmpeg.
    let mp3 = broadcast(vec![
        a.server.destination("/same.mp3", MountFormat::Mp3),
        b.server.destination("/same.mp3", MountFormat::Mp3),
    ]);
    let session = Session::start(mp3, options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(20_000));
    wait_destination(&session, 0, "live", |s| *s == State::Live).await;
    wait_destination(&session, 1, "live", |s| *s == State::Live).await;
    let listeners = [
        Listener::connect(&a.endpoint(), "/same.mp3").await,
        Listener::connect(&b.endpoint(), "/same.mp3").await,
    ];
    let pids = session.ffmpeg_pids();
    assert_eq!(pids.len(), 1, "one encoder for both MP3 destinations: {pids:?}");
    assert!(cmdline(pids[0]).contains("libmp3lame"), "{}", cmdline(pids[0]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    session.stop().await.unwrap();
    feeding.abort();
    let dir = tempfile::tempdir().unwrap();
    for (n, l) in listeners.into_iter().enumerate() {
        let file = save(dir.path(), &format!("{n}.mp3"), &l.finish().await);
        assert_eq!(decode_errors(&file), "");
        assert!(audio_end(&file) > 2.0);
    }

    // Two WebM mounts: written by the engine, no encoder at all.
    let webm = broadcast(vec![
        a.server.destination("/same.webm", MountFormat::WebmVideo),
        b.server.destination("/same.webm", MountFormat::WebmVideo),
    ]);
    let session = Session::start(webm, options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(10_000));
    wait_destination(&session, 0, "live", |s| *s == State::Live).await;
    wait_destination(&session, 1, "live", |s| *s == State::Live).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(session.ffmpeg_pids(), Vec::<u32>::new());
    assert!(a.mount("/same.webm").await.is_some() && b.mount("/same.webm").await.is_some());
    session.stop().await.unwrap();
    feeding.abort();
}

#[tokio::test]
async fn one_destination_stops_while_the_other_goes_on() {
    let ice = Icecast::start().await;
    let settings = broadcast(vec![
        named(
            "Station",
            ice.server.destination("/goes-on.webm", MountFormat::WebmVideo),
        ),
        named(
            "Backup",
            ice.server.destination("/stops.opus", MountFormat::OggOpus),
        ),
    ]);
    let session = Session::start(settings, options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(30_000));
    wait_destination(&session, 0, "live", |s| *s == State::Live).await;
    wait_destination(&session, 1, "live", |s| *s == State::Live).await;
    let going_on = Listener::connect(&ice.endpoint(), "/goes-on.webm").await;
    let stopping = Listener::connect(&ice.endpoint(), "/stops.opus").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    session.stop_destination(1).unwrap();
    let overall = wait_destination(&session, 1, "stopped", |s| *s == State::Stopped).await;
    assert_eq!(overall, State::Live);
    assert!(ice.wait_mount("/stops.opus", false).await, "its mount is gone");
    assert!(
        ice.mount("/goes-on.webm").await.is_some(),
        "the other mount stays"
    );
    let dir = tempfile::tempdir().unwrap();
    let stopped = save(dir.path(), "stopped.opus", &stopping.finish().await);
    assert_eq!(decode_errors(&stopped), "", "its listener got a whole stream");
    assert!(
        session.stop_destination(1).is_err(),
        "a stopped destination cannot be stopped again"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let bytes = session.status().borrow().destinations[0].status.bytes_sent;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        session.status().borrow().destinations[0].status.bytes_sent > bytes,
        "still sending"
    );

    // Started again while the other is live: its listeners get the stream from there on.
    let err = session.start_destination(0).await.unwrap_err();
    assert_eq!(err.to_string(), "That destination is already on air.");
    session.start_destination(1).await.expect("it starts again");
    let overall = wait_destination(&session, 1, "live again", |s| *s == State::Live).await;
    assert_eq!(overall, State::Live);
    assert!(ice.wait_mount("/stops.opus", true).await, "its mount is back");
    let again = Listener::connect(&ice.endpoint(), "/stops.opus").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    session.stop_destination(1).unwrap();
    wait_destination(&session, 1, "stopped again", |s| *s == State::Stopped).await;
    let restarted = save(dir.path(), "again.opus", &again.finish().await);
    assert_eq!(decode_errors(&restarted), "", "the restarted stream decodes");
    assert_eq!(audio_gaps(&restarted), vec![], "it has sound and no gap");

    // Stopping the last one on air ends the broadcast.
    session.stop_destination(0).unwrap();
    let mut rx = session.status();
    tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|s| s.state.is_final()))
        .await
        .expect("the broadcast ends with its last destination")
        .unwrap();
    assert_eq!(session.status().borrow().state, State::Stopped);
    session.stop().await.expect("nothing failed");
    feeding.abort();
    let kept = save(dir.path(), "kept.webm", &going_on.finish().await);
    assert_eq!(decode_errors(&kept), "");
    assert_eq!(audio_gaps(&kept), vec![]);
}

#[tokio::test]
async fn a_title_goes_to_every_destination_that_can_show_one() {
    let ice = Icecast::start_with(IcecastOptions {
        utf8_by_default: true,
        ..Default::default()
    })
    .await;
    let settings = broadcast(vec![
        named("Radio", ice.server.destination("/titled.mp3", MountFormat::Mp3)),
        named(
            "Web page",
            ice.server.destination("/untitled.webm", MountFormat::WebmVideo),
        ),
    ]);
    let session = Session::start(settings.clone(), options()).unwrap();
    let feeding = feed_on_time(&session, camera_for(20_000));
    wait_destination(&session, 0, "live", |s| *s == State::Live).await;
    wait_destination(&session, 1, "live", |s| *s == State::Live).await;
    let titled = icecream_engine::icecast::titles::set_everywhere(&settings, "Artist – Song")
        .await
        .expect("one destination shows it");
    assert_eq!(titled.shown, 1);
    assert_eq!(
        titled.advice().as_deref(),
        Some("Web page: WebM video mounts cannot show titles; listeners there see none.")
    );
    let listed = ice.mount("/titled.mp3").await.unwrap();
    assert_eq!(listed.title.as_deref(), Some("Artist – Song"));
    session.stop().await.unwrap();
    feeding.abort();
}
