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
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
