//! Captured sound into a broadcast: 20 ms blocks of PCM in Matroska pushed to the session, the
//! sample count as the stream's clock; silence in the input's place while it is away, so the
//! broadcast goes on and listeners stay connected; what was lost on the way in counted and told.

use std::time::{Duration, Instant};

use std::sync::Arc;

use tokio::sync::{mpsc, watch, Notify};

use super::device::{DeviceThread, Event};
use super::devices::InputDevice;
use super::dropouts::Dropouts;
use super::level::{Level, Meter};
use super::picture::PictureMerge;
use super::CaptureError;
use crate::media::audio_mka::{AudioTrack, MkaWriter, RATE};
use crate::session::{ChunkSender, SessionError};

/// 20 ms: Opus's frame, and a block ffmpeg takes without waiting for more.
const BLOCK_FRAMES: usize = 960;
/// The meter is told this often (in blocks): 10 times a second.
const METER_BLOCKS: u32 = 5;

/// What the input is doing, for the status line and the app.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CaptureStatus {
    /// The input's name, as the system gives it.
    pub device: String,
    /// Why it is away, while it is (silence is sent meanwhile).
    pub away: Option<String>,
    /// Sound the system lost on its way in: how often, and how much in all.
    pub dropouts: u32,
    pub lost: Duration,
    /// How long silence stood in for the input, in all.
    pub away_for: Duration,
    /// Each channel's level over the last tenth of a second, in dBFS.
    pub levels: Vec<Level>,
    /// How far the sound card's clock has moved against the computer's (ms, followed: pictures
    /// are placed on the sound's clock).
    pub drift_ms: f64,
}

