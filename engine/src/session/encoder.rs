//! ffmpeg as the transcoder: started, fed the recorder's chunks, its output read into the outbox
//! (through the engine's own WebM or Ogg Opus writer where the mount takes those), and started
//! again when it dies mid-stream.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use super::intake::{Input, MAX_INPUT_HEADER};
use super::passthrough::queue_batch;
use super::{SessionError, SessionOptions};
use crate::media::format::{self, Container, MountFormat};
use crate::media::{MediaError, Remux};
use crate::session::uplink::link::Counters;
use crate::session::uplink::outbox::{Item, Lanes};
use crate::transcode::ffmpeg::{self, FfmpegError};

/// How long ffmpeg may take to finish after its input ends before it is killed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// ffmpeg, supervised: started, fed, its output read into the outbox, and started again when it
/// dies mid-stream.
pub(super) struct Encoder<'a> {
    pub opts: &'a SessionOptions,
    pub format: MountFormat,
    pub container: Container,
    pub encode: &'a crate::settings::Encode,
    pub feeder: &'a Arc<tokio::sync::Mutex<Feeder>>,
    pub counters: &'a Arc<Counters>,
    pub outbox: &'a Lanes,
    /// Every running encoder's process id, for tests and diagnostics.
    pub pid_tx: &'a watch::Sender<Vec<u32>>,
}

impl Encoder<'_> {
    /// Until the input has ended and the encoder has finished with it; or the encoder failed in a
    /// way a restart cannot mend; or the server was given up on (the sender then has the reason).
    pub async fn run(&self, head: Vec<u8>) -> Result<(), SessionError> {
        let mut first = Some(head);
        let mut restarts = std::collections::VecDeque::new();
        // ffmpeg's WebM goes through the engine's writer like the recorder's does, so every WebM
        // mount has keyframe-led Clusters and Ogg Opus has a page per packet.
        let mut remux = self.format.written_by_engine().then(|| Remux::new(self.format));
        let mut pid = None;
        let result = self
            .supervise(&mut first, &mut restarts, &mut remux, &mut pid)
            .await;
        self.pid_tx.send_modify(|pids| pids.retain(|p| Some(*p) != pid));
        result
    }

    async fn supervise(
        &self,
        first: &mut Option<Vec<u8>>,
        restarts: &mut std::collections::VecDeque<Instant>,
        remux: &mut Option<Remux>,
        pid: &mut Option<u32>,
    ) -> Result<(), SessionError> {
        loop {
            let restarted = first.is_none();
            let args = ffmpeg::args(self.encode, self.container, self.opts.realtime_input, restarted);
            let mut proc = self.opts.ffmpeg.spawn(&args)?;
            self.pid_tx.send_modify(|pids| {
                pids.retain(|p| Some(*p) != *pid);
                pids.extend(proc.pid());
            });
            *pid = proc.pid();
            let stdin = proc.stdin.take().expect("stdin is piped");
            let feed = tokio::spawn(feed(
                self.feeder.clone(),
                stdin,
                first.take(),
                self.counters.clone(),
            ));
            let mut stdout = proc.stdout.take().expect("stdout is piped");
            let pumped = pump(&mut stdout, self.outbox, remux.as_mut()).await;
            if !matches!(pumped, Ok(true)) {
                // The server is gone for good, or ffmpeg's output cannot be read: nothing more
                // can be sent, so don't wait for ffmpeg.
                feed.abort();
                proc.kill().await;
                return pumped.map(|_| ()).map_err(SessionError::from);
            }
            // ffmpeg's output has ended: because its input did, or because it died.
            let Ok(exited) = tokio::time::timeout(DRAIN_TIMEOUT, proc.wait()).await else {
                feed.abort();
                proc.kill().await;
                return Err(FfmpegError::Failed {
                    detail: "it did not finish within 15 seconds after the input ended.".into(),
                }
                .into());
            };
            if !feed.is_finished() {
                feed.abort();
            }
            if matches!(feed.await, Ok(Fed::InputEnded)) {
                return Ok(exited?);
            }
            // Died mid-stream. A damaged input, an encoder that never got going or one that keeps
            // dying cannot be helped by starting it again.
            let now = Instant::now();
            restarts.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
            restarts.push_back(now);
            let reason = match exited {
                Err(e)
                    if e.is_damaged_input()
                        || restarts.len() > MAX_RESTARTS
                        || self.outbox.made_output.get().is_none() =>
                {
                    return Err(e.into())
                }
                Err(e) => e.to_string(),
                Ok(()) => "it stopped before its input ended".into(),
            };
            log::warn!("{reason} Restarting the encoder; the broadcast goes on.");
            self.counters.gaps.fetch_add(1, Ordering::Relaxed);
            match remux.as_mut() {
                Some(r) => r.input_restarted(),
                None => self.outbox.push(Item::EncoderRestarted),
            }
            self.feeder.lock().await.restart();
        }
    }
}

