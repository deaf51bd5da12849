//! Where the CLI's media comes from: a file, standard input, or a folder of recorder chunks (the
//! layout of shared/corpus: chunk-NNNNN.bin plus chunks.tsv with each chunk's arrival time).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::session::{Session, SessionError};

pub mod looped;
pub use looped::{Looped, NotLoopable};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("The input {path} could not be read: {reason}.")]
    Read { path: PathBuf, reason: String },
    #[error("The chunk folder {path} has no chunks.tsv (index, ms, bytes) or chunk-NNNNN.bin files.")]
    NotAChunkFolder { path: PathBuf },
    #[error("chunks.tsv in {path} is damaged at line {line}: expected index, ms and bytes.")]
    BadIndex { path: PathBuf, line: usize },
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// One recorder chunk and when it arrived after recording started.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkEntry {
    pub at: Duration,
    pub path: PathBuf,
}

/// Reads a chunk folder's index, in order.
pub fn chunk_folder(dir: &Path) -> Result<Vec<ChunkEntry>, InputError> {
    let tsv = dir.join("chunks.tsv");
    let text =
        std::fs::read_to_string(&tsv).map_err(|_| InputError::NotAChunkFolder { path: dir.to_owned() })?;
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 && cols.first() == Some(&"index") || line.trim().is_empty() {
            continue;
        }
        let bad = || InputError::BadIndex {
            path: dir.to_owned(),
            line: i + 1,
        };
        let index: u32 = cols.first().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let ms: f64 = cols.get(1).and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        entries.push(ChunkEntry {
            at: Duration::from_secs_f64(ms.max(0.0) / 1000.0),
            path: dir.join(format!("chunk-{index:05}.bin")),
        });
    }
    if entries.is_empty() {
        return Err(InputError::NotAChunkFolder { path: dir.to_owned() });
    }
    Ok(entries)
}

fn read_err(path: &Path, e: &std::io::Error) -> InputError {
    InputError::Read {
        path: path.to_owned(),
        reason: crate::plain_io_reason(e),
    }
}

/// Pushes a chunk folder into the session; `paced` replays the recorder's own timing.
/// `progress` is told each chunk's index as it goes.
pub async fn replay_chunks(
    session: &Session,
    entries: &[ChunkEntry],
    paced: bool,
    mut progress: impl FnMut(usize),
) -> Result<u64, InputError> {
    let start = tokio::time::Instant::now();
    let mut total = 0;
    for (i, e) in entries.iter().enumerate() {
        if paced {
            tokio::time::sleep_until(start + e.at).await;
        }
        let bytes = tokio::fs::read(&e.path)
            .await
            .map_err(|err| read_err(&e.path, &err))?;
        total += bytes.len() as u64;
        session.push(bytes).await?;
        progress(i);
    }
    Ok(total)
}

/// Pushes a byte stream (a file, or stdin) in 64 KiB pieces until it ends.
pub async fn pump_reader(
    session: &Session,
    mut reader: impl AsyncRead + Unpin,
    name: &Path,
) -> Result<u64, InputError> {
    let mut total = 0;
    loop {
        // A recorder chunk's size: a file played live is sent at its pace, and what is read
        // ahead of that is what waits once the reading is done.
        let mut buf = vec![0u8; 16 * 1024];
        let n = reader.read(&mut buf).await.map_err(|e| read_err(name, &e))?;
        if n == 0 {
            return Ok(total);
        }
        buf.truncate(n);
        total += n as u64;
        session.push(buf).await?;
    }
}

/// Plays `looped` over and over until the session stops taking it (Stop, Ctrl-C, or a failure).
/// The session paces it when it was started with `realtime_input`.
pub async fn push_looped(session: &Session, looped: &Looped) -> Result<u64, InputError> {
    session.push(looped.header.clone()).await?;
    let mut total = looped.header.len() as u64;
    for n in 0.. {
        let (_, cluster) = looped.cluster(n);
        total += cluster.len() as u64;
        session.push(cluster).await?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_chunk_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("chunks.tsv"),
            "index\tms\tbytes\n0\t291.4\t218\n1\t591.3\t1033\n",
        )
        .unwrap();
        let e = chunk_folder(dir.path()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].at, Duration::from_secs_f64(0.5913));
        assert!(e[1].path.ends_with("chunk-00001.bin"));
        std::fs::write(dir.path().join("chunks.tsv"), "index\tms\n0\tx\n").unwrap();
        assert!(matches!(
            chunk_folder(dir.path()),
            Err(InputError::BadIndex { line: 2, .. })
        ));
    }
}
