//! Radio in one step: on a fresh install the destination's format is WebM video; a person who
//! turns on Audio only and presses Go live is offered the sound formats, picks one, and is live,
//! on a mount whose ending matches what it carries.

use std::time::Duration;

use icecream_engine::icecast;

use crate::desktop::{artifacts, App};
use crate::journeys::{fill_settings, open_settings, wait_mount, Stage};

#[tokio::test]
async fn audio_only_on_a_video_destination_goes_live_in_one_step() {
    let stage = &Stage::new().await;
    let Stage {
        ice, screen, home, ..
    } = stage;
    let app = App::launch(screen, home).await;
    let password = ice.source_password.expose();
    fill_settings(&app, ice, "/live.webm", password, "webm-video", "auto").await;
    // Settings warns of a mount whose ending says another format than it would carry.
    open_settings(&app).await;
    app.choose("format", "mp3").await;
    let hint = app.text("#mount-hint").await;
    assert!(
        hint.contains("ends in .webm but will carry") && hint.contains("/live.mp3?"),
        "{hint:?}"
    );
    app.choose("format", "webm-video").await;
    assert_eq!(app.text("#mount-hint").await, "", "no warning when they agree");
    app.click("#cancel-settings").await;
    app.click("#audio-only").await;
    app.click("#golive").await;
    app.wait_for(
        || async { app.text("#notice").await.contains("Send the sound alone as") },
        "the offer of sound formats",
    )
    .await;
    screen.screenshot(&artifacts().join("radio-offer.png"));
    app.click("#notice button[data-format=\"ogg-opus\"]").await;
    app.wait_status("LIVE").await;
    assert!(
        wait_mount(ice, "/live.opus", true).await,
        "the mount is named for its content"
    );
    let doc = icecast::fetch_status(&ice.endpoint()).await.unwrap();
    let mount = icecast::mount_status(&doc, "/live.opus").expect("listed");
    assert_eq!(mount.content_type.as_deref(), Some("audio/ogg"), "{mount:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.click("#golive").await;
    app.wait_status("Stopped").await;
    // Kept: the next Go live is radio at once.
    let saved = std::fs::read_to_string(home.data_dir().join("settings.json")).unwrap();
    assert!(
        saved.contains("/live.opus") && saved.contains("ogg-opus"),
        "{saved}"
    );
    app.quit().await;
}
