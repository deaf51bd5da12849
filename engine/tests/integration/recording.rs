//! The local recording: every byte the recorder gave, in order, whatever happened to the server.

use std::time::Duration;

use icecream_engine::{MountFormat, Session, SessionOptions, State};

use crate::support::*;

fn recording_options(dir: &std::path::Path) -> SessionOptions {
    let mut o = options();
    o.record_to = Some(dir.to_path_buf());
    o
}

#[tokio::test]
async fn the_recording_is_byte_identical_across_a_server_outage() {
    let mut ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(
        ice.settings("/kept.webm", MountFormat::WebmAudio),
        recording_options(dir.path()),
    )
    .unwrap();
    let mut rx = session.status();
    let pushed = push_until_live(&session, &chunks).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    ice.server.kill();
    rx.wait_for(|s| matches!(s.state, State::Reconnecting { .. }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    ice.server.restart().await.unwrap();
    rx.wait_for(|s| s.state == State::Live).await.unwrap();
    feeding.await.unwrap();
    let ffmpeg = session.ffmpeg_pid();
    let summary = session.stop().await.expect("a clean stop");
    assert_reaped(&ffmpeg.into_iter().collect::<Vec<_>>());
    assert_eq!(summary.gaps, 1, "one outage");
    assert!(summary.delivery().contains("the local recording has everything"));
    let path = rx.borrow().recording.clone().expect("the status says where");
    assert!(
        path.starts_with(&dir.path().display().to_string()) && path.ends_with(".webm"),
        "{path}"
    );
    let kept = std::fs::read(&path).unwrap();
    assert!(
        kept == chunks.concat(),
        "the recording is exactly the chunks, in order"
    );
    assert_eq!(
        rx.borrow().recording_bytes,
        kept.len() as u64,
        "the status says its size"
    );
    assert_eq!(decode_errors(path.as_ref()), "", "and it plays");
}

#[tokio::test]
async fn an_unwritable_recording_folder_is_a_warning_and_the_broadcast_goes_on() {
    let ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, b"").unwrap();
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(
        ice.settings("/unkept.webm", MountFormat::WebmAudio),
        recording_options(&not_a_folder.join("Icecream")),
    )
    .unwrap();
    let mut rx = session.status();
    push_until_live(&session, &chunks).await;
    let listener = Listener::connect(&ice.endpoint(), "/unkept.webm").await;
    push_all(&session, &chunks[10..30]).await;
    let problem = rx
        .wait_for(|s| s.recording_problem.is_some())
        .await
        .unwrap()
        .recording_problem
        .clone()
        .unwrap();
    assert!(
        problem.starts_with("The recording could not be saved in ")
            && problem.ends_with(
                "The broadcast goes on; free some space or choose another folder for the next one."
            ),
        "{problem}"
    );
    assert_eq!(rx.borrow().state, State::Live, "still live");
    session.stop().await.expect("the broadcast itself ends well");
    let dir2 = tempfile::tempdir().unwrap();
    let heard = save(dir2.path(), "heard.webm", &listener.finish().await);
    assert_eq!(decode_errors(&heard), "");
    assert!(audio_end(&heard) > 4.0);
}
