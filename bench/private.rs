//! What every benchmark stands on: a private Icecast on 127.0.0.1 that lives for one run, and the
//! recorder corpus in ../shared/corpus.

use std::path::PathBuf;

use icecream_engine::{LocalIcecast, LocalOptions};

/// A private Icecast with default options, and the folder it runs in: keep both for the run (the
/// server is dropped first, then its folder).
pub async fn icecast() -> (LocalIcecast, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = LocalIcecast::start(dir.path(), &LocalOptions::default())
        .await
        .unwrap();
    (server, dir)
}

/// The recorder corpus: one folder of chunks per recorder and format.
pub fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}
