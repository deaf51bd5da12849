//! The `icecream` CLI against a real server: test-connection, stream, settings, help.

use std::process::Output;

use icecream_engine::MountFormat;

use crate::support::*;

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn test_connection_passes_and_leaves_nothing_behind() {
    let ice = Icecast::start().await;
    let out = cli()
        .arg("test-connection")
        .args(server_args(&ice, "/probe"))
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .output()
        .unwrap();
    let port = ice.port;
    assert_eq!(
        text(&out),
        format!(
            "Testing http://127.0.0.1:{port}/probe …\n\
             ✓ The server at 127.0.0.1:{port} answers as Icecast.\n\
             ✓ The username and password are right.\n\
             ✓ The mount /probe is free and accepts video/webm.\n"
        )
    );
    assert!(out.status.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(ice.mount("/probe").await.is_none(), "no mount left behind");
}

#[tokio::test]
async fn test_connection_names_what_failed() {
    let ice = Icecast::start().await;
    let run = |password: &str, mount: &str| {
        cli()
            .arg("test-connection")
            .args(server_args(&ice, mount))
            .env("ICECREAM_PASSWORD", password)
            .output()
            .unwrap()
    };
    let out = run("nope", "/probe");
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    assert!(t.contains("✓ The server at"), "{t}");
    assert!(
        t.contains("✗ The server refused the username or password."),
        "{t}"
    );
    assert!(t.contains("– Not checked: the login did not succeed."), "{t}");

    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let busy =
        icecream_engine::Session::start(ice.settings("/taken", MountFormat::WebmAudio), options()).unwrap();
    push_until_live(&busy, &chunks).await;
    let t = text(&run(&ice.source_password, "/taken"));
    assert!(t.contains("✓ The username and password are right."), "{t}");
    assert!(
        t.contains("✗ Someone is already streaming to the mount /taken."),
        "{t}"
    );
    busy.stop().await.unwrap();
}

#[tokio::test]
async fn stream_a_chunk_folder_and_a_file_from_settings_file() {
    let ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("settings.json");
    let out = cli()
        .arg("settings")
        .args(server_args(&ice, "/from-file"))
        .args(["--format", "ogg-opus", "--name", "From a file", "--save"])
        .arg(&settings)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let saved = std::fs::read_to_string(&settings).unwrap();
    assert!(saved.contains("\"format\": \"ogg-opus\""), "{saved}");

    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, format!("{}\n", ice.source_password)).unwrap();
    let listener_ice = &ice;
    let run = cli()
        .args(["stream", "--settings"])
        .arg(&settings)
        .arg("--password-file")
        .arg(&password_file)
        .args(["--fast", "--input"])
        .arg(corpus("webm-opus-audio-250ms"))
        .output();
    let out = run.unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "Going live at http://127.0.0.1:{}/from-file",
            listener_ice.port
        )),
        "{t}"
    );
    assert!(t.contains("Stopped. Everything recorded was sent."), "{t}");

    // A whole file, played at its own pace would take 20 s; --fast sends it at once.
    let file = save(
        dir.path(),
        "in.webm",
        &corpus_chunks("webm-opus-audio-250ms").concat(),
    );
    let out = cli()
        .args(["stream", "--settings"])
        .arg(&settings)
        .args(["--mount", "/whole-file", "--fast", "--input"])
        .arg(&file)
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn no_password_without_a_terminal_is_explained() {
    let out = cli()
        .args(["test-connection", "--host", "127.0.0.1", "--port", "9"])
        .env_remove("ICECREAM_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        text(&out).trim(),
        "icecream: No password given. Set ICECREAM_PASSWORD, use --password-file FILE, or run in a terminal to be asked."
    );
}

#[test]
fn bad_settings_are_all_listed() {
    let out = cli()
        .args([
            "test-connection",
            "--host",
            "",
            "--port",
            "70000",
            "--mount",
            "nolead",
        ])
        .env("ICECREAM_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(
        text(&out).trim(),
        "icecream: Please fix the settings: Enter the server's host name, for example icecast.example.org. \
         The port must be a number from 1 to 65535 (it is 70000). The mount must start with / and name the \
         mount, for example /live."
    );
}

#[test]
fn help_explains_every_option() {
    let out = cli().args(["stream", "--help"]).output().unwrap();
    let t = text(&out);
    for needle in [
        "--host",
        "--port",
        "--tls",
        "--mount",
        "--per-user-mount",
        "--user",
        "--password-file",
        "--format",
        "--audio-bitrate",
        "--input",
        "--fast",
        "ICECREAM_PASSWORD",
    ] {
        assert!(t.contains(needle), "--help lacks {needle}:\n{t}");
    }
    assert!(!t.contains("--password "), "there is no password flag");
}

#[test]
fn try_runs_a_private_server_and_broadcasts_to_it() {
    let out = cli()
        .args(["try", "--format", "mp3", "--fast", "--input"])
        .arg(corpus("webm-opus-audio-250ms"))
        .env_remove("ICECREAM_PASSWORD")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("A private Icecast runs at http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("/live.mp3 in VLC"), "{text}");
    assert!(text.contains("Stopped. Everything recorded was sent."), "{text}");
}
