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
        .args(["try", "--format", "mp3", "--fast", "--once", "--input"])
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

/// A CLI run whose standard error is read as it is written.
struct Running {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    fn start(cmd: &mut std::process::Command) -> Running {
        use std::io::BufRead;
        let mut child = cmd
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Running { child, stderr }
    }

    fn said(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_said(&self, needle: &str) -> String {
        for _ in 0..100 {
            if self.said().contains(needle) {
                return self.said();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the CLI never said {needle:?}: {}", self.said());
    }

    /// The exit status, once it has ended by itself (within a minute).
    fn ended(&mut self) -> std::process::ExitStatus {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread has the last lines once the pipe closes.
                std::thread::sleep(std::time::Duration::from_millis(200));
                return status;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the CLI did not end: {}", self.said());
    }
}

/// The bytes-sent figures of the LIVE lines, in order ("LIVE 00:00:10 · 1.2 MB sent · …").
fn live_bytes(said: &str) -> Vec<f64> {
    said.lines()
        .filter(|l| l.starts_with("LIVE "))
        .filter_map(|l| {
            let sent = l.split(" · ").nth(1)?.strip_suffix(" sent")?;
            let (n, unit) = sent.split_once(' ')?;
            let scale = match unit {
                "B" => 1.0,
                "kB" => 1e3,
                "MB" => 1e6,
                "GB" => 1e9,
                _ => return None,
            };
            Some(n.parse::<f64>().ok()? * scale)
        })
        .collect()
}

#[tokio::test]
async fn a_file_played_live_shows_live_and_a_growing_byte_count() {
    let ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = save(
        dir.path(),
        "show.webm",
        &corpus_chunks("webm-opus-audio-250ms").concat(),
    );
    let mut run = Running::start(
        cli()
            .args(["stream", "--format", "webm-audio", "--input"])
            .arg(&file)
            .args(server_args(&ice, "/file.webm"))
            .env("ICECREAM_PASSWORD", &ice.source_password),
    );
    assert!(run.ended().success(), "{}", run.said());
    let said = run.said();
    let before_stop = said.split("Stopping").next().unwrap();
    let sent = live_bytes(before_stop);
    assert!(sent.len() >= 2, "LIVE lines while the 20 s file plays: {said}");
    assert!(
        sent.windows(2).all(|w| w[1] > w[0]) && sent[sent.len() - 1] > 100e3,
        "the byte count grows while the file plays: {sent:?}\n{said}"
    );
}

#[tokio::test]
async fn try_loops_its_recording_until_ctrl_c() {
    let mut run = Running::start(
        cli()
            .args(["try", "--format", "mp3", "--input"])
            .arg(corpus("webm-opus-audio-250ms"))
            .env_remove("ICECREAM_PASSWORD"),
    );
    let said = run.wait_said("in VLC").await;
    let port: u16 = said
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the private server's port");
    let ep = icecream_engine::net::Endpoint::loopback(port);
    run.wait_said("LIVE").await;
    let listener = Listener::connect(&ep, "/live.mp3").await;
    // The corpus is 20 s long: at 32 s the second pass is well under way.
    tokio::time::sleep(std::time::Duration::from_secs(32)).await;
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "still live after 30 s: {}",
        run.said()
    );
    signal(run.child.id(), libc::SIGINT);
    let status = run.ended();
    let said = run.said();
    assert!(status.success(), "{said}");
    assert!(
        said.contains("The recording plays over and over; press Ctrl-C to stop."),
        "{said}"
    );
    assert!(said.contains("Stopped. Everything recorded was sent."), "{said}");
    // One stream whose clock goes on: the encoder never saw time go back.
    assert!(!said.contains("non monotonically"), "{said}");
    let heard = listener.finish().await;
    let file = save(&std::env::temp_dir(), &format!("try-loop-{port}.mp3"), &heard);
    let secs = audio_end(&file);
    let errors = decode_errors(&file);
    let _ = std::fs::remove_file(&file);
    assert_eq!(errors, "", "the looped stream decodes cleanly");
    assert!(secs > 28.0, "the listener heard {secs} s across the loop");
}

#[tokio::test]
async fn a_settings_file_with_two_destinations_streams_to_both() {
    let ice = Icecast::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ice.settings("/cli-one.webm", MountFormat::WebmAudio);
    settings.first_mut().name = "Station".into();
    let mut backup = ice.server.destination("/cli-two.ogg", MountFormat::OggVorbis);
    backup.name = "Backup".into();
    settings.destinations.push(backup);
    let file = dir.path().join("two.json");
    settings.save(&file).unwrap();
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains(&ice.source_password), "no password in the file");
    let run = |second: &str| {
        cli()
            .args(["stream", "--settings"])
            .arg(&file)
            .args(["--fast", "--input"])
            .arg(corpus("webm-opus-audio-250ms"))
            .env("ICECREAM_PASSWORD", &ice.source_password)
            .env("ICECREAM_PASSWORD_2", second)
            .output()
            .unwrap()
    };
    let out = run(&ice.source_password);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for line in ["  Station: LIVE", "  Backup: LIVE", "2 of 2 destinations live"] {
        assert!(
            t.contains(line),
            "the status names each destination ({line:?}): {t}"
        );
    }
    assert!(ice.source_attempts("/cli-two.ogg") >= 1);

    // A wrong password for the second: the first still goes out, and the run says what was missed.
    let out = run("not-the-password");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("  Station: LIVE"), "{t}");
    assert!(
        t.contains("not every destination got the broadcast.\nBackup: "),
        "{t}"
    );
    assert!(!t.contains(&ice.source_password));
    assert_plain(t.lines().last().unwrap());
}
