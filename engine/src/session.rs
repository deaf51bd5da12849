//! One broadcast: recorder chunks in, ffmpeg in the middle, the Icecast mount out.
//!
//! ```text
//! push(chunk) ─► recording, then bounded queue ─► ffmpeg stdin   (ffmpeg restarted if it dies)
//! ffmpeg stdout ─► outbox ─► sender: Uplink (PUT /mount, reconnect, drop when too slow)
//! ```
//! Stop closes the queue; ffmpeg sees the end of its input, encodes what it still holds and exits;
//! everything it wrote is sent before the connection closes, so a broadcast ends with its last
//! captured moment.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::ffmpeg::{self, Ffmpeg, FfmpegError};
use crate::format::{self, Container, MountFormat};
use crate::icecast::{self, IcecastError, StreamHeaders, Target};
use crate::link::{Counters, Uplink};
use crate::outbox::{self, Item, Outbox};
use crate::recording::Recording;
use crate::settings::{Invalid, Settings};
use crate::status::{State, Status};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Settings(#[from] Invalid),
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
    #[error(transparent)]
    Icecast(#[from] IcecastError),
    #[error(
        "The input is not a WebM or MP4 stream, so it cannot be broadcast. Use a camera or microphone \
         recording in WebM or MP4."
    )]
    NotMedia,
    #[error("The broadcast has already ended.")]
    Ended,
}

#[derive(Clone, Debug)]
pub struct SessionOptions {
    pub ffmpeg: Ffmpeg,
    /// Read the input at the media's own pace (a finished file played live); recorder chunks
    /// already arrive at that pace.
    pub realtime_input: bool,
    /// How often the listener count is read from the server's status page.
    pub listener_poll: Duration,
    /// Keep every chunk in a file in this folder (see `Recording`), written before it is queued.
    pub record_to: Option<PathBuf>,
}

impl SessionOptions {
    pub fn new(ffmpeg: Ffmpeg) -> Self {
        SessionOptions {
            ffmpeg,
            realtime_input: false,
            listener_poll: Duration::from_secs(5),
            record_to: None,
        }
    }
}

/// What a finished broadcast did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub bytes_in: u64,
    pub bytes_sent: u64,
    pub live_for: Duration,
    /// How often the stream had a gap: the server was away, or the encoder was restarted.
    pub gaps: u64,
}

impl Summary {
    /// Whether listeners got everything, in one sentence.
    pub fn delivery(&self) -> String {
        match self.gaps {
            0 => "Everything recorded was sent.".into(),
            1 => "The stream had one gap while it recovered; the local recording has everything.".into(),
            n => format!("The stream had {n} gaps while it recovered; the local recording has everything."),
        }
    }
}

/// Chunks waiting for ffmpeg. Recorder chunks are ~250 ms, so this is a few seconds of media; when
/// it is full, `push` waits, which slows the producer instead of growing memory.
const QUEUE_CHUNKS: usize = 32;
/// How long ffmpeg may take to finish after its input ends before it is killed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Hands recorder chunks to a broadcast: each one is written to the local recording first, then
/// queued for the encoder. Clones may push from other tasks; the recording keeps queue order.
#[derive(Clone)]
pub struct ChunkSender {
    tx: mpsc::Sender<Vec<u8>>,
    intake: Arc<Intake>,
}

impl ChunkSender {
    /// Waits while the queue is full, which slows the producer instead of growing memory.
    pub async fn send(&self, chunk: Vec<u8>) -> Result<(), SessionError> {
        let _in_order = self.intake.order.lock().await;
        self.intake.record(&chunk);
        self.tx.send(chunk).await.map_err(|_| SessionError::Ended)
    }
}

