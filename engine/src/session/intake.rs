//! The recorder's chunks on their way in: recorded first, then queued (bounded, so a slow encoder
//! slows the recorder instead of growing memory), told apart by container, and copied to each stream.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::error::SessionError;
use crate::media::format::{self, Container};
use crate::media::webm_reader::{Tracks, WebmReader};
use crate::media::MediaError;
use crate::session::recording::Recording;
use crate::status::Status;

/// A recorder header larger than this is not cached (no real one comes near it).
pub(super) const MAX_INPUT_HEADER: usize = 1 << 20;

/// Chunks waiting to be written or encoded. Recorder chunks are ~250 ms, so this is a few seconds
/// of media; when it is full, `push` waits, which slows the producer instead of growing memory.
pub(super) const QUEUE_CHUNKS: usize = 32;
/// A file played live is read no further ahead than it is sent: otherwise its last 2 MB (minutes
/// of sound) would sit in the queue while the CLI already says it is stopping.
pub(super) const REALTIME_QUEUE_CHUNKS: usize = 1;

/// Hands recorder chunks to a broadcast: each one is written to the local recording first, then
/// queued for the encoder. Clones may push from other tasks; the recording keeps queue order.
#[derive(Clone)]
pub struct ChunkSender {
    pub(super) tx: mpsc::Sender<Vec<u8>>,
    pub(super) intake: Arc<Intake>,
}

impl ChunkSender {
    /// Marks a moment of the broadcast's media time in the local recording (a cue sheet beside
    /// it), e.g. where the sound input went away; a recording that cannot take it says so once.
    pub fn mark(&self, at: std::time::Duration, title: &str) {
        let mut slot = self.intake.recording.lock().expect("recording lock");
        if let Some(Err(e)) = slot.as_mut().map(|r| r.mark(at, title)) {
            log::warn!("{e}");
        }
    }

    /// Waits while the queue is full, which slows the producer instead of growing memory.
    pub async fn send(&self, chunk: Vec<u8>) -> Result<(), SessionError> {
        let _in_order = self.intake.order.lock().await;
        self.intake.record(&chunk);
        self.tx.send(chunk).await.map_err(|_| SessionError::Ended)
    }
}

pub(super) struct Intake {
    pub(super) order: tokio::sync::Mutex<()>,
    pub(super) recording: std::sync::Mutex<Option<Recording>>,
    pub(super) status: Arc<watch::Sender<Status>>,
    /// When the recording's size was last told: about once a second (the page's REC light), not
    /// at every chunk, which for captured sound comes 50 times a second.
    pub(super) size_told: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Intake {
    fn record(&self, chunk: &[u8]) {
        let mut slot = self.recording.lock().expect("recording lock");
        let Some(recording) = slot.as_mut() else {
            return;
        };
        match recording.write(chunk) {
            Ok(()) => {
                if let Some(path) = recording.path() {
                    let path = path.display().to_string();
                    let bytes = recording.bytes();
                    let mut told = self.size_told.lock().expect("size lock");
                    let due = told.is_none_or(|t| t.elapsed() >= Duration::from_secs(1));
                    self.status.send_if_modified(|s| {
                        let new = s.recording.is_none();
                        s.recording.get_or_insert(path);
                        if due {
                            s.recording_bytes = bytes;
                            *told = Some(std::time::Instant::now());
                        }
                        new || due
                    });
                }
            }
            // The broadcast matters more than its copy: say so and go on without it.
            Err(e) => {
                log::warn!("{e}");
                self.status
                    .send_modify(|s| s.recording_problem = Some(e.to_string()));
                *slot = None;
            }
        }
    }

    /// Closes the recording once no more chunks can come; says where it is, or what went wrong.
    pub(super) fn finish(&self) {
        let Some(recording) = self.recording.lock().expect("recording lock").take() else {
            return;
        };
        let bytes = recording.bytes();
        match recording.finish() {
            Ok(Some(path)) => self.status.send_modify(|s| {
                s.recording = Some(path.display().to_string());
                s.recording_bytes = bytes;
            }),
            Ok(None) => {}
            Err(e) => {
                log::warn!("{e}");
                self.status
                    .send_modify(|s| s.recording_problem = Some(e.to_string()));
            }
        }
    }
}

impl Drop for Intake {
    /// A session dropped without Stop still leaves a complete, playable recording.
    fn drop(&mut self) {
        self.finish();
    }
}

/// The recorder's chunks in order, until every sender is gone or the session is stopped; what was
/// queued before the stop is still delivered.
pub(super) struct Input {
    pub(super) rx: mpsc::Receiver<Vec<u8>>,
    pub(super) ended: watch::Receiver<bool>,
}

impl Input {
    pub(super) async fn next(&mut self) -> Option<Vec<u8>> {
        let ended = async {
            // A dropped Session (as in `wait`) is not a stop: the senders decide then.
            if self.ended.wait_for(|e| *e).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            biased;
            chunk = self.rx.recv() => chunk,
            _ = ended => {
                self.rx.close();
                self.rx.recv().await
            }
        }
    }
}

/// Collects the first bytes until the container can be told. None: the input ended empty. With
/// `first_within`, an input that has given no byte by then (empty chunks count for nothing) fails.
pub(super) async fn sniff_input(
    rx: &mut Input,
    first_within: Option<Duration>,
) -> Result<Option<(Container, Vec<u8>)>, SessionError> {
    let mut head = Vec::new();
    let deadline = first_within.map(|d| (tokio::time::Instant::now() + d, d));
    while head.len() < format::SNIFF_LEN {
        let next =
            match deadline {
                Some((at, waited)) if head.is_empty() => tokio::time::timeout_at(at, rx.next())
                    .await
                    .map_err(|_| MediaError::NothingCaptured {
                        seconds: waited.as_secs(),
                    })?,
                _ => rx.next().await,
            };
        match next {
            Some(chunk) => head.extend_from_slice(&chunk),
            None if head.is_empty() => return Ok(None),
            None => break,
        }
    }
    match format::sniff(&head) {
        Some(c) => Ok(Some((c, head))),
        None => Err(MediaError::NotMedia.into()),
    }
}

/// Reads on until the recorder's WebM header has been read (it comes first, in a few hundred
/// bytes), keeping every byte in `head`. None: the input ended first, or has no header to read.
pub(super) async fn read_tracks(rx: &mut Input, head: &mut Vec<u8>) -> Result<Option<Tracks>, SessionError> {
    let mut reader = WebmReader::new();
    let mut events = Vec::new();
    reader.push(head, &mut events)?;
    while reader.tracks().is_none() && head.len() < MAX_INPUT_HEADER {
        let Some(chunk) = rx.next().await else {
            break;
        };
        events.clear();
        reader.push(&chunk, &mut events)?;
        head.extend_from_slice(&chunk);
    }
    Ok(reader.tracks().cloned())
}

/// Copies each chunk of the input to `n` inputs, one per stream; the input ends for all of them
/// when it ends. A stream that has stopped taking input is left out; a slow one slows the copy
/// (its queue is bounded), as one stream slows the recorder.
pub(super) fn tee(mut input: Input, n: usize) -> Vec<Input> {
    let (senders, inputs): (Vec<_>, Vec<_>) = (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
            // Stop reaches these through the input they copy: they end when it has ended.
            let (_, ended) = watch::channel(false);
            (tx, Input { rx, ended })
        })
        .unzip();
    tokio::spawn(async move {
        while let Some(chunk) = input.next().await {
            for tx in &senders {
                let _ = tx.send(chunk.clone()).await;
            }
        }
    });
    inputs
}
