//! One broadcast: recorder chunks in, the mount's stream made from them, the Icecast mount out.
//!
//! ```text
//! push(chunk) ─► recording, then bounded queue ─┬► passthrough: the engine's own WebM / Ogg Opus
//!                                               └► encoder: ffmpeg (restarted if it dies)
//!                          ─► outbox ─► sender: Uplink (PUT /mount, reconnect, drop when too slow)
//! ```
//! WebM whose codecs the mount can carry is rewritten block by block by the engine (no ffmpeg);
//! everything else is transcoded by ffmpeg, whose WebM output is rewritten the same way.
//! Stop closes the queue; what was captured is written or encoded and sent before the connection
//! closes, so a broadcast ends with its last captured moment.

mod encoder;
mod listeners;
mod passthrough;
mod routes;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::ffmpeg::{Ffmpeg, FfmpegError};
use crate::format::{self, Container};
use crate::icecast::{IcecastError, Target};
use crate::link::Counters;
use crate::media::webm_reader::{Tracks, WebmReader};
use crate::media::{remux, MediaError, Remux};
use crate::outbox::Lanes;
use crate::recording::Recording;
use crate::settings::{Encode, Invalid, Settings};
use crate::status::{State, Status};
use routes::Route;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Settings(#[from] Invalid),
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
    #[error(transparent)]
    Icecast(#[from] IcecastError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("The broadcast has already ended.")]
    Ended,
    #[error("That destination is not on air in this broadcast.")]
    NotOnAir,
    #[error("That destination is already on air.")]
    AlreadyOnAir,
    #[error("That destination was switched off when the broadcast started: switch it on in Settings and go live again to send to it.")]
    SwitchedOff,
    #[error("The broadcast is still starting: try again in a moment.")]
    StillStarting,
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

/// Chunks waiting to be written or encoded. Recorder chunks are ~250 ms, so this is a few seconds
/// of media; when it is full, `push` waits, which slows the producer instead of growing memory.
const QUEUE_CHUNKS: usize = 32;
/// A file played live is read no further ahead than it is sent: otherwise its last 2 MB (minutes
/// of sound) would sit in the queue while the CLI already says it is stopping.
const REALTIME_QUEUE_CHUNKS: usize = 1;

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
    pids: watch::Receiver<Vec<u32>>,
    routes: Vec<Arc<Route>>,
    /// Set once no destination is on air: the broadcast then ends, and none can start again.
    over: Arc<watch::Sender<bool>>,
    task: JoinHandle<Result<Summary, SessionError>>,
    pub listen_url: String,
}

impl Session {
    /// Checks the settings and finds nothing wrong, then goes live in the background: the state
    /// moves Connecting → Live, or to Failed with the reason. Push chunks as they come.
    pub fn start(settings: Settings, opts: SessionOptions) -> Result<Session, SessionError> {
        settings.validate()?;
        let queued = match opts.realtime_input {
            true => REALTIME_QUEUE_CHUNKS,
            false => QUEUE_CHUNKS,
        };
        let (tx, rx) = mpsc::channel(queued);
        let (end_input, ended) = watch::channel(false);
        let rx = Input { rx, ended };
        let (status_tx, status) = watch::channel(Status::default());
        let status_tx = Arc::new(status_tx);
        let intake = Arc::new(Intake {
            order: Default::default(),
            recording: std::sync::Mutex::new(opts.record_to.as_deref().map(Recording::new)),
            status: status_tx.clone(),
        });
        let (pid_tx, pids) = watch::channel(Vec::new());
        let listen_url = (settings.enabled().next())
            .map(|(_, d)| Target::new(&settings, d).listen_url())
            .unwrap_or_default();
        let routes: Vec<Arc<Route>> = settings
            .enabled()
            .map(|(i, d)| Arc::new(Route::new(i, &settings, d, opts.listener_poll)))
            .collect();
        let over = Arc::new(watch::Sender::new(false));
        let st = status_tx.clone();
        let (running, ending) = (routes.clone(), over.clone());
        let task = tokio::spawn(async move {
            let result = run(running, opts, rx, (st.clone(), ending), pid_tx).await;
            st.send_modify(|s| {
                s.state = match &result {
                    Ok(_) => State::Stopped,
                    Err(e) => State::Failed {
                        reason: e.to_string(),
                    },
                };
                if let Err(SessionError::Icecast(e)) = &result {
                    s.certificate = e.certificate_offer();
                }
            });
            result
        });
        Ok(Session {
            tx: Some(ChunkSender { tx, intake }),
            end_input,
            status,
            status_tx,
            pids,
            routes,
            over,
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

    /// The running ffmpeg's process id, once it has started (the first one's, if several run).
    pub fn ffmpeg_pid(&self) -> Option<u32> {
        self.pids.borrow().first().copied()
    }

    /// Every running ffmpeg's process id: one per stream that needs transcoding, none for the
    /// mounts the engine writes itself.
    pub fn ffmpeg_pids(&self) -> Vec<u32> {
        self.pids.borrow().clone()
    }

    /// Stops one destination (by its place in the settings' list) while the broadcast goes on to
    /// the others; what was made for it so far is delivered first. Stopping the last one that is
    /// still on air ends the broadcast.
    pub fn stop_destination(&self, index: usize) -> Result<(), SessionError> {
        match self.routes.iter().find(|r| r.index == index) {
            Some(route) if route.stop() => Ok(()),
            _ => Err(SessionError::NotOnAir),
        }
    }

    /// Starts a destination again (by its place in the settings' list) after it was stopped or
    /// failed, while the broadcast goes on to the others: it logs in anew and its listeners get
    /// the stream from its next point they can start at. A refusal is its error and its state.
    pub async fn start_destination(&self, index: usize) -> Result<(), SessionError> {
        match self.routes.iter().find(|r| r.index == index) {
            Some(route) => route.start_again(&self.over).await,
            None => Err(SessionError::SwitchedOff),
        }
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
        None => Err(MediaError::NotMedia.into()),
    }
}

/// Reads on until the recorder's WebM header has been read (it comes first, in a few hundred
/// bytes), keeping every byte in `head`. None: the input ended first, or has no header to read.
async fn read_tracks(rx: &mut Input, head: &mut Vec<u8>) -> Result<Option<Tracks>, SessionError> {
    let mut reader = WebmReader::new();
    let mut events = Vec::new();
    reader.push(head, &mut events)?;
    while reader.tracks().is_none() && head.len() < encoder::MAX_INPUT_HEADER {
        let Some(chunk) = rx.next().await else {
            break;
        };
        events.clear();
        reader.push(&chunk, &mut events)?;
        head.extend_from_slice(&chunk);
    }
    Ok(reader.tracks().cloned())
}

async fn run(
    routes: Vec<Arc<Route>>,
    opts: SessionOptions,
    mut rx: Input,
    (status, over): (Arc<watch::Sender<Status>>, Arc<watch::Sender<bool>>),
    pid_tx: watch::Sender<Vec<u32>>,
) -> Result<Summary, SessionError> {
    let _composer = routes::compose(status.clone(), &routes, over.clone());
    // Log in while the first chunk is on its way: a wrong password shows at once, and the mounts
    // are listed before media flows.
    let (conns, input) = tokio::try_join!(routes::log_in(&routes), sniff_input(&mut rx))?;
    let Some((container, mut head)) = input else {
        for conn in conns.into_iter().flatten() {
            conn.close().await?;
        }
        return Ok(Summary::default());
    };
    let tracks = match container {
        Container::Webm => read_tracks(&mut rx, &mut head).await?,
        _ => None,
    };
    // One stream per encode (format and audio bitrate), sent to each destination that takes it;
    // also for a destination refused at first, which may be started again while live.
    let mut streams: Vec<Stream> = Vec::new();
    for (route, conn) in routes.iter().zip(conns) {
        let stream = match streams.iter_mut().position(|s| s.encode == route.encode) {
            Some(i) => &mut streams[i],
            None => {
                let lanes = Lanes::new(route.encode.format, over.subscribe());
                streams.push(Stream {
                    encode: route.encode.clone(),
                    routes: Vec::new(),
                    lanes: Arc::new(lanes),
                    counters: Arc::default(),
                });
                streams.last_mut().expect("just pushed")
            }
        };
        route.attach(&stream.lanes, conn);
        stream.routes.push(route.clone());
    }
    // One stream reads the input itself; several get a copy of each chunk.
    let mut inputs: Vec<Input> = match streams.len() {
        1 => vec![rx],
        n => tee(rx, n),
    };
    let made = join_all(streams.iter().zip(inputs.drain(..)).map(|(stream, input)| {
        let carried = container == Container::Webm
            && tracks
                .as_ref()
                .is_some_and(|t| remux::carried(stream.encode.format, t).is_some());
        stream.make(carried, container, head.clone(), input, &opts, &pid_tx)
    }))
    .await;
    pid_tx.send_replace(Vec::new());
    // Each destination's fate: its sender's, or its stream's when that one failed.
    let mut first_error = None;
    let mut any_ok = false;
    let mut summary = Summary::default();
    for (stream, made) in streams.into_iter().zip(made) {
        summary.bytes_in = summary
            .bytes_in
            .max(stream.counters.bytes_in.load(Ordering::Relaxed));
        let stream_gaps = stream.counters.gaps.load(Ordering::Relaxed);
        for route in &stream.routes {
            // Never on air (refused at first and not started again): the others decide.
            let Some(sender) = route.take_sender() else {
                continue;
            };
            let sent = sender.await.expect("the sender does not panic");
            let c = &route.counters;
            summary.bytes_sent += c.bytes_sent.load(Ordering::Relaxed);
            summary.gaps = summary.gaps.max(stream_gaps + c.gaps.load(Ordering::Relaxed));
            let ended = match (sent, &made) {
                (Err(e), _) => Err(SessionError::from(e)),
                (Ok(()), Err(e)) => {
                    route.fail(e);
                    Err(e.clone())
                }
                (Ok(()), Ok(())) => Ok(()),
            };
            match ended {
                Ok(()) => any_ok = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    if let (false, Some(e)) = (any_ok, first_error) {
        return Err(e);
    }
    summary.live_for = routes::live_since(&routes)
        .map(|t| t.elapsed())
        .unwrap_or_default();
    Ok(summary)
}

/// One encode's stream and the destinations it goes to.
struct Stream {
    encode: Encode,
    routes: Vec<Arc<Route>>,
    lanes: Arc<Lanes>,
    /// Its input and its encoder's restarts.
    counters: Arc<Counters>,
}

impl Stream {
    /// Makes the stream from the input, written by the engine (`carried`) or encoded by ffmpeg,
    /// until the input ends or every destination of it has given up. What was made is delivered
    /// and each stream ended cleanly even when the encoder failed, so that the servers have let
    /// go of the mounts when the session reports its end.
    async fn make(
        &self,
        carried: bool,
        container: Container,
        head: Vec<u8>,
        mut input: Input,
        opts: &SessionOptions,
        pid_tx: &watch::Sender<Vec<u32>>,
    ) -> Result<(), SessionError> {
        let format = self.encode.format;
        let lanes = &self.lanes;
        for route in &self.routes {
            log::info!(
                "live on {} ({}), input is {container:?}, {}",
                route.target.listen_url(),
                format.label(),
                if carried {
                    "written by the engine"
                } else {
                    "encoded by ffmpeg"
                }
            );
        }
        let made = if carried {
            passthrough::run(
                Remux::new(format),
                head,
                &mut input,
                lanes,
                &self.counters,
                opts.realtime_input,
            )
            .await
        } else {
            let encoder = encoder::Encoder {
                opts,
                format,
                container,
                encode: &self.encode,
                feeder: &Arc::new(tokio::sync::Mutex::new(encoder::Feeder::new(
                    container, format, input,
                ))),
                counters: &self.counters,
                outbox: lanes,
                pid_tx,
            };
            encoder.run(head).await
        };
        lanes.close();
        made
    }
}

/// Copies each chunk of the input to `n` inputs, one per stream; the input ends for all of them
/// when it ends. A stream that has stopped taking input is left out; a slow one slows the copy
/// (its queue is bounded), as one stream slows the recorder.
fn tee(mut input: Input, n: usize) -> Vec<Input> {
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

async fn report_stats(
    status: Arc<watch::Sender<Status>>,
    counters: Arc<Counters>,
    target: Target,
    listener_poll: Duration,
) {
    let (listeners_tx, mut listeners_rx) = watch::channel(listeners::Listeners::default());
    let _poller = AbortOnDrop(tokio::spawn(listeners::poll(target, listener_poll, listeners_tx)));
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
            if listeners.count.is_some() {
                s.listeners = listeners.count;
            }
            s.listeners_not_reported = listeners.not_reported;
        });
    }
}

/// Ends a helper task together with the task that owns it.
pub(super) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
