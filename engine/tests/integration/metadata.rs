//! Now playing: exact UTF-8 titles on MP3 mounts, and plain words where it cannot work.

use std::time::Duration;

use icecream_engine::icecast::{self, IcecastError, Target};
use icecream_engine::{MountFormat, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const TITLE: &str = "Café – 東京";

/// Reads a listener's ICY metadata blocks for a while and returns the last StreamTitle seen.
async fn icy_title(ice: &Icecast, mount: &str) -> Option<String> {
    let ep = ice.endpoint();
    let mut conn = icecream_engine::net::connect(&ep).await.unwrap();
    let req = format!(
        "GET {mount} HTTP/1.0\r\nHost: {}\r\nIcy-MetaData: 1\r\n\r\n",
        ep.authority()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let head = icecream_engine::net::read_head(&mut conn).await.unwrap().unwrap();
    let metaint: usize = head
        .header("icy-metaint")
        .expect("ICY metadata offered")
        .parse()
        .unwrap();
    let mut last = None;
    // The burst a listener gets first carries the title of its time; keep reading to the present.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline {
        let mut audio = vec![0u8; metaint];
        if conn.read_exact(&mut audio).await.is_err() {
            break;
        }
        let mut len = [0u8; 1];
        conn.read_exact(&mut len).await.unwrap();
        let mut meta = vec![0u8; len[0] as usize * 16];
        conn.read_exact(&mut meta).await.unwrap();
        let text = String::from_utf8_lossy(&meta).to_string();
        if let Some(rest) = text.strip_prefix("StreamTitle='") {
            last = rest.split("';").next().map(str::to_string);
        }
    }
    last
}

/// A live session fed at the recorder's pace in the background; call `stop` to end both.
struct Live(Session, tokio::task::JoinHandle<()>);

impl Live {
    async fn stop(self) {
        self.1.abort();
        let _ = self.1.await;
        self.0.stop().await.unwrap();
    }
}

async fn live_session(ice: &Icecast, mount: &str, format: MountFormat) -> Live {
    live_with(ice.settings(mount, format)).await
}

async fn live_with(settings: icecream_engine::Settings) -> Live {
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(settings, options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    Live(session, feeding)
}

#[tokio::test]
async fn utf8_title_reads_back_exactly_on_an_mp3_mount() {
    let ice = Icecast::start_with(IcecastOptions {
        utf8_mounts: vec!["/np.mp3".into()],
        ..Default::default()
    })
    .await;
    let session = live_session(&ice, "/np.mp3", MountFormat::Mp3).await;
    let target = Target::from_settings(&ice.settings("/np.mp3", MountFormat::Mp3));
    let shown = icecast::set_now_playing(&target, MountFormat::Mp3, TITLE)
        .await
        .unwrap();
    assert_eq!(shown.shown_as, None, "status-json shows the title exactly");
    assert_eq!(ice.mount("/np.mp3").await.unwrap().title.as_deref(), Some(TITLE));
    assert_eq!(
        icy_title(&ice, "/np.mp3").await.as_deref(),
        Some(TITLE),
        "a listener sees it in StreamTitle"
    );
    session.stop().await;
}

#[tokio::test]
async fn latin1_mount_gets_plain_advice() {
    let ice = Icecast::start().await;
    let session = live_session(&ice, "/latin.mp3", MountFormat::Mp3).await;
    let target = Target::from_settings(&ice.settings("/latin.mp3", MountFormat::Mp3));
    // What Latin-1 holds arrives exactly: no "Ã©".
    let shown = icecast::set_now_playing(&target, MountFormat::Mp3, "Café")
        .await
        .unwrap();
    assert_eq!(shown.shown_as, None);
    let shown = icecast::set_now_playing(&target, MountFormat::Mp3, TITLE)
        .await
        .unwrap();
    assert_eq!(shown.shown_as.as_deref(), Some("Café &#8211; &#26481;&#20140;"));
    assert_eq!(
        shown.server.as_deref(),
        Some("Icecast 2.4.4"),
        "the server is named from its status page"
    );
    assert_eq!(
        shown.advice().unwrap(),
        "The server shows the title as \"Café &#8211; &#26481;&#20140;\": it stores titles as Latin-1 on this mount \
         and writes the characters Latin-1 lacks as codes, which players show as they are. Ask its owner to add \
         <charset>UTF-8</charset> to the mount's settings to show every character."
    );
    session.stop().await;
}

#[tokio::test]
async fn ogg_vorbis_title_reads_back_exactly() {
    let ice = Icecast::start_with(IcecastOptions {
        utf8_mounts: vec!["/np.ogg".into()],
        ..Default::default()
    })
    .await;
    let session = live_session(&ice, "/np.ogg", MountFormat::OggVorbis).await;
    let target = Target::from_settings(&ice.settings("/np.ogg", MountFormat::OggVorbis));
    let shown = icecast::set_now_playing(&target, MountFormat::OggVorbis, TITLE)
        .await
        .unwrap();
    assert_eq!(shown.shown_as, None);
    assert_eq!(ice.mount("/np.ogg").await.unwrap().title.as_deref(), Some(TITLE));
    session.stop().await;
}

/// The server reads the stream's first pages late (a slow network between): the engine is live as
/// soon as it has sent past the codec headers, but a title that reaches Icecast 2.4.4 while it is
/// still reading them corrupts the mount, and no title shows again.
#[tokio::test]
async fn ogg_vorbis_title_waits_for_a_server_that_reads_the_headers_late() {
    let mount = "/late.ogg";
    let ice = Icecast::start_with(IcecastOptions {
        utf8_mounts: vec![mount.into()],
        ..Default::default()
    })
    .await;
    let cable = Cable::throttled(ice.port, 3_000).await;
    let mut settings = ice.settings(mount, MountFormat::OggVorbis);
    settings.first_mut().server.port = cable.port as u32;
    let session = live_with(settings).await;
    let target = Target::from_settings(&ice.settings(mount, MountFormat::OggVorbis));
    let shown = icecast::set_now_playing(&target, MountFormat::OggVorbis, TITLE)
        .await
        .unwrap();
    assert_eq!(shown.shown_as, None);
    assert!(!ice.error_log().contains("refbuf_release"), "{}", ice.error_log());
    session.stop().await;
}

#[tokio::test]
async fn webm_and_ogg_opus_mounts_say_plainly_that_titles_do_not_show() {
    let ice = Icecast::start().await;
    let webm = Target::from_settings(&ice.settings("/v", MountFormat::WebmVideo));
    assert_eq!(
        icecast::set_now_playing(&webm, MountFormat::WebmVideo, TITLE).await.unwrap_err().to_string(),
        "Now playing can't be shown on WebM video mounts: the format has no place for titles. Use an MP3 mount to show titles."
    );
    let session = live_session(&ice, "/np.opus", MountFormat::OggOpus).await;
    let opus = Target::from_settings(&ice.settings("/np.opus", MountFormat::OggOpus));
    let err = icecast::set_now_playing(&opus, MountFormat::OggOpus, TITLE)
        .await
        .unwrap_err();
    assert_eq!(err, IcecastError::NowPlayingNotShown { format: "Ogg Opus" });
    assert_eq!(
        err.to_string(),
        "The server took the title but does not show it on this Ogg Opus mount (Icecast 2.4 shows titles set \
         during a broadcast only on MP3 and Ogg Vorbis mounts). Use one of those to show titles."
    );
    session.stop().await;
}

#[tokio::test]
async fn title_on_a_mount_that_is_not_live() {
    let ice = Icecast::start().await;
    let target = Target::from_settings(&ice.settings("/nobody.mp3", MountFormat::Mp3));
    assert_eq!(
        icecast::set_now_playing(&target, MountFormat::Mp3, "x")
            .await
            .unwrap_err()
            .to_string(),
        "Nothing is streaming to /nobody.mp3 right now, so its title cannot be changed. Go live first."
    );
}
