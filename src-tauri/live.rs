//! The one broadcast the window runs: started with the saved settings, fed by the recorder's
//! chunks, reporting its status to the page over a channel.

use std::path::Path;

use icecream_engine::{Ffmpeg, Recording, Session, SessionOptions, Settings, Share, Status};
use tauri::ipc::Channel;
use tokio::sync::{mpsc, Mutex};

struct Running {
    session: Session,
    chunks: mpsc::Sender<Vec<u8>>,
    settings: Settings,
    /// Every chunk, on disk before it goes on air.
    recording: Recording,
    recording_failed: Option<String>,
}

#[derive(Default)]
pub struct Live {
    running: Mutex<Option<Running>>,
}

impl Live {
    pub async fn start(
        &self,
        settings: Settings,
        status: Channel<Status>,
        recordings: &Path,
    ) -> Result<Share, String> {
        let mut running = self.running.lock().await;
        if running.as_ref().is_some_and(|r| !r.session.is_finished()) {
            return Err("You are already live. Stop the broadcast before starting another.".into());
        }
        let ffmpeg = Ffmpeg::locate().map_err(|e| e.to_string())?;
        let session =
            Session::start(settings.clone(), SessionOptions::new(ffmpeg)).map_err(|e| e.to_string())?;
        let mut rx = session.status();
        tauri::async_runtime::spawn(async move {
            loop {
                let now = rx.borrow_and_update().clone();
                let done = now.state.is_final();
                if status.send(now).is_err() || done || rx.changed().await.is_err() {
                    break;
                }
            }
        });
        *running = Some(Running {
            chunks: session.sender(),
            session,
            settings: settings.clone(),
            recording: Recording::new(recordings),
            recording_failed: None,
        });
        Ok(Share::for_settings(&settings))
    }

    /// Hands one recorder chunk to the broadcast; waits while the encoder catches up.
    pub async fn push(&self, chunk: Vec<u8>) -> Result<(), String> {
        let chunks = match self.running.lock().await.as_mut() {
            Some(r) => {
                if r.recording_failed.is_none() {
                    if let Err(e) = r.recording.write(&chunk) {
                        log::warn!("{e}");
                        r.recording_failed = Some(e.to_string());
                    }
                }
                r.chunks.clone()
            }
            None => return Err("Not live: press Go live first.".into()),
        };
        chunks
            .send(chunk)
            .await
            .map_err(|_| "The broadcast has ended; its reason is shown in the status line.".to_string())
    }

    /// Ends the broadcast after everything recorded so far has been sent.
    pub async fn stop(&self) -> Result<String, String> {
        let Some(r) = self.running.lock().await.take() else {
            return Ok("Not live.".into());
        };
        // The page has handed over its last chunk: the recording is complete.
        let saved = match (r.recording_failed, r.recording.finish()) {
            (Some(e), _) | (None, Err(icecream_engine::RecordingError::Write { reason: e, .. })) => {
                format!(" {e}")
            }
            (None, Ok(Some(path))) => format!(" The recording is in {}.", path.display()),
            (None, Ok(None)) => String::new(),
        };
        drop(r.chunks);
        let summary = r.session.stop().await.map_err(|e| format!("{e}{saved}"))?;
        Ok(format!(
            "Stopped after {}. Everything recorded was sent ({}).{saved}",
            icecream_engine::status::clock(summary.live_for),
            icecream_engine::status::human_bytes(summary.bytes_sent)
        ))
    }

    /// The settings of the broadcast on air, if one is.
    pub async fn on_air(&self) -> Option<Settings> {
        let running = self.running.lock().await;
        running
            .as_ref()
            .filter(|r| !r.session.is_finished())
            .map(|r| r.settings.clone())
    }
}