impl CaptureStatus {
    /// What a listener missed of the sound, in a sentence; None when nothing was.
    pub fn losses(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.dropouts > 0 {
            let times = match self.dropouts {
                1 => "once".to_string(),
                n => format!("{n} times"),
            };
            parts.push(format!(
                "The sound input dropped out {times} ({} ms lost in all).",
                self.lost.as_millis()
            ));
        }
        if !self.away_for.is_zero() {
            parts.push(format!(
                "The sound input was away for {:.1} s; listeners heard silence then.",
                self.away_for.as_secs_f64()
            ));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The broadcast's own `delivery` sentence, after what was lost on the way in: never
    /// "everything was sent" when the input lost some.
    pub fn with_losses(&self, delivery: &str) -> String {
        match self.losses() {
            Some(lost) => format!(
                "{lost} {}",
                delivery.replace("Everything recorded", "Everything else captured")
            ),
            None => delivery.to_string(),
        }
    }
}

/// An open input, ready to feed a broadcast.
pub struct Capture {
    /// Held, not read: dropping it stops the input.
    _thread: DeviceThread,
    events: mpsc::Receiver<Event>,
    pub device: InputDevice,
    status: watch::Sender<CaptureStatus>,
    stop: Arc<Notify>,
}

/// Ends a running capture from elsewhere (the app's Stop): what was captured until then goes out
/// whole, the input closes.
#[derive(Clone, Debug)]
pub struct CaptureStop(Arc<Notify>);

impl CaptureStop {
    pub fn stop(&self) {
        // A stored permit: a stop asked before the feed waits is not missed.
        self.0.notify_one();
    }
}

impl Capture {
    /// Opens the input `wanted` names (its id or its name; None or "default": the system's
    /// default) and starts capturing at once, so the first sound is not lost.
    pub fn open(wanted: Option<&str>) -> Result<Capture, CaptureError> {
        let (thread, device, events) = DeviceThread::start(wanted.map(str::to_string))?;
        let (status, _) = watch::channel(CaptureStatus {
            device: device.name.clone(),
            ..CaptureStatus::default()
        });
        Ok(Capture {
            _thread: thread,
            events,
            device,
            status,
            stop: Arc::default(),
        })
    }

    pub fn stopper(&self) -> CaptureStop {
        CaptureStop(self.stop.clone())
    }

    pub fn status(&self) -> watch::Receiver<CaptureStatus> {
        self.status.subscribe()
    }

    /// Feeds a broadcast through `to` until it stops taking sound (Stop, or the broadcast failed)
    /// or the stopper is used; with no broadcast (before Go live) it only meters.
    pub async fn run(self, to: Option<ChunkSender>) -> Result<(), SessionError> {
        self.feed(to, None).await
    }

    /// Feeds a broadcast of the page's picture with this sound: one stream on the sound's clock
    /// (`picture.rs`). Ends like `run`; what the picture lane brought by then goes out whole.
    pub async fn run_with_picture(self, to: ChunkSender, picture: PictureInput) -> Result<(), SessionError> {
        self.feed(Some(to), Some(picture)).await
    }

    async fn feed(
        mut self,
        to: Option<ChunkSender>,
        picture: Option<PictureInput>,
    ) -> Result<(), SessionError> {
        let channels = usize::from(self.device.channels);
        let block = BLOCK_FRAMES * channels;
        let origin = Instant::now();
        let (mut out_to, mut pictures) = match picture {
            Some(p) => {
                let page_origin = signed_secs(p.origin, origin);
                (
                    Out::Merged(Box::new(PictureMerge::new(page_origin, self.device.channels))),
                    Some(p.chunks),
                )
            }
            None => {
                let (writer, header) = MkaWriter::new(&AudioTrack::pcm(self.device.channels));
                if let Some(to) = &to {
                    to.send(header).await?;
                }
                (Out::Sound(writer), None)
            }
        };
        let stop = self.stop.clone();
        let mut dropouts = Dropouts::new(RATE);
        let mut meter = Meter::new(channels);
        let mut pending: Vec<f32> = Vec::with_capacity(block * 2);
        // Frames gone out in blocks: the stream's sample clock.
        let mut written = 0u64;
        // Since when silence stands in, how many frames of it went, and the opening lost.
        let mut away: Option<(Instant, u64, u32)> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut blocks = 0u32;
        loop {
            let mut out: Vec<Vec<f32>> = Vec::new();
            tokio::select! {
                _ = stop.notified() => break,
                chunk = recv(&mut pictures) => match chunk {
                    // The page closed its lane: the sound goes on alone until Stop.
                    None => pictures = None,
                    Some(chunk) => {
                        if let (Out::Merged(merge), Some(to)) = (&mut out_to, &to) {
                            let bytes = merge.picture(&chunk, &dropouts)?;
                            if !bytes.is_empty() {
                                to.send(bytes).await?;
                            }
                        }
                        continue;
                    }
                },
                event = self.events.recv() => match event {
                    None => break,
                    Some(Event::Samples { data, at, opening }) => {
                        match away {
                            Some((_, _, lost)) if opening <= lost => continue,
                            Some((since, _, _)) => {
                                away = None;
                                self.back(since, &mut dropouts, written);
                                // Silence went in whole blocks until now: the sound resumes here.
                                out_to.mark(to.as_ref(), written, "The sound input is back");
                            }
                            None => {}
                        }
                        let at = at.saturating_duration_since(origin).as_secs_f64();
                        if let Some(gap) = dropouts.arrived(data.len() / channels, at) {
                            log::warn!("The sound input dropped {} ms of sound.", gap.as_millis());
                            self.status.send_modify(|s| {
                                s.dropouts = dropouts.count;
                                s.lost = dropouts.lost;
                            });
                        }
                        pending.extend_from_slice(&data);
                        while pending.len() >= block {
                            out.push(pending.drain(..block).collect());
                        }
                    }
                    Some(Event::Overrun) => log::warn!("The sound system reported lost sound (an overrun)."),
                    Some(Event::Lost { reason, opening }) => {
                        // What came before the loss goes out whole, padded to a block.
                        if !pending.is_empty() {
                            pending.resize(block, 0.0);
                            out.push(std::mem::take(&mut pending));
                        }
                        away = Some((Instant::now(), 0, opening));
                        // The silence starts after the blocks still to be written.
                        let queued = out.iter().map(Vec::len).sum::<usize>() / channels;
                        let at = written + queued as u64;
                        out_to.mark(to.as_ref(), at, &format!("The sound input went away ({reason})"));
                        self.status.send_modify(|s| s.away = Some(reason));
                    }
                },
                _ = tick.tick(), if away.is_some() => {
                    let (since, sent, _) = away.as_mut().expect("only while away");
                    let due = (since.elapsed().as_secs_f64() * f64::from(RATE)) as u64;
                    while *sent + BLOCK_FRAMES as u64 <= due {
                        out.push(vec![0.0; block]);
                        *sent += BLOCK_FRAMES as u64;
                    }
                }
            }
            for samples in out {
                meter.add(&samples);
                blocks += 1;
                if blocks.is_multiple_of(METER_BLOCKS) {
                    let levels = meter.take();
                    let drift_ms = dropouts.drift() * 1000.0;
                    self.status.send_modify(|s| {
                        s.levels = levels;
                        s.drift_ms = drift_ms;
                    });
                }
                let first = written;
                written += (samples.len() / channels) as u64;
                if let Some(to) = &to {
                    let bytes = out_to.sound(first, samples);
                    if !bytes.is_empty() {
                        to.send(bytes).await?;
                    }
                }
            }
        }
        if let (Out::Merged(merge), Some(to)) = (&mut out_to, &to) {
            // Pictures the page handed over before Stop are in the broadcast that ends.
            let mut last = Vec::new();
            while let Some(chunk) = pictures.as_mut().and_then(|rx| rx.try_recv().ok()) {
                last.extend(merge.picture(&chunk, &dropouts)?);
            }
            last.extend(merge.finish());
            to.send(last).await?;
        }
        Ok(())
    }

    fn back(&self, since: Instant, dropouts: &mut Dropouts, frames: u64) {
        dropouts.restart(frames);
        log::info!(
            "Sound is back after {:.1} s of silence.",
            since.elapsed().as_secs_f64()
        );
        self.status.send_modify(|s| {
            s.away = None;
            s.away_for += since.elapsed();
        });
    }
}

/// The page's picture for a broadcast with this sound: its chunks (WebM, video only), and the
/// moment its time 0 stands for on this computer's clock.
#[derive(Debug)]
pub struct PictureInput {
    pub chunks: mpsc::Receiver<Vec<u8>>,
    pub origin: Instant,
}

/// Where the sound goes: alone, or beside the page's picture.
enum Out {
    Sound(MkaWriter),
    Merged(Box<PictureMerge>),
}

impl Out {
    /// The stream's bytes that `samples`, from captured frame `first` on, complete.
    fn sound(&mut self, first: u64, samples: Vec<f32>) -> Vec<u8> {
        match self {
            Out::Sound(writer) => writer.write_pcm(&samples),
            Out::Merged(merge) => merge.sound(first, samples),
        }
    }

    /// Marks the recording at captured frame `frame` (not before the stream has started).
    fn mark(&self, to: Option<&ChunkSender>, frame: u64, title: &str) {
        let at = match self {
            Out::Sound(_) => Some(frame),
            Out::Merged(merge) => merge.stream_frames(frame),
        };
        if let (Some(to), Some(at)) = (to, at) {
            to.mark(Duration::from_secs_f64(at as f64 / f64::from(RATE)), title);
        }
    }
}

/// The next picture chunk, or never when there is no picture.
async fn recv(pictures: &mut Option<mpsc::Receiver<Vec<u8>>>) -> Option<Vec<u8>> {
    match pictures {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// `at` in seconds from `origin`, before it negative.
fn signed_secs(at: Instant, origin: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(after) => after.as_secs_f64(),
        None => -origin.duration_since(at).as_secs_f64(),
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_are_told_in_a_sentence_and_nothing_lost_in_none() {
        let mut s = CaptureStatus::default();
        assert_eq!(s.losses(), None);
        s.dropouts = 2;
        s.lost = Duration::from_millis(40);
        s.away_for = Duration::from_millis(3200);
        assert_eq!(
            s.losses().unwrap(),
            "The sound input dropped out 2 times (40 ms lost in all). The sound input was away for 3.2 s; listeners heard silence then."
        );
    }
}
