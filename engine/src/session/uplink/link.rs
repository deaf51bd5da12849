//! The source connection while the encoder's output flows: up, down (reconnecting with backoff),
//! or back up and waiting for a point where listeners can resume. The encoder never waits for the
//! server: a lost connection is retried in the background while its output is read on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::outbox::{Item, Joining, Outbox};
use crate::icecast::{self, IcecastError, SourceConnection, StreamHeaders, Target};
use crate::media::format::{self, MountFormat};
use crate::net::{self, NetError};
use crate::status::{State, Status};

/// Icecast keeps a source whose connection died without a goodbye (a stall, a dropped network)
/// on its mount until its `source-timeout`, 10 s by default, and answers "mount in use" until
/// then. During a reconnect that answer is our own ghost, so it is retried this long after the
/// connection was lost, once a second, before it counts as someone else's.
pub const GHOST_WAIT: Duration = Duration::from_secs(15);
const GHOST_RETRY: Duration = Duration::from_secs(1);
pub const WAITING_FOR_RELEASE: &str =
    "waiting for the server to release the mount (it has not yet noticed that the old connection is gone)";

#[derive(Default)]
pub(crate) struct Counters {
    pub bytes_in: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub gaps: AtomicU64,
    /// Output dropped because the connection could not keep up, in milliseconds of stream.
    pub skipped_ms: AtomicU64,
    /// Set when the first encoded bytes reach the server: from then on a listener gets media.
    pub live_since: std::sync::OnceLock<Instant>,
}

/// Icecast-KH (kh22, and the newest source read) sends each new listener of a WebM mount the
/// stream header, then 4096 bytes of uninitialised memory, then Clusters: format_ebml.c gives the
/// listener a fresh 4 KiB buffer, which its intro-file code then sends as if it held an intro.
/// Players fail on those bytes. A header that ends in a Void element declaring 4096 bytes makes
/// them its payload, which players skip. Only for KH: on any other server the Void would swallow
/// the first 4 KiB of the first Cluster.
const KH_VOID: [u8; 3] = [0xEC, 0x50, 0x00];

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

/// While a server does not even accept connections, it is asked this often whether it is back.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Logs in again until it works, or until the server says something retrying cannot fix. Each
/// attempt and the wait before it are shown. The wait doubles, but a server that was not
/// accepting connections is probed meanwhile (a bare TCP connect, four times a second), so its return is not slept through.
async fn reconnect(
    target: Target,
    headers: StreamHeaders,
    status: Arc<watch::Sender<Status>>,
    lost: IcecastError,
) -> Result<SourceConnection, IcecastError> {
    let lost_at = Instant::now();
    let mut reason = lost.to_string();
    let mut wait = backoff(1);
    for attempt in 1.. {
        status.send_modify(|s| {
            s.state = State::Reconnecting {
                attempt,
                next_in_secs: wait.as_millis().div_ceil(1000) as u64,
                reason: reason.clone(),
            }
        });
        let due = tokio::time::Instant::now() + wait;
        if net::accepts(&target.endpoint).await {
            tokio::time::sleep_until(due).await;
        } else {
            while tokio::time::Instant::now() < due && !net::accepts(&target.endpoint).await {
                tokio::time::sleep(PROBE_EVERY.min(due - tokio::time::Instant::now())).await;
            }
        }
        status.send_modify(|s| {
            if let State::Reconnecting { next_in_secs, .. } = &mut s.state {
                *next_in_secs = 0;
            }
        });
        match icecast::connect_source(&target, &headers).await {
            Ok(conn) => return Ok(conn),
            // Our own dead connection, still on the mount until the server times it out.
            Err(IcecastError::MountInUse { .. }) if lost_at.elapsed() < GHOST_WAIT => {
                reason = WAITING_FOR_RELEASE.into();
                wait = GHOST_RETRY;
            }
            // A name that does not resolve while the network is down is not a wrong name.
            Err(e) if e.is_permanent() && !matches!(e, IcecastError::Net(NetError::HostNotFound { .. })) => {
                return Err(e)
            }
            Err(e) => {
                reason = e.to_string();
                wait = backoff(attempt + 1);
            }
        }
    }
    unreachable!("attempts are counted without end")
}

enum Link {
    Up(SourceConnection),
    Down(JoinHandle<Result<SourceConnection, IcecastError>>),
    Resyncing(SourceConnection),
}

pub(crate) struct Uplink {
    link: Option<Link>,
    target: Target,
    headers: StreamHeaders,
    format: MountFormat,
    counters: Arc<Counters>,
    status: Arc<watch::Sender<Status>>,
    media: format::MediaStart,
    /// The stream header, cached until media starts; sent again after a reconnect.
    header: format::HeaderCache,
    /// Bytes read while resyncing that may hold the start of a resume point.
    carry: Vec<u8>,
    /// After the encoder was restarted, its new header is read here and dropped: listeners
    /// already have an identical one.
    new_header: Option<Vec<u8>>,
    video_track: Option<u64>,
    /// The network is not keeping up: output is being dropped until it is fresh again and at a
    /// point listeners can resume at. Holds the candidate bytes and when the first dropped ones
    /// were made.
    behind: Option<(Vec<u8>, Instant)>,
}

