//! One broadcast: recorder chunks in, ffmpeg in the middle, the Icecast mount out.
//!
//! ```text
//! push(chunk) ─► bounded queue ─► ffmpeg stdin     ffmpeg stdout ─► SourceConnection (PUT /mount)
//! ```
//! Stop closes the queue; ffmpeg sees the end of its input, encodes what it still holds and exits;
//! everything it wrote is sent before the connection closes, so a broadcast ends with its last
//! captured moment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::ffmpeg::{self, Ffmpeg, FfmpegError, FfmpegProcess};
use crate::format::{self, Container};
use crate::icecast::{self, IcecastError, SourceConnection, StreamHeaders, Target};
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
}

impl SessionOptions {
    pub fn new(ffmpeg: Ffmpeg) -> Self {
        SessionOptions {
            ffmpeg,
            realtime_input: false,
            listener_poll: Duration::from_secs(5),
        }
    }
}

/// What a finished broadcast did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub bytes_in: u64,
    pub bytes_sent: u64,
    pub live_for: Duration,
}

/// Chunks waiting for ffmpeg. Recorder chunks are ~250 ms, so this is a few seconds of media; when
/// it is full, `push` waits, which slows the producer instead of growing memory.
const QUEUE_CHUNKS: usize = 32;
/// How long ffmpeg may take to finish after its input ends before it is killed.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Session {
    tx: Option<mpsc::Sender<Vec<u8>>>,
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
            tx: Some(tx),
            end_input,
            status,
            status_tx,
            pid,
            task,
            listen_url,
        })
    }

    /// Hands one recorder chunk to the broadcast. Waits while the queue is full.
    pub async fn push(&self, chunk: Vec<u8>) -> Result<(), SessionError> {
        match &self.tx {
            Some(tx) => tx.send(chunk).await.map_err(|_| SessionError::Ended),
            None => Err(SessionError::Ended),
        }
    }

    /// A handle for pushing chunks from another task; the broadcast's input ends only when every
    /// sender is gone and Stop was pressed.
    pub fn sender(&self) -> mpsc::Sender<Vec<u8>> {
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
    pub async fn stop(mut self) -> Result<Summary, SessionError> {
        self.tx = None;
        self.end_input.send_replace(true);
        self.status_tx.send_modify(|s| {
            if !s.state.is_final() {
                s.state = State::Stopping;
            }
        });
        self.wait().await
    }

    /// Waits for the broadcast to end by itself (input ended, or a failure).
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

struct Counters {
    bytes_in: AtomicU64,
    bytes_sent: AtomicU64,
    /// Set when the first encoded bytes reach the server: from then on a listener gets media.
    live_since: std::sync::OnceLock<Instant>,
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
    log::info!(
        "live on {} ({}), input is {container:?}",
        target.listen_url(),
        settings.encoding.format.label()
    );
    let args = ffmpeg::args(
        settings.encoding.format,
        container,
        &settings.encoding,
        opts.realtime_input,
    );
    let mut proc = opts.ffmpeg.spawn(&args)?;
    let _ = pid_tx.send(proc.pid());
    let counters = Arc::new(Counters {
        bytes_in: AtomicU64::new(0),
        bytes_sent: AtomicU64::new(0),
        live_since: Default::default(),
    });
    let stats = tokio::spawn(report_stats(
        status.clone(),
        counters.clone(),
        target.clone(),
        opts.listener_poll,
    ));
    let repair = (container == Container::Mp4).then(crate::fmp4::Fmp4Repair::new);
    let feed = tokio::spawn(feed(
        proc.stdin.take().expect("stdin is piped"),
        head,
        rx,
        repair,
        counters.clone(),
    ));
    let format = settings.encoding.format;
    let pumped = pump(&mut proc, conn, (&target, &headers), format, &counters, &status).await;
    stats.abort();
    let result = finish(&mut proc, feed, pumped).await;
    let _ = pid_tx.send(None);
    result.map(|()| Summary {
        bytes_in: counters.bytes_in.load(Ordering::Relaxed),
        bytes_sent: counters.bytes_sent.load(Ordering::Relaxed),
        live_for: counters
            .live_since
            .get()
            .map(Instant::elapsed)
            .unwrap_or_default(),
    })
}

/// Recorder chunks into ffmpeg until the queue closes; closing stdin tells ffmpeg to finish.
/// MP4 from WebKit goes through the fragment repair on the way.
async fn feed(
    mut stdin: tokio::process::ChildStdin,
    head: Vec<u8>,
    mut rx: Input,
    mut repair: Option<crate::fmp4::Fmp4Repair>,
    counters: Arc<Counters>,
) {
    let mut head = Some(head);
    loop {
        let chunk = match head.take() {
            Some(h) => h,
            None => match rx.next().await {
                Some(c) => c,
                None => break,
            },
        };
        counters.bytes_in.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        let bytes = match &mut repair {
            Some(r) => r.push(&chunk),
            None => chunk,
        };
        // A write error means ffmpeg has gone; its exit status says why.
        if stdin.write_all(&bytes).await.is_err() {
            return;
        }
    }
    if let Some(r) = &mut repair {
        if r.dropped > 0 {
            log::info!(
                "dropped {} repeated MP4 fragment header(s) from the recorder",
                r.dropped
            );
        }
        if stdin.write_all(&r.finish()).await.is_err() {
            return;
        }
    }
    let _ = stdin.shutdown().await;
}

/// ffmpeg's output to the server until ffmpeg ends its output; then the connection is closed.
/// How long to wait before reconnect attempt `n` (1-based): 0.5 s doubling to 10 s, with jitter so
/// that many sources cut off together do not all come back at once.
fn backoff(attempt: u32) -> Duration {
    let base = (500u64 << attempt.saturating_sub(1).min(5)).min(10_000);
    // The clock's nanoseconds are random enough to spread sources apart (a fresh Instant's
    // elapsed() is ~0, which gave no jitter at all).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let jitter = nanos as u64 % (base / 5 + 1);
    Duration::from_millis(base - base / 10 + jitter)
}

/// The link to the server while ffmpeg's output flows: up, down (reconnecting), or back up and
/// waiting for a point where listeners can resume.
enum Link {
    Up(SourceConnection),
    Down {
        attempt: u32,
        next_try: tokio::time::Instant,
        trying: Option<JoinHandle<Result<SourceConnection, IcecastError>>>,
    },
    Resyncing(SourceConnection),
}

/// ffmpeg's output to the server until ffmpeg ends its output; then the connection is closed. A
/// lost connection is retried with backoff while the encoder keeps running; when it is back, the
/// stream header is sent again and the stream resumes at the next Cluster, page or frame.
async fn pump(
    proc: &mut FfmpegProcess,
    conn: SourceConnection,
    (target, headers): (&Target, &StreamHeaders),
    format: format::MountFormat,
    counters: &Counters,
    status: &watch::Sender<Status>,
) -> Result<(), IcecastError> {
    let mut stdout = proc.stdout.take().expect("stdout is piped");
    let mut buf = vec![0u8; 64 * 1024];
    let mut media = format::MediaStart::new(format);
    // The stream header, cached until media starts; sent again after a reconnect.
    let mut header = Vec::new();
    let mut header_done = false;
    // Bytes read while resyncing that may hold the start of a resume point.
    let mut carry = Vec::new();
    let mut link = Link::Up(conn);
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let data = &buf[..n];
        if !header_done {
            header.extend_from_slice(data);
            if let Some(end) = format::header_end(format, &header) {
                header.truncate(end);
                header_done = true;
            }
        }
        link = match link {
            Link::Up(mut conn) => match conn.send(data).await {
                Ok(()) => {
                    counters.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
                    if media.feed(data) && counters.live_since.set(Instant::now()).is_ok() {
                        status.send_modify(|s| {
                            if s.state == State::Connecting {
                                s.state = State::Live;
                            }
                        });
                    }
                    Link::Up(conn)
                }
                Err(e) if e.is_permanent() || counters.live_since.get().is_none() => return Err(e),
                Err(e) => {
                    log::warn!("connection lost, reconnecting: {e}");
                    Link::Down {
                        attempt: 1,
                        next_try: set_reconnecting(status, 1, &e),
                        trying: None,
                    }
                }
            },
            Link::Down {
                attempt,
                next_try: _,
                trying: Some(t),
            } if t.is_finished() => match t.await.expect("connect task") {
                Ok(conn) => {
                    carry.clear();
                    carry.extend_from_slice(data);
                    Link::Resyncing(conn)
                }
                // A server that has not yet noticed the old connection is gone says "in use".
                Err(e) if e.is_permanent() && !matches!(e, IcecastError::MountInUse { .. }) => return Err(e),
                Err(e) => Link::Down {
                    attempt: attempt + 1,
                    next_try: set_reconnecting(status, attempt + 1, &e),
                    trying: None,
                },
            },
            Link::Down {
                attempt,
                next_try,
                trying: None,
            } if tokio::time::Instant::now() >= next_try => {
                let (target, headers) = (target.clone(), headers.clone());
                status.send_modify(|s| {
                    if let State::Reconnecting { next_in_secs, .. } = &mut s.state {
                        *next_in_secs = 0;
                    }
                });
                Link::Down {
                    attempt,
                    next_try,
                    trying: Some(tokio::spawn(async move {
                        icecast::connect_source(&target, &headers).await
                    })),
                }
            }
            down @ Link::Down { .. } => down,
            Link::Resyncing(mut conn) => {
                carry.extend_from_slice(data);
                match format::resume_point(format, &carry) {
                    Some(at) => {
                        let resumed = [&header[..], &carry[at..]].concat();
                        match conn.send(&resumed).await {
                            Ok(()) => {
                                counters
                                    .bytes_sent
                                    .fetch_add(resumed.len() as u64, Ordering::Relaxed);
                                log::info!("reconnected to {}", target.listen_url());
                                status.send_modify(|s| s.state = State::Live);
                                carry.clear();
                                Link::Up(conn)
                            }
                            Err(e) => Link::Down {
                                attempt: 1,
                                next_try: set_reconnecting(status, 1, &e),
                                trying: None,
                            },
                        }
                    }
                    None => {
                        // Keep only what could be the start of a resume point.
                        let keep = carry.len().min(16);
                        carry.drain(..carry.len() - keep);
                        Link::Resyncing(conn)
                    }
                }
            }
        };
    }
    match link {
        Link::Up(mut conn) => {
            conn.send(&format.end_padding()).await?;
            conn.close().await
        }
        // Stopped while the server was away: what was captured is in the local recording.
        Link::Down { .. } | Link::Resyncing(_) => Err(IcecastError::Refusal {
            reason: "the connection to the server was lost and could not be made again before the end".into(),
        }),
    }
}

/// Schedules reconnect attempt `attempt` and says so; returns when it is due.
fn set_reconnecting(status: &watch::Sender<Status>, attempt: u32, e: &IcecastError) -> tokio::time::Instant {
    let wait = backoff(attempt);
    status.send_modify(|s| {
        s.state = State::Reconnecting {
            attempt,
            next_in_secs: wait.as_millis().div_ceil(1000) as u64,
            reason: e.to_string(),
        }
    });
    tokio::time::Instant::now() + wait
}

async fn finish(
    proc: &mut FfmpegProcess,
    feed: JoinHandle<()>,
    pumped: Result<(), IcecastError>,
) -> Result<(), SessionError> {
    if let Err(e) = pumped {
        // The server is gone: nothing more can be sent, so don't wait for ffmpeg to drain.
        feed.abort();
        proc.kill().await;
        return Err(e.into());
    }
    let exited = tokio::time::timeout(DRAIN_TIMEOUT, proc.wait()).await;
    feed.abort();
    match exited {
        Ok(r) => r.map_err(SessionError::from),
        Err(_) => {
            proc.kill().await;
            Err(FfmpegError::Failed {
                detail: "it did not finish within 15 seconds after the input ended.".into(),
            }
            .into())
        }
    }
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