struct Intake {
    order: tokio::sync::Mutex<()>,
    recording: std::sync::Mutex<Option<Recording>>,
    status: Arc<watch::Sender<Status>>,
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
                    self.status.send_if_modified(|s| {
                        let new = s.recording.is_none();
                        s.recording.get_or_insert(path);
                        new
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
    fn finish(&self) {
        let Some(recording) = self.recording.lock().expect("recording lock").take() else {
            return;
        };
        match recording.finish() {
            Ok(Some(path)) => self
                .status
                .send_modify(|s| s.recording = Some(path.display().to_string())),
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

pub struct Session {
    tx: Option<ChunkSender>,
    /// Stop ends the input even while copies of the sender (`sender()`) are still around.
    end_input: watch::Sender<bool>,
    status: watch::Receiver<Status>,
    status_tx: Arc<watch::Sender<Status>>,
    pid: watch::Receiver<Option<u32>>,
    task: JoinHandle<Result<Summary, SessionError>>,
    pub listen_url: String,
}

impl Session {
    /// Checks the settings and finds nothing wrong, then goes live in the background: the state
    /// moves Connecting → Live, or to Failed with the reason. Push chunks as they come.
    pub fn start(settings: Settings, opts: SessionOptions) -> Result<Session, SessionError> {
        settings.validate()?;
        let (tx, rx) = mpsc::channel(QUEUE_CHUNKS);
        let (end_input, ended) = watch::channel(false);
        let rx = Input { rx, ended };
        let (status_tx, status) = watch::channel(Status::default());
        let status_tx = Arc::new(status_tx);
        let intake = Arc::new(Intake {
            order: Default::default(),
            recording: std::sync::Mutex::new(opts.record_to.as_deref().map(Recording::new)),
            status: status_tx.clone(),
        });
        let (pid_tx, pid) = watch::channel(None);
        let target = Target::from_settings(&settings);
        let listen_url = target.listen_url();
        let st = status_tx.clone();
        let task = tokio::spawn(async move {
            let result = run(settings, opts, rx, st.clone(), pid_tx).await;
            st.send_modify(|s| {
                s.state = match &result {
                    Ok(_) => State::Stopped,
                    Err(e) => State::Failed {
                        reason: e.to_string(),
                    },
                }
            });
            result
        });
        Ok(Session {
            tx: Some(ChunkSender { tx, intake }),
            end_input,
            status,
            status_tx,
            pid,
            task,
            listen_url,
        })
    }

    /// Hands one recorder chunk to the broadcast (and the recording). Waits while the queue is full.
    pub async fn push(&self, chunk: Vec<u8>) -> Result<(), SessionError> {
        match &self.tx {
            Some(tx) => tx.send(chunk).await,
            None => Err(SessionError::Ended),
        }
    }

    /// A handle for pushing chunks from another task; the broadcast's input ends when every
    /// sender is gone, or when Stop is pressed.
    pub fn sender(&self) -> ChunkSender {
        self.tx.clone().expect("a running session has its sender")
    }

    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// The running ffmpeg's process id, once it has started.
    pub fn ffmpeg_pid(&self) -> Option<u32> {
        *self.pid.borrow()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Ends the broadcast after everything already pushed has been encoded and sent.
    /// The recording is complete when this returns; the final status says where it is.
    pub async fn stop(mut self) -> Result<Summary, SessionError> {
        let intake = self.tx.take().map(|t| t.intake);
        self.end_input.send_replace(true);
        if let Some(intake) = intake {
            // A push still under way has written its chunk by the time it lets go of the order.
            let _last = intake.order.lock().await;
            intake.finish();
        }
        self.status_tx.send_modify(|s| {
            if !s.state.is_final() {
                s.state = State::Stopping;
            }
        });
        self.wait().await
    }

    /// Waits for the broadcast to end by itself (input ended, or a failure).
    /// The recording is closed when the last sender is dropped.
    pub async fn wait(self) -> Result<Summary, SessionError> {
        drop(self.tx);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(SessionError::Ffmpeg(FfmpegError::Failed {
                detail: format!("internal error: {e}"),
            })),
        }
    }
}

/// The recorder's chunks in order, until every sender is gone or the session is stopped; what was
/// queued before the stop is still delivered.
struct Input {
    rx: mpsc::Receiver<Vec<u8>>,
    ended: watch::Receiver<bool>,
}

impl Input {
    async fn next(&mut self) -> Option<Vec<u8>> {
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

/// Collects the first bytes until the container can be told. None: the input ended empty.
async fn sniff_input(rx: &mut Input) -> Result<Option<(Container, Vec<u8>)>, SessionError> {
    let mut head = Vec::new();
    while head.len() < format::SNIFF_LEN {
        match rx.next().await {
            Some(chunk) => head.extend_from_slice(&chunk),
            None if head.is_empty() => return Ok(None),
            None => break,
        }
    }
    match format::sniff(&head) {
        Some(c) => Ok(Some((c, head))),
        None => Err(SessionError::NotMedia),
    }
}

async fn run(
    settings: Settings,
    opts: SessionOptions,
    mut rx: Input,
    status: Arc<watch::Sender<Status>>,
    pid_tx: watch::Sender<Option<u32>>,
) -> Result<Summary, SessionError> {
    let target = Target::from_settings(&settings);
    let headers = StreamHeaders::from_settings(&settings);
    // Log in while the first chunk is on its way: a wrong password shows at once, and the mount is
    // listed before media flows.
    let connect = async {
        icecast::connect_source(&target, &headers)
            .await
            .map_err(SessionError::from)
    };
    let (conn, input) = tokio::try_join!(connect, sniff_input(&mut rx))?;
    let Some((container, head)) = input else {
        conn.close().await?;
        return Ok(Summary::default());
    };
    let format = settings.encoding.format;
    log::info!(
        "live on {} ({}), input is {container:?}",
        target.listen_url(),
        format.label()
    );
    let counters = Arc::new(Counters {
        bytes_in: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        gaps: AtomicU64::new(0),
        skipped_ms: AtomicU64::new(0),
        live_since: Default::default(),
    });
    let stats = AbortOnDrop(tokio::spawn(report_stats(
        status.clone(),
        counters.clone(),
        target.clone(),
        opts.listener_poll,
    )));
    let feeder = Arc::new(tokio::sync::Mutex::new(Feeder::new(container, format, rx)));
    let uplink = Uplink::new(
        conn,
        (target.clone(), headers.clone()),
        format,
        counters.clone(),
        status.clone(),
    );
    let outbox = Arc::new(Outbox::default());
    let sender = tokio::spawn(outbox::send_all(uplink, outbox.clone()));
    let encoder = Encoder {
        opts: &opts,
        format,
        container,
        encoding: &settings.encoding,
        feeder: &feeder,
        counters: &counters,
        outbox: &outbox,
        pid_tx: &pid_tx,
    };
    let encoded = encoder.run(head).await;
    let _ = pid_tx.send(None);
    drop(stats);
    // What the encoder made is delivered and the stream ended cleanly even when the encoder failed,
    // so that the server has let go of the mount when the session reports its end.
    outbox.close();
    let sent = sender.await.expect("the sender does not panic");
    sent?;
    encoded?;
    Ok(Summary {
        bytes_in: counters.bytes_in.load(Ordering::Relaxed),
        bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
        gaps: counters.gaps.load(Ordering::Relaxed),
        live_for: counters
            .live_since
            .get()
            .map(Instant::elapsed)
            .unwrap_or_default(),
    })
}

/// ffmpeg, supervised: started, fed, its output read into the outbox, and started again when it
/// dies mid-stream.
struct Encoder<'a> {
    opts: &'a SessionOptions,
    format: MountFormat,
    container: Container,
    encoding: &'a crate::settings::EncodingSettings,
    feeder: &'a Arc<tokio::sync::Mutex<Feeder>>,
    counters: &'a Arc<Counters>,
    outbox: &'a Outbox,
    pid_tx: &'a watch::Sender<Option<u32>>,
}

impl Encoder<'_> {
    /// Until the input has ended and the encoder has finished with it; or the encoder failed in a
    /// way a restart cannot mend; or the server was given up on (the sender then has the reason).
    async fn run(&self, head: Vec<u8>) -> Result<(), SessionError> {
        let mut first = Some(head);
        let mut restarts = std::collections::VecDeque::new();
        loop {
            let restarted = first.is_none();
            let args = ffmpeg::args(
                self.format,
                self.container,
                self.encoding,
                self.opts.realtime_input,
                restarted,
            );
            let mut proc = self.opts.ffmpeg.spawn(&args)?;
            let _ = self.pid_tx.send(proc.pid());
            let stdin = proc.stdin.take().expect("stdin is piped");
            let feed = tokio::spawn(feed(
                self.feeder.clone(),
                stdin,
                first.take(),
                self.counters.clone(),
            ));
            let mut stdout = proc.stdout.take().expect("stdout is piped");
            if !pump(&mut stdout, self.outbox).await {
                // The server is gone for good: nothing more can be sent, so don't wait for ffmpeg.
                feed.abort();
                proc.kill().await;
                return Ok(());
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
                        || self.counters.live_since.get().is_none() =>
                {
                    return Err(e.into())
                }
                Err(e) => e.to_string(),
                Ok(()) => "it stopped before its input ended".into(),
            };
            log::warn!("{reason} Restarting the encoder; the broadcast goes on.");
            self.counters.gaps.fetch_add(1, Ordering::Relaxed);
            self.outbox.push(Item::EncoderRestarted);
            self.feeder.lock().await.restart();
        }
    }
}

/// ffmpeg dying this often within the window counts as a failure rather than a hiccup.
const MAX_RESTARTS: usize = 3;
const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// ffmpeg's output into the outbox until ffmpeg ends its output (true), or until the sender gives
/// up on the server (false).
async fn pump(stdout: &mut tokio::process::ChildStdout, outbox: &Outbox) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    // One wait for the whole pump, not a new one per read.
    let given_up = outbox.given_up();
    tokio::pin!(given_up);
    loop {
        tokio::select! {
            read = stdout.read(&mut buf) => match read {
                Ok(0) | Err(_) => return true,
                Ok(n) => outbox.push(Item::Output(buf[..n].to_vec(), Instant::now())),
            },
            _ = &mut given_up => return false,
        }
    }
}

/// The recorder's side of the encoder: its chunks, and what a restarted encoder needs to pick up
/// the stream (the recorder's header, then input from the next Cluster or fragment on).
struct Feeder {
    input: Input,
    container: Container,
    /// MP4 from WebKit goes through the fragment repair on the way.
    repair: Option<crate::fmp4::Fmp4Repair>,
    header: Vec<u8>,
    header_done: bool,
    /// After a restart: input held back until the next point a decoder can start from; for a
    /// video mount, a Cluster with a keyframe, so that the new encoder's output starts whole.
    skipping: Option<Vec<u8>>,
    format: MountFormat,
    video_track: Option<u64>,
}

/// A recorder header larger than this is not cached (no real one comes near it).
const MAX_INPUT_HEADER: usize = 1 << 20;

impl Feeder {
    fn new(container: Container, format: MountFormat, input: Input) -> Self {
        Feeder {
            format,
            video_track: None,
            input,
            container,
            repair: (container == Container::Mp4).then(crate::fmp4::Fmp4Repair::new),
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

async fn report_stats(
    status: Arc<watch::Sender<Status>>,
    counters: Arc<Counters>,
    target: Target,
    listener_poll: Duration,
) {
    let (listeners_tx, mut listeners_rx) = watch::channel(None::<u32>);
    let _poller = AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(listener_poll);
        loop {
            tick.tick().await;
            if let Ok(doc) = icecast::fetch_status(&target.endpoint).await {
                let n = icecast::mount_status(&doc, &target.mount).map(|m| m.listeners);
                let _ = listeners_tx.send(n);
            }
        }
    }));
    // Bitrate over a sliding window of a few seconds: smooth enough to read, quick to show a drop.
    let mut window: std::collections::VecDeque<(Instant, u64)> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let sent = counters.bytes_sent.load(Ordering::Relaxed);
        window.push_back((now, sent));
        while window.len() > 4 {
            window.pop_front();
        }
        let (t0, b0) = window[0];
        let dt = now.duration_since(t0).as_secs_f64();
        let kbps = if dt > 0.0 {
            (sent - b0) as f64 * 8.0 / dt / 1000.0
        } else {
            0.0
        };
        let listeners = *listeners_rx.borrow_and_update();
        status.send_modify(|s| {
            s.uptime_secs = counters.live_since.get().map_or(0, |t| t.elapsed().as_secs());
            s.bytes_sent = sent;
            s.bitrate_kbps = kbps;
            if listeners.is_some() {
                s.listeners = listeners;
            }
        });
    }
}

/// Ends a helper task together with the task that owns it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