/// ffmpeg dying this often within the window counts as a failure rather than a hiccup.
const MAX_RESTARTS: usize = 3;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// ffmpeg's output into the outbox until ffmpeg ends its output (true), or until the sender gives
/// up on the server (false).
async fn pump(
    stdout: &mut tokio::process::ChildStdout,
    outbox: &Lanes,
    mut remux: Option<&mut Remux>,
) -> Result<bool, MediaError> {
    let mut buf = vec![0u8; 64 * 1024];
    // One wait for the whole pump, not a new one per read.
    let given_up = outbox.given_up();
    tokio::pin!(given_up);
    loop {
        let n = tokio::select! {
            read = stdout.read(&mut buf) => match read {
                Ok(0) | Err(_) => return Ok(true),
                Ok(n) => n,
            },
            _ = &mut given_up => return Ok(false),
        };
        match remux.as_deref_mut() {
            Some(r) => {
                if !queue_batch(outbox, r, &buf[..n], None, given_up.as_mut()).await? {
                    return Ok(false);
                }
            }
            None => outbox.push(Item::Output(buf[..n].to_vec(), Instant::now())),
        }
    }
}

/// The recorder's side of the encoder: its chunks, and what a restarted encoder needs to pick up
/// the stream (the recorder's header, then input from the next Cluster or fragment on).
pub(super) struct Feeder {
    input: Input,
    container: Container,
    /// MP4 from WebKit goes through the fragment repair on the way.
    repair: Option<crate::media::fmp4::Fmp4Repair>,
    header: Vec<u8>,
    header_done: bool,
    /// After a restart: input held back until the next point a decoder can start from; for a
    /// video mount, a Cluster with a keyframe, so that the new encoder's output starts whole.
    skipping: Option<Vec<u8>>,
    format: MountFormat,
    video_track: Option<u64>,
}

impl Feeder {
    pub fn new(container: Container, format: MountFormat, input: Input) -> Self {
        Feeder {
            format,
            video_track: None,
            input,
            container,
            repair: (container == Container::Mp4).then(crate::media::fmp4::Fmp4Repair::new),
            header: Vec::new(),
            header_done: false,
            skipping: None,
        }
    }

    fn restart(&mut self) {
        self.skipping = Some(Vec::new());
    }

    /// The bytes of one chunk that go to the encoder now.
    fn prepare(&mut self, chunk: Vec<u8>) -> Vec<u8> {
        let bytes = match &mut self.repair {
            Some(r) => r.push(&chunk),
            None => chunk,
        };
        if !self.header_done {
            self.header.extend_from_slice(&bytes);
            if let Some(end) = format::input_sync_point(self.container, &self.header) {
                self.header.truncate(end);
                self.header_done = true;
                if self.format == MountFormat::WebmVideo && self.container == Container::Webm {
                    self.video_track = format::webm_video_track(&self.header);
                }
            } else if self.header.len() > MAX_INPUT_HEADER {
                self.header_done = true;
            }
        }
        let Some(carry) = &mut self.skipping else {
            return bytes;
        };
        carry.extend_from_slice(&bytes);
        let found = match self.video_track {
            Some(track) => format::webm_keyframe_cluster(carry, track),
            None => format::input_sync_point(self.container, carry),
        };
        match found {
            Some(at) => {
                let from_sync = carry.split_off(at);
                self.skipping = None;
                from_sync
            }
            None => {
                carry.drain(..format::keep_from(carry));
                Vec::new()
            }
        }
    }
}

enum Fed {
    InputEnded,
    EncoderGone,
}

/// Recorder chunks into ffmpeg until the input ends; closing stdin tells ffmpeg to finish. A
/// restarted encoder (no `first` chunk) gets the recorder's header first.
async fn feed(
    feeder: Arc<tokio::sync::Mutex<Feeder>>,
    mut stdin: tokio::process::ChildStdin,
    mut first: Option<Vec<u8>>,
    counters: Arc<Counters>,
) -> Fed {
    let mut f = feeder.lock().await;
    if first.is_none() && stdin.write_all(&f.header).await.is_err() {
        return Fed::EncoderGone;
    }
    loop {
        let chunk = match first.take() {
            Some(h) => h,
            None => match f.input.next().await {
                Some(c) => c,
                None => break,
            },
        };
        counters.bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let bytes = f.prepare(chunk);
        // A write error means ffmpeg has gone; its exit status says why.
        if stdin.write_all(&bytes).await.is_err() {
            return Fed::EncoderGone;
        }
    }
    if let Some(r) = &mut f.repair {
        if r.dropped > 0 {
            log::info!(
                "dropped {} repeated MP4 fragment header(s) from the recorder",
                r.dropped
            );
        }
        if stdin.write_all(&r.finish()).await.is_err() {
            return Fed::EncoderGone;
        }
    }
    let _ = stdin.shutdown().await;
    Fed::InputEnded
}