/// How far behind the encoder the connection may fall before output is dropped to catch up.
pub const MAX_BEHIND: Duration = Duration::from_secs(3);

impl Uplink {
    /// A sender for `conn`. From the stream's start, or, for a destination started again while
    /// the stream is under way, from its `header` and then the stream's next point a listener can
    /// start at.
    pub fn new(
        conn: SourceConnection,
        (target, headers): (Target, StreamHeaders),
        format: MountFormat,
        (counters, status): (Arc<Counters>, Arc<watch::Sender<Status>>),
        joining: Joining,
    ) -> Self {
        let (link, mut header, done) = match joining {
            Joining::FromStart => (Link::Up(conn), Vec::new(), false),
            Joining::Resume(header) => (Link::Resyncing(conn), header, true),
        };
        let webm = matches!(format, MountFormat::WebmVideo | MountFormat::WebmAudio);
        if let (true, Link::Resyncing(conn)) = (webm, &link) {
            if conn.is_icecast_kh() {
                header.extend_from_slice(&KH_VOID);
            }
        }
        Uplink {
            link: Some(link),
            target,
            headers,
            format,
            counters,
            status,
            media: format::MediaStart::new(format),
            video_track: format::webm_video_track(&header),
            header: format::HeaderCache { bytes: header, done },
            carry: Vec::new(),
            new_header: None,
            behind: None,
        }
    }

    /// A new encoder took over the stream. Its WebM or Ogg header repeats the old one and is
    /// dropped: its Clusters or pages carry on the same tracks, serial number and timeline (it
    /// keeps the input's timestamps), from its first point a listener can resume at. MP3 and AAC
    /// frames simply continue.
    pub fn encoder_restarted(&mut self) {
        if !matches!(self.format, MountFormat::Mp3 | MountFormat::Aac) {
            self.new_header = Some(Vec::new());
        }
    }

    fn resume_at(&self, bytes: &[u8]) -> Option<usize> {
        resume_at(self.format, self.video_track, bytes)
    }
}

/// Where listeners can pick the stream up in `bytes`: for video, only at a keyframe, so that the
/// first picture after a gap is whole.
fn resume_at(format: MountFormat, video_track: Option<u64>, bytes: &[u8]) -> Option<usize> {
    match (format, video_track) {
        (MountFormat::WebmVideo, Some(track)) => format::webm_keyframe_cluster(bytes, track),
        _ => format::resume_point(format, bytes),
    }
}

impl Uplink {
    /// Sends output the encoder made at `made`. When the connection has fallen more than
    /// `MAX_BEHIND` behind, whole Clusters, pages or frames are dropped (the current one is
    /// finished first) until output is fresh again, and the skipped time is counted and shown.
    pub async fn deliver(&mut self, data: &[u8], made: Instant) -> Result<(), IcecastError> {
        let up = matches!(self.link, Some(Link::Up(_))) && self.counters.live_since.get().is_some();
        let Some((held, since)) = self.behind.as_mut() else {
            if !up || made.elapsed() <= MAX_BEHIND || self.new_header.is_some() {
                return self.forward(data).await;
            }
            // Drop from here when this is a whole block or page; otherwise finish the Cluster,
            // page or frame under way and drop from the next one on.
            let cut = match self.format.written_by_engine() {
                true => Some(0),
                false => format::resume_point(self.format, data),
            };
            let Some(cut) = cut else {
                return self.forward(data).await;
            };
            log::warn!("the connection cannot keep up; dropping output to catch up");
            self.behind = Some((data[cut..].to_vec(), made));
            return self.forward(&data[..cut]).await;
        };
        held.extend_from_slice(data);
        // Caught up (with some room, so as not to fall behind again at once) and at a resume point.
        let at = (made.elapsed() <= MAX_BEHIND / 2)
            .then(|| resume_at(self.format, self.video_track, held))
            .flatten();
        let Some(at) = at else {
            let keep = format::keep_from(held);
            held.drain(..keep);
            return Ok(());
        };
        let skipped = made.saturating_duration_since(*since);
        let rest = held.split_off(at);
        self.behind = None;
        self.counters.gaps.fetch_add(1, Ordering::Relaxed);
        let total = self
            .counters
            .skipped_ms
            .fetch_add(skipped.as_millis() as u64, Ordering::Relaxed)
            + skipped.as_millis() as u64;
        log::warn!("caught up after dropping {skipped:?} of output");
        self.status.send_modify(|s| s.skipped_secs = total.div_ceil(1000));
        self.forward(&rest).await
    }

