//! A network slower than the stream: the engine drops whole Clusters to stay live instead of
//! falling further and further behind, says how much it skipped, and listeners get clean media.

use std::time::Duration;

use icecream_engine::{MountFormat, Session, State};

use crate::support::*;

#[tokio::test]
async fn a_network_too_slow_for_the_stream_skips_whole_clusters_and_stays_live() {
    let ice = Icecast::start().await;
    // The recording needs about 65 kB/s.
    let cable = Cable::throttled(ice.port, 20_000).await;
    let mount = "/slow.webm";
    let mut settings = ice.settings(mount, MountFormat::WebmVideo);
    settings.first_mut().server.port = cable.port as u32;
    let chunks = corpus_chunks("webm-vp8-opus-250ms");
    let session = Session::start(settings, options()).unwrap();
    let mut rx = session.status();
    let pushed = push_until_live(&session, &chunks).await;
    let listener = Listener::connect(&ice.endpoint(), mount).await;
    let feeding = feed_in_background(&session, &chunks[pushed..]);
    let skipped = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|s| s.skipped_secs > 0))
        .await
        .expect("the engine skips ahead")
        .unwrap()
        .clone();
    assert_eq!(skipped.state, State::Live, "and stays live");
    assert!(
        skipped.line().contains("s skipped (network too slow)"),
        "{}",
        skipped.line()
    );
    feeding.await.unwrap();
    let summary = session.stop().await.expect("a clean stop");
    assert!(summary.gaps >= 1);
    assert!(
        summary.bytes_sent < chunks.concat().len() as u64,
        "less was sent than recorded"
    );
    let dir = tempfile::tempdir().unwrap();
    let heard = save(dir.path(), "slow.webm", &listener.finish().await);
    assert_eq!(decode_errors(&heard), "", "what got through decodes cleanly");
}
