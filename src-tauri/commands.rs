//! The commands the page calls. Each is a thin adapter: the engine decides, these translate.

use icecream_engine::icecast::{self, Check, StreamHeaders, Target};
use icecream_engine::net::trust::Fingerprint;
use icecream_engine::settings::Problem;
use icecream_engine::{LocalIcecast, LocalOptions, MountFormat, Secret, Settings, Share, Status};
use serde::Serialize;
use std::path::PathBuf;

use tauri::ipc::{Channel, InvokeBody, Request};
use tauri::State;
use tokio::sync::Mutex;

use crate::chunk_socket::ChunkSocket;
use crate::live::{Live, NativeSound};
use crate::sound::{Preview, SoundInputs};
use crate::store::AppStore;
use icecream_engine::capture::{CaptureStatus, InputDevice};

pub struct AppState {
    store: std::sync::Mutex<AppStore>,
    folders: Folders,
    live: Live,
    local: Mutex<Option<LocalIcecast>>,
    /// The meter's input before Go live.
    preview: Preview,
}

/// The person's own folders, where recordings go unless Settings names another.
pub struct Folders {
    pub videos: PathBuf,
    pub music: PathBuf,
}

impl AppState {
    pub fn new(store: AppStore, folders: Folders) -> Self {
        AppState {
            store: std::sync::Mutex::new(store),
            folders,
            live: Live::default(),
            local: Mutex::new(None),
            preview: Preview::default(),
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, AppStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One recorder chunk to the broadcast, from either way the page sends them.
    pub async fn push(&self, chunk: Vec<u8>) -> Result<(), String> {
        self.live.push(chunk).await
    }

    /// Delivers what was recorded, then stops the private server.
    pub async fn shutdown(&self) {
        self.preview.close().await;
        if let Err(e) = self.live.stop().await {
            log::warn!("the broadcast ended with: {e}");
        }
        self.local.lock().await.take();
    }
}

/// What the page shows when something goes wrong: one sentence, and per-field problems for forms.
#[derive(Debug, Serialize)]
pub struct UiError {
    message: String,
    problems: Vec<Problem>,
}

impl From<String> for UiError {
    fn from(message: String) -> Self {
        UiError {
            message,
            problems: Vec::new(),
        }
    }
}

impl From<icecream_engine::settings::Invalid> for UiError {
    fn from(e: icecream_engine::settings::Invalid) -> Self {
        UiError {
            message: e.to_string(),
            problems: e.0,
        }
    }
}

type Answer<T> = Result<T, UiError>;

#[derive(Serialize)]
pub struct SettingsView {
    /// Everything but the password, which never goes back to the page.
    settings: Settings,
    /// Whether each destination has a saved password.
    has_password: Vec<bool>,
    /// Where the password is kept, in words for Settings.
    password_kept: String,
    configured: bool,
    local_server: bool,
    notice: Option<String>,
    formats: Vec<FormatView>,
}

#[derive(Serialize)]
pub struct FormatView {
    id: &'static str,
    label: &'static str,
    has_video: bool,
    now_playing: bool,
    /// The mount name's ending that says what it carries (Settings warns of one that contradicts).
    extension: &'static str,
}

async fn settings_view(state: &AppState) -> Answer<SettingsView> {
    let local_server = state.local.lock().await.is_some();
    let mut store = state.store();
    Ok(SettingsView {
        has_password: store.has_passwords(&store.settings()?),
        settings: store.settings()?,
        password_kept: store.password_kept().describe(),
        configured: store.configured(),
        local_server,
        notice: store.notice.take(),
        formats: MountFormat::ALL
            .iter()
            .map(|f| FormatView {
                id: f.id(),
                label: f.label(),
                has_video: f.has_video(),
                now_playing: f.supports_now_playing(),
                extension: f.extension(),
            })
            .collect(),
    })
}

#[tauri::command]
pub async fn load_settings(state: State<'_, AppState>) -> Answer<SettingsView> {
    settings_view(&state).await
}

/// The passwords typed in the form, in the destinations' order; None keeps the saved one.
fn typed(passwords: Vec<Option<String>>) -> Vec<Option<Secret>> {
    passwords
        .into_iter()
        .map(|p| p.filter(|p| !p.is_empty()).map(Secret::new))
        .collect()
}

/// The form's settings with each destination's password: the one typed now, else its saved one.
fn with_passwords(state: &AppState, mut settings: Settings, typed: &[Option<Secret>]) -> Answer<Settings> {
    let saved = state.store().settings()?;
    for (i, d) in settings.destinations.iter_mut().enumerate() {
        d.server.password = match typed.get(i).cloned().flatten() {
            Some(p) => p,
            None => (saved.destinations.iter().find(|s| s.id == d.id))
                .map(|s| s.server.password.clone())
                .unwrap_or_default(),
        };
    }
    Ok(settings)
}

#[tauri::command]
pub async fn save_settings(
    state: State<'_, AppState>,
    settings: Settings,
    passwords: Vec<Option<String>>,
) -> Answer<SettingsView> {
    let typed = typed(passwords);
    let settings = with_passwords(&state, settings, &typed)?;
    settings.validate()?;
    if let Some(on_air) = state.live.on_air().await {
        if on_air.destinations != settings.destinations || on_air.encoding != settings.encoding {
            return Err(String::from(
                "You are live: the server, mount, format, size, frame rate and bitrates cannot change \
                 during a broadcast. Stop first, then change them.",
            )
            .into());
        }
    }
    state.store().save(&settings, &typed)?;
    settings_view(&state).await
}

#[tauri::command]
pub async fn test_connection(
    state: State<'_, AppState>,
    settings: Settings,
    passwords: Vec<Option<String>>,
) -> Answer<Vec<Check>> {
    let settings = with_passwords(&state, settings, &typed(passwords))?;
    settings.validate()?;
    // Every destination that is switched on, each answer named by its destination when there
    // are several.
    let several = settings.enabled().count() > 1;
    let mut all = Vec::new();
    for (_, d) in settings.enabled() {
        let checks = icecast::test_connection(
            &Target::new(&settings, d),
            &StreamHeaders::new(&settings.stream, d),
        )
        .await;
        all.extend(checks.into_iter().map(|mut c| {
            if several {
                c.message = format!("{}: {}", d.label(), c.message);
            }
            c
        }));
    }
    Ok(all)
}

/// "Trust this certificate": the server's own certificate, by the fingerprint the person was shown,
/// kept at once for its host and port (it changes nothing else in the saved settings).
#[tauri::command]
pub async fn trust_certificate(
    state: State<'_, AppState>,
    host: String,
    port: u16,
    sha256: Fingerprint,
) -> Answer<SettingsView> {
    let mut settings = state.store().settings()?;
    settings.trust_certificate(&host, port, sha256);
    state.store().save(&settings, &[])?;
    settings_view(&state).await
}

#[tauri::command]
pub async fn forget_certificate(state: State<'_, AppState>, host: String, port: u16) -> Answer<SettingsView> {
    let mut settings = state.store().settings()?;
    settings.forget_certificate(&host, port);
    state.store().save(&settings, &[])?;
    settings_view(&state).await
}

/// Radio in one step: Audio only on with a destination whose format needs a picture; the person
/// picked the sound format (Ogg Opus or MP3), which replaces it, the mount's ending with it.
#[tauri::command]
pub async fn use_sound_format(state: State<'_, AppState>, format: MountFormat) -> Answer<SettingsView> {
    if state.live.on_air().await.is_some() {
        return Err(String::from("Stop the broadcast before changing its format.").into());
    }
    let mut settings = state.store().without_passwords()?;
    if settings.make_sound_only(format) {
        state.store().save(&settings, &[])?;
    }
    settings_view(&state).await
}

/// "Try it on this computer": a private Icecast on 127.0.0.1, saved as the server to use.
#[tauri::command]
pub async fn try_local_server(state: State<'_, AppState>, audio_only: bool) -> Answer<SettingsView> {
    if state.live.on_air().await.is_some() {
        return Err(String::from("Stop the broadcast before switching to a server on this computer.").into());
    }
    let mut local = state.local.lock().await;
    local.take();
    let dir = state.store().local_server_dir();
    let opts = LocalOptions {
        utf8_by_default: true,
        ..Default::default()
    };
    let server = LocalIcecast::start(&dir, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let (mount, format) = if audio_only {
        ("/live.mp3", MountFormat::Mp3)
    } else {
        ("/live.webm", MountFormat::WebmVideo)
    };
    let mut settings = server.settings(mount, format);
    let saved = state.store().settings()?;
    settings.stream = saved.stream;
    if settings.stream.name.trim().is_empty() {
        settings.stream.name = "My first broadcast".into();
    }
    settings.encoding = saved.encoding;
    state
        .store()
        .save(&settings, &[Some(server.source_password.clone())])?;
    *local = Some(server);
    drop(local);
    settings_view(&state).await
}

/// Go live. With `native_sound` (on a computer whose inputs the engine opens) the engine captures
/// the chosen input and the page records no sound; without it the page's recorder sends the
/// chunks. `picture_origin`: the page sends its camera's pictures (WebM, no sound) stamped from
/// this moment (milliseconds since 1970 by the page's clock), and the engine puts them beside the
/// sound it captures. `sound` gets the input's levels and losses.
#[tauri::command]
pub async fn go_live(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    status: Channel<Status>,
    native_sound: bool,
    sound: Channel<CaptureStatus>,
    picture_origin: Option<f64>,
) -> Answer<Share> {
    let settings = state.store().settings()?;
    settings.validate()?;
    let record_to = settings.recording_dir(Some(&state.folders.videos), Some(&state.folders.music));
    let sound = match native_sound.then_some(sound) {
        Some(levels) => {
            if let (None, Some((_, d))) = (
                picture_origin,
                settings.enabled().find(|(_, d)| d.format.has_video()),
            ) {
                return Err(format!(
                    "Audio only (radio) is on, and {} is a {} mount, which needs a picture. Choose a sound format for it in Settings → Destinations, or turn Audio only off.",
                    d.server.mount,
                    d.format.label()
                )
                .into());
            }
            // The meter's own opening of the input gives way to the broadcast's.
            state.preview.close().await;
            let capture = crate::sound::open(settings.sound_input.as_deref())?;
            log::info!("capturing {} for the broadcast", capture.device.name);
            Some(NativeSound {
                capture,
                levels,
                picture_origin: picture_origin.map(crate::sound::page_instant),
            })
        }
        None => None,
    };
    Ok(state.live.start(app, settings, status, record_to, sound).await?)
}

/// The sound inputs for the stage's chooser, or why the page's recorder takes the sound instead.
#[tauri::command]
pub async fn sound_inputs(state: State<'_, AppState>) -> Answer<SoundInputs> {
    let chosen = state.store().without_passwords()?.sound_input;
    Ok(
        tauri::async_runtime::spawn_blocking(move || SoundInputs::read(chosen))
            .await
            .map_err(|_| String::from("The sound inputs could not be listed."))?,
    )
}

/// The stage's chooser: the input kept for sound-only broadcasts (None: the system's default).
#[tauri::command]
pub async fn choose_sound_input(state: State<'_, AppState>, id: Option<String>) -> Answer<()> {
    if state.live.on_air().await.is_some() {
        return Err(String::from(
            "You are live: the sound input cannot change during a broadcast. Stop first, then choose it.",
        )
        .into());
    }
    let mut settings = state.store().without_passwords()?;
    settings.sound_input = id.filter(|i| !i.is_empty());
    state.store().save(&settings, &[])?;
    Ok(())
}

/// Opens the chosen input for the meter alone, before Go live.
#[tauri::command]
pub async fn sound_preview(
    state: State<'_, AppState>,
    levels: Channel<CaptureStatus>,
) -> Answer<InputDevice> {
    let chosen = state.store().without_passwords()?.sound_input;
    Ok(state.preview.open(chosen.as_deref(), levels).await?)
}

/// Closes the meter's input (Audio only turned off, the window going).
#[tauri::command]
pub async fn sound_preview_stop(state: State<'_, AppState>) -> Answer<()> {
    state.preview.close().await;
    Ok(())
}

/// One recorder chunk, as the raw request body: never a JSON array of numbers.
#[tauri::command]
pub async fn push_chunk(state: State<'_, AppState>, request: Request<'_>) -> Answer<()> {
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(String::from("The recorder's chunk did not arrive as raw bytes.").into());
    };
    Ok(state.live.push(bytes.clone()).await?)
}

#[derive(Serialize)]
pub struct Stopped {
    message: String,
    /// A recording was made: "Show recording" can show it.
    recorded: bool,
}

#[tauri::command]
pub async fn stop(state: State<'_, AppState>) -> Answer<Stopped> {
    let message = state.live.stop().await?;
    Ok(Stopped {
        message,
        recorded: state.live.last_recording().await.is_some(),
    })
}

/// A destination's Stop, in its row: the others stay live.
#[tauri::command]
pub async fn stop_destination(state: State<'_, AppState>, index: usize) -> Answer<()> {
    Ok(state.live.stop_destination(index).await?)
}

/// A destination's Start, in its row, after it stopped or failed: the others stay live.
#[tauri::command]
pub async fn start_destination(state: State<'_, AppState>, index: usize) -> Answer<()> {
    Ok(state.live.start_destination(index).await?)
}

#[derive(Serialize)]
pub struct NowPlayingView {
    title: String,
    advice: Option<String>,
}

#[tauri::command]
pub async fn set_now_playing(state: State<'_, AppState>, title: String) -> Answer<NowPlayingView> {
    let Some(settings) = state.live.on_air().await else {
        return Err(String::from("Go live first: the title is shown to listeners of a live stream.").into());
    };
    let titled = icecream_engine::icecast::titles::set_everywhere(&settings, &title).await?;
    Ok(NowPlayingView {
        advice: titled.advice(),
        title: titled.title,
    })
}

/// Settings → "Open the log folder": the app's log files, to attach to a message.
#[tauri::command]
pub fn open_log_folder(app: tauri::AppHandle) -> Answer<()> {
    use tauri::Manager;
    use tauri_plugin_opener::OpenerExt;
    let dir = app.path().app_log_dir().map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dir).map_err(|e| icecream_engine::plain_io_reason(&e))?;
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|_| format!("The log folder could not be opened. It is {}.", dir.display()).into())
}

