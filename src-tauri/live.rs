//! The one broadcast the window runs: started with the saved settings, fed by the recorder's
//! chunks, reporting its status to the page over a channel.

use std::path::PathBuf;

use icecream_engine::capture::{Capture, CaptureStatus, PictureInput};
use icecream_engine::session::ChunkSender;
use icecream_engine::{Ffmpeg, Session, SessionOptions, Settings, Share, State, Status};
use tauri::ipc::Channel;
use tokio::sync::{mpsc, watch, Mutex};

/// Chunks are a few hundred KiB at most (1 s of 1080p); anything far larger is not a recorder's.
const MAX_CHUNK: usize = 16 * 1024 * 1024;

struct Running {
    session: Session,
    chunks: ChunkSender,
    status: watch::Receiver<Status>,
    settings: Settings,
    /// The engine's own capture; None while the page's recorder feeds the chunks.
    sound: Option<crate::sound::Running>,
    /// Where the page's pictures go when the engine captures the sound: to be put beside it.
    pictures: Option<mpsc::Sender<Vec<u8>>>,
}

/// Picture chunks waiting for the capture's feed (each 0.1 s of the page's encoder).
const PICTURE_QUEUE: usize = 32;

/// The engine's capture for a broadcast, and where its levels go.
pub struct NativeSound {
    pub capture: Capture,
    pub levels: Channel<CaptureStatus>,
    /// The page sends its camera's pictures, stamped from this moment.
    pub picture_origin: Option<std::time::Instant>,
}

#[derive(Default)]
pub struct Live {
    running: Mutex<Option<Running>>,
    /// The last broadcast's recording, for "Show recording" after Stop.
    recorded: Mutex<Option<PathBuf>>,
}

impl Live {
    pub async fn start(
        &self,
        app: tauri::AppHandle,
        settings: Settings,
        status: Channel<Status>,
        record_to: Option<PathBuf>,
        sound: Option<NativeSound>,
    ) -> Result<Share, String> {
        let mut running = self.running.lock().await;
        if running.as_ref().is_some_and(|r| !r.session.is_finished()) {
            return Err("You are already live. Stop the broadcast before starting another.".into());
        }
        let ffmpeg = Ffmpeg::locate().map_err(|e| e.to_string())?;
        let mut opts = SessionOptions::new(ffmpeg);
        opts.record_to = record_to;
        // The page's recorder or its pictures must begin within seconds, or it is said.
        if sound.as_ref().is_none_or(|s| s.picture_origin.is_some()) {
            opts.first_bytes_within = Some(icecream_engine::session::RECORDER_FIRST_BYTES);
        }
        let session = Session::start(settings.clone(), opts).map_err(|e| e.to_string())?;
        let mut rx = session.status();
        log::info!(
            "going live at {}",
            icecream_engine::Target::from_settings(&settings).listen_url()
        );
        tauri::async_runtime::spawn(async move {
            let mut last = None;
            let mut rows: std::collections::HashMap<usize, State> = Default::default();
            loop {
                let now = rx.borrow_and_update().clone();
                // The log keeps each change of state (a person's report starts there).
                let several = now.destinations.len() > 1;
                if last.as_ref() != Some(&now.state) {
                    log::info!("broadcast: {}", now.line());
                    if !several {
                        crate::notify::state_changed(&app, None, last.as_ref(), &now.state);
                    }
                    last = Some(now.state.clone());
                }
                // With several destinations each one's changes are its own (the broadcast stays
                // live while one of them drops).
                for d in now.destinations.iter().filter(|_| several) {
                    let before = rows.insert(d.index, d.status.state.clone());
                    if before.as_ref() != Some(&d.status.state) {
                        log::info!("{}: {}", d.name, d.status.line());
                        crate::notify::state_changed(&app, Some(&d.name), before.as_ref(), &d.status.state);
                    }
                }
                let done = now.state.is_final();
                if status.send(now).is_err() || done || rx.changed().await.is_err() {
                    break;
                }
            }
        });
        let mut pictures = None;
        let sound = sound.map(|s| {
            let picture = s.picture_origin.map(|origin| {
                let (tx, chunks) = mpsc::channel(PICTURE_QUEUE);
                pictures = Some(tx);
                PictureInput { chunks, origin }
            });
            crate::sound::Running::start(s.capture, Some(session.sender()), s.levels, picture)
        });
        *running = Some(Running {
            sound,
            pictures,
            chunks: session.sender(),
            status: session.status(),
            session,
            settings: settings.clone(),
        });
        Ok(Share::for_settings(&settings))
    }