    /// Sends the encoder's next output, or keeps the link's state moving while the server is away.
    async fn forward(&mut self, data: &[u8]) -> Result<(), IcecastError> {
        let data = match self.new_header.as_mut() {
            Some(held) => {
                held.extend_from_slice(data);
                let Some(end) = format::header_end(self.format, held) else {
                    return Ok(());
                };
                let Some(at) = resume_at(self.format, self.video_track, &held[end..]) else {
                    return Ok(());
                };
                let rest = held.split_off(end + at);
                self.new_header = None;
                rest
            }
            None => data.to_vec(),
        };
        let mut data = data;
        let before = self.header.bytes.len();
        if self.header.feed(self.format, &data) {
            let end = self.header.bytes.len();
            self.video_track = format::webm_video_track(&self.header.bytes);
            if self.kh_webm() && end >= before {
                log::info!("the server is Icecast-KH: the WebM header ends in a Void for its stray bytes");
                data.splice(end - before..end - before, KH_VOID);
                self.header.bytes.extend_from_slice(&KH_VOID);
            }
        }
        let link = self.link.take().expect("the link is put back after every step");
        self.link = Some(self.step(link, &data).await?);
        Ok(())
    }

    fn kh_webm(&self) -> bool {
        matches!(self.format, MountFormat::WebmVideo | MountFormat::WebmAudio)
            && matches!(&self.link, Some(Link::Up(c)) if c.is_icecast_kh())
    }

    async fn step(&mut self, link: Link, data: &[u8]) -> Result<Link, IcecastError> {
        Ok(match link {
            Link::Up(mut conn) => match conn.send(data).await {
                Ok(()) => {
                    self.counters
                        .bytes_sent
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    if self.media.feed(data) && self.counters.live_since.set(Instant::now()).is_ok() {
                        self.status.send_modify(|s| {
                            if s.state == State::Connecting {
                                s.state = State::Live;
                            }
                        });
                    }
                    Link::Up(conn)
                }
                Err(e) if e.is_permanent() || self.counters.live_since.get().is_none() => return Err(e),
                Err(e) => self.down(e),
            },
            Link::Down(task) if task.is_finished() => {
                let conn = task.await.expect("the reconnect task does not panic")?;
                self.carry.clear();
                self.carry.extend_from_slice(data);
                self.resync(conn).await?
            }
            down @ Link::Down(_) => down,
            Link::Resyncing(conn) => {
                self.carry.extend_from_slice(data);
                self.resync(conn).await?
            }
        })
    }

    fn down(&self, e: IcecastError) -> Link {
        log::warn!("connection lost, reconnecting: {e}");
        self.counters.gaps.fetch_add(1, Ordering::Relaxed);
        Link::Down(tokio::spawn(reconnect(
            self.target.clone(),
            self.headers.clone(),
            self.status.clone(),
            e,
        )))
    }

    /// Back on the server: the header goes first, then the stream from its next resume point.
    async fn resync(&mut self, mut conn: SourceConnection) -> Result<Link, IcecastError> {
        let Some(at) = self.resume_at(&self.carry) else {
            self.carry.drain(..format::keep_from(&self.carry));
            return Ok(Link::Resyncing(conn));
        };
        let resumed = [&self.header.bytes[..], &self.carry[at..]].concat();
        self.carry.clear();
        match conn.send(&resumed).await {
            Ok(()) => {
                self.counters
                    .bytes_sent
                    .fetch_add(resumed.len() as u64, Ordering::Relaxed);
                log::info!("on air again at {}", self.target.listen_url());
                let _ = self.counters.live_since.set(Instant::now());
                self.status.send_modify(|s| s.state = State::Live);
                Ok(Link::Up(conn))
            }
            // Refused after the login seemed to pass (Icecast-KH's 401 follows its 100).
            Err(e) if e.is_permanent() => Err(e),
            Err(e) => Ok(self.down(e)),
        }
    }

    /// The encoder's output has ended: the stream is finished and the connection closed.
    pub async fn end(mut self) -> Result<(), IcecastError> {
        let link = self.link.take();
        if let Some(Link::Down(task)) = &link {
            task.abort();
        }
        match link {
            Some(Link::Up(mut conn)) => {
                conn.send(&self.format.end_padding()).await?;
                conn.close().await
            }
            // Stopped while the server was away: what was captured is in the local recording.
            _ => Err(IcecastError::Refusal {
                reason: "the connection to the server was lost and could not be made again before the end"
                    .into(),
            }),
        }
    }
}

impl Drop for Uplink {
    /// A broadcast that ends while the server is away stops trying to reach it.
    fn drop(&mut self) {
        if let Some(Link::Down(task)) = &self.link {
            task.abort();
        }
    }
}

/// Delivers everything put in the outbox until it is closed and empty, then ends the stream.
pub(crate) async fn send_all(mut uplink: Uplink, outbox: Arc<Outbox>) -> Result<(), IcecastError> {
    let delivered = async {
        while let Some(item) = outbox.next().await {
            match item {
                Item::Output(data, made) => uplink.deliver(&data, made).await?,
                Item::EncoderRestarted => uplink.encoder_restarted(),
            }
        }
        Ok::<_, IcecastError>(())
    }
    .await;
    if delivered.is_err() {
        outbox.gave_up.send_replace(true);
    }
    delivered?;
    uplink.end().await
}