/// Settings → Recording → "Choose…": the system's folder dialog, opened at the folder in the field
/// (or the default one). None when the person cancels.
#[tauri::command]
pub async fn choose_recordings_folder(
    app: tauri::AppHandle,
    state: State<'_, AppState>,
    current: String,
    audio_only: bool,
) -> Answer<Option<String>> {
    use tauri::Manager;
    use tauri_plugin_dialog::DialogExt;
    let default = if audio_only {
        &state.folders.music
    } else {
        &state.folders.videos
    };
    let start = Some(std::path::PathBuf::from(current.trim()))
        .filter(|p| p.is_absolute() && p.is_dir())
        .or_else(|| Some(default.join("Icecream")).filter(|p| p.is_dir()))
        .unwrap_or_else(|| default.clone());
    let mut dialog = app
        .dialog()
        .file()
        .set_title("Where Icecream keeps its recordings")
        .set_directory(start);
    if let Some(window) = app.get_webview_window("main") {
        dialog = dialog.set_parent(&window);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    dialog.pick_folder(move |folder| {
        let _ = tx.send(folder);
    });
    let Some(folder) = rx.await.ok().flatten() else {
        return Ok(None);
    };
    let path = folder
        .into_path()
        .map_err(|_| String::from("That folder is not on this computer's disks. Choose another one."))?;
    Ok(Some(path.display().to_string()))
}

/// After Stop: the last broadcast's recording, shown in its folder by the file manager.
#[tauri::command]
pub async fn show_recording(app: tauri::AppHandle, state: State<'_, AppState>) -> Answer<()> {
    use tauri_plugin_opener::OpenerExt;
    let Some(path) = state.live.last_recording().await else {
        return Err(String::from("There is no recording of a broadcast yet.").into());
    };
    app.opener().reveal_item_in_dir(&path).map_err(|_| {
        format!(
            "The file manager could not be opened. The recording is {}.",
            path.display()
        )
        .into()
    })
}

/// Where the page sends chunks without a call per chunk (chunk_socket.rs); `push_chunk` is its
/// fallback.
#[tauri::command]
pub fn chunk_socket(socket: State<'_, ChunkSocket>) -> String {
    socket.url.clone()
}

/// IPC benchmark (bench/ipc): a chunk as raw bytes. Only granted when ICECREAM_BENCH is set.
#[tauri::command]
pub fn bench_raw(request: Request<'_>) -> usize {
    match request.body() {
        InvokeBody::Raw(b) => b.len(),
        InvokeBody::Json(_) => 0,
    }
}

/// IPC benchmark: the same chunk as a JSON array of numbers, the way not to do it.
#[tauri::command]
pub fn bench_json(data: Vec<u8>) -> usize {
    data.len()
}

/// IPC benchmark: a chunk socket whose chunks are counted and dropped.
pub struct BenchSocket {
    pub socket: ChunkSocket,
    pub bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[tauri::command]
pub fn bench_socket(bench: State<'_, BenchSocket>) -> String {
    bench.socket.url.clone()
}

/// IPC benchmark: how many bytes the benchmark's socket has taken so far.
#[tauri::command]
pub fn bench_socket_bytes(bench: State<'_, BenchSocket>) -> u64 {
    bench.bytes.load(std::sync::atomic::Ordering::Relaxed)
}
