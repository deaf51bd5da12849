// Declaring the app's commands makes Tauri generate an `allow-<command>` permission for each, so
// capabilities/ can grant exactly the ones the page uses (the benchmark's are granted only at run
// time, when ICECREAM_BENCH is set).
const COMMANDS: &[&str] = &[
    "load_settings",
    "save_settings",
    "test_connection",
    "trust_certificate",
    "forget_certificate",
    "try_local_server",
    "go_live",
    "sound_inputs",
    "use_sound_format",
    "choose_sound_input",
    "sound_preview",
    "sound_preview_stop",
    "push_chunk",
    "chunk_socket",
    "stop",
    "stop_destination",
    "start_destination",
    "set_now_playing",
    "open_log_folder",
    "show_recording",
    "choose_recordings_folder",
    "bench_raw",
    "bench_json",
    "bench_socket",
    "bench_socket_bytes",
];

fn main() {
    sidecar_is_there();
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}

/// Windows and macOS bundle ffmpeg beside the app (tauri.{windows,macos}.conf.json): without it,
/// tauri-build panics with a path and nothing on what to do, so say it first.
fn sidecar_is_there() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "windows" && os != "macos" {
        return;
    }
    let triple = std::env::var("TARGET").unwrap_or_default();
    let (exe, name) = if os == "windows" {
        (".exe", "Windows")
    } else {
        ("", "macOS")
    };
    let sidecar = format!("packaging/binaries/ffmpeg-{triple}{exe}");
    println!("cargo:rerun-if-changed={sidecar}");
    if !std::path::Path::new(&sidecar).exists() {
        eprintln!(
            "The app bundles ffmpeg on {name}, and {sidecar} is not there yet. Run packaging/fetch-ffmpeg \
             first (in Git Bash on Windows): it places an LGPL ffmpeg build there and checks it."
        );
        std::process::exit(1);
    }
}
