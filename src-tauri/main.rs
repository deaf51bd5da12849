//! Icecream's desktop app: a Tauri shell around the engine. The webview captures and encodes the
//! picture (and the sound where the engine cannot open an input); these modules only adapt the
//! engine to the window.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod chunk_socket;
mod commands;
mod live;
mod notify;
mod sound;
mod store;
mod webview;

use tauri::Manager;

/// Set by bench/ipc: grants the two benchmark commands, which the page never gets otherwise.
const BENCH_ENV: &str = "ICECREAM_BENCH";

/// The log file's size before it is set aside (five are kept): enough for hours of a broadcast's
/// state changes and ffmpeg's lines, small enough to attach to a message.
const LOG_FILE_BYTES: u128 = 2_000_000;

fn main() {
    use tauri_plugin_log::{RotationStrategy, Target, TargetKind};
    tauri::Builder::default()
        // First, so that a second launch hands over before it opens anything: the two would share
        // the password, the settings and the private server's folder.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            log::info!("a second launch was asked for: showing this window instead");
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // The app's lines and ffmpeg's to a file in the app's log folder (Settings opens it) and
        // to stderr for a terminal. The engine never logs the password.
        .plugin(
            tauri_plugin_log::Builder::new()
                .clear_targets()
                .targets([
                    Target::new(TargetKind::LogDir {
                        file_name: Some("icecream".into()),
                    }),
                    Target::new(TargetKind::Stderr),
                ])
                .level(log::LevelFilter::Info)
                .level_for("zbus", log::LevelFilter::Warn)
                .level_for("tracing", log::LevelFilter::Warn)
                // It logs each refused certificate in rustls' debug form; the engine logs the
                // refusal in words.
                .level_for("rustls_platform_verifier", log::LevelFilter::Off)
                .max_file_size(LOG_FILE_BYTES)
                .rotation_strategy(RotationStrategy::KeepSome(5))
                .build(),
        )
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_store::Builder::default().build())
        .setup(|app| {
            let store = store::AppStore::open(app.handle())?;
            // Recordings go where the person keeps videos (or music, for sound only), else beside
            // the settings; Settings can name another folder.
            let paths = app.path();
            let home = paths.home_dir().ok();
            let fallback = paths.app_data_dir()?;
            let folders = commands::Folders {
                videos: (paths.video_dir().ok())
                    .or_else(|| home.as_ref().map(|h| h.join("Videos")))
                    .unwrap_or_else(|| fallback.clone()),
                music: (paths.audio_dir().ok())
                    .or_else(|| home.as_ref().map(|h| h.join("Music")))
                    .unwrap_or(fallback),
            };
            app.manage(commands::AppState::new(store, folders));
            let handle = app.handle().clone();
            let socket = tauri::async_runtime::block_on(chunk_socket::ChunkSocket::start(move |chunk| {
                let app = handle.clone();
                async move { app.state::<commands::AppState>().push(chunk).await }
            }))?;
            app.manage(socket);
            if std::env::var_os(BENCH_ENV).is_some() {
                app.add_capability(
                    tauri::ipc::CapabilityBuilder::new("bench")
                        .window("main")
                        .permission("allow-bench-raw")
                        .permission("allow-bench-json")
                        .permission("allow-bench-socket")
                        .permission("allow-bench-socket-bytes"),
                )?;
                // The same socket as the broadcast's, with chunks counted and dropped, like bench_raw.
                let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                let counted = bytes.clone();
                let sink = chunk_socket::ChunkSocket::start(move |chunk| {
                    counted.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    async { Ok(()) }
                });
                let socket = tauri::async_runtime::block_on(sink)?;
                app.manage(commands::BenchSocket { socket, bytes });
            }
            if let Some(window) = app.get_webview_window("main") {
                webview::allow_media_capture(&window)?;
            }
            quit_on_signals(app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::load_settings,
            commands::save_settings,
            commands::test_connection,
            commands::trust_certificate,
            commands::forget_certificate,
            commands::try_local_server,
            commands::go_live,
            commands::sound_inputs,
            commands::use_sound_format,
            commands::choose_sound_input,
            commands::sound_preview,
            commands::sound_preview_stop,
            commands::push_chunk,
            commands::chunk_socket,
            commands::stop,
            commands::stop_destination,
            commands::start_destination,
            commands::set_now_playing,
            commands::open_log_folder,
            commands::show_recording,
            commands::choose_recordings_folder,
            commands::bench_raw,
            commands::bench_json,
            commands::bench_socket,
            commands::bench_socket_bytes,
        ])
        .build(tauri::generate_context!())
        .expect("the app window could not be created")
        .run(|app, event| {
            // Stop the broadcast and the private server with the app, delivering what was recorded.
            if let tauri::RunEvent::Exit = event {
                let state = app.state::<commands::AppState>();
                tauri::async_runtime::block_on(state.shutdown());
            }
        });
}

/// SIGTERM (a logout, a service manager), SIGINT (Ctrl-C in a terminal) and SIGHUP quit the way
/// closing the window does: the broadcast is stopped, the stream ended and the recording completed
/// before the process goes (RunEvent::Exit above), instead of dying mid-stream.
fn quit_on_signals(app: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            log::warn!("signal handlers could not be set up; a signal ends the app at once");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
            _ = hup.recv() => {}
        }
        log::info!("asked to quit by a signal: stopping the broadcast first");
        app.exit(0);
    });
    #[cfg(not(unix))]
    let _ = app;
}
