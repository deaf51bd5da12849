//! One broadcast (`Session`): its start, its streams, its destinations and its end. The way a chunk
//! goes is drawn in `session/mod.rs`.
//!
//! WebM whose codecs the mount can carry is rewritten block by block by the engine (no ffmpeg);
//! everything else is transcoded by ffmpeg, whose WebM output is rewritten the same way.
//! Stop closes the queue; what was captured is written or encoded and sent before the connection
//! closes, so a broadcast ends with its last captured moment.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::future::join_all;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::error::SessionError;
use super::intake::{
    read_tracks, sniff_input, tee, ChunkSender, Input, Intake, QUEUE_CHUNKS, REALTIME_QUEUE_CHUNKS,
};
use super::options::{SessionOptions, Summary};
use super::routes::Route;
use crate::icecast::Target;
use crate::media::format::{Container, MountFormat};
use crate::media::webm_reader::Tracks;
use crate::media::{remux, Remux};
use crate::session::recording::Recording;
use crate::session::uplink::link::Counters;
use crate::session::uplink::outbox::Lanes;
use crate::settings::{Encode, Settings};
use crate::status::{State, Status};
use crate::transcode::ffmpeg::FfmpegError;
use crate::transcode::opus::PcmToOpus;

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
            size_told: Default::default(),
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

async fn run(
    routes: Vec<Arc<Route>>,
    opts: SessionOptions,
    mut rx: Input,
    (status, over): (Arc<watch::Sender<Status>>, Arc<watch::Sender<bool>>),
    pid_tx: watch::Sender<Vec<u32>>,
) -> Result<Summary, SessionError> {
    let _composer = super::routes::compose(status.clone(), &routes, over.clone());
    // Log in while the first chunk is on its way: a wrong password shows at once, and the mounts
    // are listed before media flows.
    let (conns, input) = tokio::try_join!(
        super::routes::log_in(&routes),
        sniff_input(&mut rx, opts.first_bytes_within)
    )?;
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
        let way = Way::of(container, tracks.as_ref(), stream.encode.format);
        stream.make(way, container, head.clone(), input, &opts, &pid_tx)
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
    summary.live_for = super::routes::live_since(&routes)
        .map(|t| t.elapsed())
        .unwrap_or_default();
    Ok(summary)
}

/// Who makes a stream of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// The engine rewrites the input's WebM.
    Engine,
    /// The engine encodes the captured sound as Opus, then writes it.
    EngineOpus,
    Ffmpeg,
}

impl Way {
    fn of(container: Container, tracks: Option<&Tracks>, format: MountFormat) -> Way {
        let Some(tracks) = tracks.filter(|_| container == Container::Webm) else {
            return Way::Ffmpeg;
        };
        let captured = tracks.audio().is_some_and(|a| a.codec.starts_with("A_PCM/"));
        let opus_mount = match format {
            MountFormat::WebmAudio | MountFormat::OggOpus => true,
            // The page's picture beside the captured sound.
            MountFormat::WebmVideo => tracks.video().is_some(),
            _ => false,
        };
        if remux::carried(format, tracks).is_some() {
            Way::Engine
        } else if captured && opus_mount {
            Way::EngineOpus
        } else {
            Way::Ffmpeg
        }
    }
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
    /// Makes the stream from the input, written (and encoded) by the engine or encoded by ffmpeg,
    /// until the input ends or every destination of it has given up. What was made is delivered
    /// and each stream ended cleanly even when the encoder failed, so that the servers have let
    /// go of the mounts when the session reports its end.
    async fn make(
        &self,
        way: Way,
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
                match way {
                    Way::Engine => "written by the engine",
                    Way::EngineOpus => "encoded as Opus and written by the engine",
                    Way::Ffmpeg => "encoded by ffmpeg",
                }
            );
        }
        let made = if way != Way::Ffmpeg {
            let opus = (way == Way::EngineOpus).then(|| PcmToOpus::new(self.encode.audio_bitrate_kbps));
            super::passthrough::run(
                Remux::new(format),
                opus,
                head,
                &mut input,
                lanes,
                &self.counters,
                opts.realtime_input,
            )
            .await
        } else {
            let encoder = super::encoder::Encoder {
                opts,
                format,
                container,
                encode: &self.encode,
                feeder: &Arc::new(tokio::sync::Mutex::new(super::encoder::Feeder::new(
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
