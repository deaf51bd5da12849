//! The computer's own sound inputs, for a sound-only broadcast: the list the stage's chooser
//! shows, the meter before Go live, and the capture that feeds the broadcast. The engine captures
//! and meters; these only hand its words and levels to the page.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use icecream_engine::capture::{self, Capture, CaptureStatus, CaptureStop, InputDevice, PictureInput};
use icecream_engine::session::ChunkSender;
use serde::Serialize;
use tauri::ipc::Channel;
use tokio::sync::{watch, Mutex};

/// An open input and what runs it: the feed (to a broadcast, or to the meter alone) and the
/// levels on their way to the page.
pub struct Running {
    stop: CaptureStop,
    feed: tauri::async_runtime::JoinHandle<Result<(), icecream_engine::SessionError>>,
    pub status: watch::Receiver<CaptureStatus>,
}

impl Running {
    /// Starts `capture` feeding `to` (None: the meter only; with `picture`, beside the page's
    /// pictures), its status sent to the page.
    pub fn start(
        capture: Capture,
        to: Option<ChunkSender>,
        page: Channel<CaptureStatus>,
        picture: Option<PictureInput>,
    ) -> Running {
        let status = capture.status();
        let stop = capture.stopper();
        let mut forward = status.clone();
        tauri::async_runtime::spawn(async move {
            loop {
                let now = forward.borrow_and_update().clone();
                if page.send(now).is_err() || forward.changed().await.is_err() {
                    break;
                }
            }
        });
        Running {
            stop,
            feed: match (to, picture) {
                (Some(to), Some(picture)) => {
                    tauri::async_runtime::spawn(capture.run_with_picture(to, picture))
                }
                (to, _) => tauri::async_runtime::spawn(capture.run(to)),
            },
            status,
        }
    }

    /// Closes the input once what it captured so far has gone to the broadcast.
    pub async fn finish(self) -> Result<(), icecream_engine::SessionError> {
        self.stop.stop();
        self.feed
            .await
            .unwrap_or(Err(icecream_engine::SessionError::Ended))
    }
}

/// The meter before Go live: at most one input open for it.
#[derive(Default)]
pub struct Preview(Mutex<Option<Running>>);

impl Preview {
    pub async fn close(&self) {
        if let Some(running) = self.0.lock().await.take() {
            let _ = running.finish().await;
        }
    }

    pub async fn open(
        &self,
        wanted: Option<&str>,
        page: Channel<CaptureStatus>,
    ) -> Result<InputDevice, String> {
        let mut slot = self.0.lock().await;
        if let Some(running) = slot.take() {
            let _ = running.finish().await;
        }
        let capture = open(wanted)?;
        let device = capture.device.clone();
        *slot = Some(Running::start(capture, None, page, None));
        Ok(device)
    }
}

/// The moment the page's clock gave as `epoch_ms` (milliseconds since 1970), on this process's
/// monotonic clock: both read the same system clock, so the page's times map to within a
/// millisecond, and later steps of the wall clock no longer matter.
pub fn page_instant(epoch_ms: f64) -> Instant {
    let now = Instant::now();
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0;
    let ago = Duration::from_secs_f64((since_epoch - epoch_ms).abs() / 1000.0);
    match since_epoch >= epoch_ms {
        true => now.checked_sub(ago).unwrap_or(now),
        false => now + ago,
    }
}

/// Opens the input `wanted` names, on its own thread (opening asks the sound server and waits).
pub fn open(wanted: Option<&str>) -> Result<Capture, String> {
    Capture::open(wanted).map_err(|e| e.to_string())
}

/// What the stage's chooser shows: the inputs, or why sound goes through the web engine instead.
#[derive(Serialize)]
pub struct SoundInputs {
    /// The sound system captured through ("PulseAudio", "WASAPI", "CoreAudio").
    system: Option<&'static str>,
    /// Why the engine cannot capture here, in a sentence; the page then records through the web
    /// engine and says so.
    unavailable: Option<String>,
    inputs: Vec<InputDevice>,
    /// The input kept in settings (None: the system's default).
    chosen: Option<String>,
}

impl SoundInputs {
    pub fn read(chosen: Option<String>) -> SoundInputs {
        match capture::system_inputs() {
            Ok((_, inputs)) if inputs.is_empty() => SoundInputs::unavailable(
                icecream_engine::capture::CaptureError::NoInputs.to_string(),
                chosen,
            ),
            Ok((system, inputs)) => SoundInputs {
                system: Some(system),
                unavailable: None,
                inputs,
                chosen,
            },
            Err(e) => SoundInputs::unavailable(e.to_string(), chosen),
        }
    }

    fn unavailable(why: String, chosen: Option<String>) -> SoundInputs {
        SoundInputs {
            system: None,
            unavailable: Some(why),
            inputs: Vec::new(),
            chosen,
        }
    }
}