    /// Hands one recorder chunk to the broadcast (the recording gets it first); waits while the
    /// encoder catches up.
    pub async fn push(&self, chunk: Vec<u8>) -> Result<(), String> {
        if chunk.len() > MAX_CHUNK {
            return Err(format!(
                "A recorder chunk of {} was refused: chunks over {} are not media from the recorder.",
                icecream_engine::status::human_bytes(chunk.len() as u64),
                icecream_engine::status::human_bytes(MAX_CHUNK as u64)
            ));
        }
        let ended = || "The broadcast has ended; its reason is shown in the status line.".to_string();
        let (chunks, pictures) = match self.running.lock().await.as_ref() {
            Some(r) if r.sound.is_some() && r.pictures.is_none() => {
                return Err("This broadcast's sound comes from the sound input the app opened; the page's recorder is not used.".into())
            }
            Some(r) => (r.chunks.clone(), r.pictures.clone()),
            None => return Err("Not live: press Go live first.".into()),
        };
        match pictures {
            Some(pictures) => pictures.send(chunk).await.map_err(|_| ended()),
            None => chunks.send(chunk).await.map_err(|_| ended()),
        }
    }

    /// Ends the broadcast after everything recorded so far has been sent.
    pub async fn stop(&self) -> Result<String, String> {
        let Some(r) = self.running.lock().await.take() else {
            return Ok("Not live.".into());
        };
        // The input closes first, so its last block is in the broadcast that ends (and the
        // page's last pictures, which it handed over before asking to stop).
        drop(r.pictures);
        let losses = match r.sound {
            Some(sound) => {
                let status = sound.status.clone();
                if let Err(e) = sound.finish().await {
                    log::info!("the sound input's feed ended with: {e}");
                }
                let last = status.borrow().clone();
                Some(last)
            }
            None => None,
        };
        drop(r.chunks);
        let ended = r.session.stop().await;
        let last = r.status.borrow().clone();
        *self.recorded.lock().await = last.recording.as_ref().map(PathBuf::from);
        let saved = match (last.recording_problem, last.recording) {
            (Some(problem), _) => format!(" {problem}"),
            (None, Some(path)) => format!(" The recording is in {path}."),
            (None, None) => String::new(),
        };
        let summary = ended.map_err(|e| format!("{e}{saved}"))?;
        Ok(format!(
            "Stopped after {}, {} sent. {}{saved}",
            icecream_engine::status::clock(summary.live_for),
            icecream_engine::status::human_bytes(summary.bytes_sent),
            match losses {
                Some(captured) => captured.with_losses(&summary.delivery()),
                None => summary.delivery(),
            }
        ))
    }

    /// Stops one destination while the broadcast goes on to the others.
    pub async fn stop_destination(&self, index: usize) -> Result<(), String> {
        match self.running.lock().await.as_ref() {
            Some(r) => r.session.stop_destination(index).map_err(|e| e.to_string()),
            None => Err("Not live: press Go live first.".into()),
        }
    }

    /// Starts a stopped or failed destination again while the broadcast goes on to the others.
    pub async fn start_destination(&self, index: usize) -> Result<(), String> {
        let running = self.running.lock().await;
        let Some(r) = running.as_ref() else {
            return Err("Not live: press Go live first.".into());
        };
        let started = r.session.start_destination(index).await;
        started.map_err(|e| e.to_string())
    }

    /// The last broadcast's recording, once it has stopped.
    pub async fn last_recording(&self) -> Option<PathBuf> {
        self.recorded.lock().await.clone()
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
