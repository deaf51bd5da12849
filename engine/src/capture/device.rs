//! The input's own thread: it holds the open stream (cpal's streams must stay on the thread that
//! made them on some systems), hands every block of samples on the moment the system gives it,
//! and opens the input again, by the same id, when it was lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use tokio::sync::mpsc;

use super::devices::{InputDevice, System};
use super::CaptureError;
use crate::media::audio_mka::RATE;

/// What the input's thread tells the broadcast.
#[derive(Debug)]
pub(super) enum Event {
    /// Interleaved samples, when the system handed them over, and from which opening of the
    /// input (a stream closed as lost may still hand over its last block after it was told).
    Samples {
        data: Vec<f32>,
        at: Instant,
        opening: u32,
    },
    /// The system reported lost samples (an overrun) without saying how many.
    Overrun,
    /// The input went away (unplugged, its module unloaded, the sound server restarted); it is
    /// back when samples of a later opening come.
    Lost { reason: String, opening: u32 },
}

/// About five seconds of the system's blocks: the broadcast reads them at once, so a full queue
/// means it stalled, and what does not fit is counted as lost by the sample clock.
const QUEUE: usize = 512;
/// How often a lost input is looked for again.
const RETRY: Duration = Duration::from_millis(500);
/// The system's blocks: 10 ms, so that the first sound reaches the encoder at once.
const BLOCK_FRAMES: u32 = 480;
/// An input that gives nothing for this long is lost, whatever the system says: PulseAudio ends a
/// recording whose source was unloaded without any error reaching the client.
const SILENT_FOR: Duration = Duration::from_secs(1);

pub(super) struct DeviceThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl DeviceThread {
    /// Opens the input `wanted` names (None: the system's default) on its own thread.
    pub fn start(
        wanted: Option<String>,
    ) -> Result<(DeviceThread, InputDevice, mpsc::Receiver<Event>), CaptureError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = std::thread::Builder::new()
            .name("sound input".into())
            .spawn({
                let stop = stop.clone();
                move || run(wanted, tx, &stop, ready_tx)
            })
            .map_err(|e| CaptureError::System {
                reason: crate::plain_io_reason(&e),
            })?;
        let thread = DeviceThread {
            stop,
            handle: Some(handle),
        };
        let info = ready_rx.recv().map_err(|_| CaptureError::System {
            reason: "its thread ended before the input opened".into(),
        })??;
        Ok((thread, info, rx))
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn run(
    wanted: Option<String>,
    tx: mpsc::Sender<Event>,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<Result<InputDevice, CaptureError>>,
) {
    let mut system = System::open();
    let mut ready = Some(ready);
    // The stream's channels stay those of the first opening: the header said so.
    let mut channels = None;
    let mut opening = 0;
    while !stop.load(Ordering::Relaxed) {
        match open(&mut system, wanted.as_deref(), channels, &tx, opening + 1) {
            Ok((stream, info, lost, heard)) => {
                opening += 1;
                channels = Some(info.channels);
                // The default input is followed wherever the system moves it; a chosen one is
                // that one or none.
                let chosen = wanted.is_some().then(|| info.id.clone());
                match ready.take() {
                    Some(r) => {
                        let _ = r.send(Ok(info));
                    }
                    None => log::info!("The sound input {} is back.", info.name),
                }
                let mut waits = 0u32;
                let reason = loop {
                    waits += 1;
                    if let Some(id) = chosen.as_deref().filter(|_| waits.is_multiple_of(2)) {
                        if !system.present(id) {
                            break "it was unplugged or switched off".to_string();
                        }
                    }
                    match lost.recv_timeout(Duration::from_millis(100)) {
                        Ok(reason) => break reason,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) if stop.load(Ordering::Relaxed) => {
                            return
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                            if heard.silent_for() > SILENT_FOR =>
                        {
                            break "it stopped giving sound".to_string()
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                            break "it stopped answering".to_string()
                        }
                    }
                };
                drop(stream);
                log::warn!("The sound input was lost: {reason}");
                if tx.blocking_send(Event::Lost { reason, opening }).is_err() {
                    return;
                }
            }
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(e));
                    return;
                }
                std::thread::sleep(RETRY);
            }
        }
    }
}

type Opened = (Held, InputDevice, std::sync::mpsc::Receiver<String>, Heard);

/// What keeps an input recording: dropping it stops it.
enum Held {
    Cpal(#[allow(dead_code)] cpal::Stream),
    /// With the loss channel's sender, which nothing here calls: a recording that ends is seen
    /// by the watch on samples, a source that went away by the watch on its being there.
    #[cfg(target_os = "linux")]
    Pulse(
        #[allow(dead_code)] super::pulse::Recording,
        #[allow(dead_code)] std::sync::mpsc::Sender<String>,
    ),
}

/// When the input last gave samples, in milliseconds from when it was opened (0: not yet).
#[derive(Clone)]
struct Heard {
    opened: Instant,
    last_ms: Arc<std::sync::atomic::AtomicU64>,
}

/// How long a just-opened input may take to give its first samples (a sound server wakes a
/// suspended source, a USB device starts): longer than the pause that means lost once it runs.
const FIRST_SAMPLES_WITHIN: Duration = Duration::from_secs(5);

impl Heard {
    fn new() -> Heard {
        Heard {
            opened: Instant::now(),
            last_ms: Arc::default(),
        }
    }

    fn now(&self) {
        let ms = self.opened.elapsed().as_millis() as u64;
        self.last_ms.store(ms.max(1), Ordering::Relaxed);
    }

    fn silent_for(&self) -> Duration {
        let since_open = self.opened.elapsed();
        match self.last_ms.load(Ordering::Relaxed) {
            0 => since_open.saturating_sub(FIRST_SAMPLES_WITHIN - SILENT_FOR),
            ms => since_open.saturating_sub(Duration::from_millis(ms)),
        }
    }
}

fn open(
    system: &mut System,
    wanted: Option<&str>,
    channels: Option<u16>,
    tx: &mpsc::Sender<Event>,
    opening: u32,
) -> Result<Opened, CaptureError> {
    let (device, info) = system.find(wanted)?;
    let channels = channels.unwrap_or(info.channels);
    let cannot = |e: cpal::Error| CaptureError::CannotOpen {
        name: info.name.clone(),
        reason: e.to_string(),
    };
    let (lost_tx, lost_rx) = std::sync::mpsc::channel();
    let heard = Heard::new();
    let on_samples = {
        let (tx, heard) = (tx.clone(), heard.clone());
        move |data: &[f32]| {
            heard.now();
            // Never wait on the system's audio thread: what does not fit is lost, and the sample
            // clock counts it.
            let _ = tx.try_send(Event::Samples {
                data: data.to_vec(),
                at: Instant::now(),
                opening,
            });
        }
    };
    // The sound server's inputs come without a cpal device: libpulse records them.
    let Some(device) = device else {
        #[cfg(target_os = "linux")]
        {
            let recording = super::pulse::record(&info.id, channels, on_samples).map_err(|reason| {
                CaptureError::CannotOpen {
                    name: info.name.clone(),
                    reason,
                }
            })?;
            let info = InputDevice { channels, ..info };
            return Ok((Held::Pulse(recording, lost_tx), info, lost_rx, heard));
        }
        #[cfg(not(target_os = "linux"))]
        unreachable!("only a Linux sound server's inputs have no cpal device");
    };
    let mut last_err = None;
    // A fixed 10 ms block first; a system that will not take one gets its own size.
    for buffer_size in [cpal::BufferSize::Fixed(BLOCK_FRAMES), cpal::BufferSize::Default] {
        let config = cpal::StreamConfig {
            channels,
            sample_rate: RATE,
            buffer_size,
        };
        let on_samples = on_samples.clone();
        let error_tx = tx.clone();
        let lost_tx = lost_tx.clone();
        let built = device.build_input_stream(
            config,
            move |data: &[f32], _: &cpal::InputCallbackInfo| on_samples(data),
            move |e: cpal::Error| match e.kind() {
                cpal::ErrorKind::Xrun => {
                    let _ = error_tx.try_send(Event::Overrun);
                }
                cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied => {
                    log::info!("Sound input: {e}");
                }
                _ => {
                    let _ = lost_tx.send(e.to_string());
                }
            },
            Some(Duration::from_secs(5)),
        );
        match built {
            Ok(stream) => {
                stream.play().map_err(cannot)?;
                let info = InputDevice { channels, ..info };
                return Ok((Held::Cpal(stream), info, lost_rx, heard));
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(cannot(last_err.expect("tried at least once")))
}
