//! The password never shows up in any process's argv, in logs, or in messages.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use icecream_engine::{MountFormat, Session};

use crate::support::*;

#[tokio::test]
async fn password_is_not_in_ffmpeg_argv_nor_in_logs() {
    let ice = Icecast::start().await;
    // MP3 is encoded by ffmpeg (WebM to a WebM mount runs none).
    let chunks = corpus_chunks("webm-opus-audio-250ms");
    let session = Session::start(ice.settings("/secret", MountFormat::Mp3), options()).unwrap();
    let pushed = push_until_live(&session, &chunks).await;
    let pid = session.ffmpeg_pid().expect("ffmpeg runs while live");
    let argv = cmdline(pid);
    assert!(
        argv.contains("ffmpeg") && argv.contains("pipe:1"),
        "this is the encoder: {argv}"
    );
    assert!(
        !argv.contains(&ice.source_password),
        "password in ffmpeg's argv: {argv}"
    );
    push_all(&session, &chunks[pushed..]).await;
    session.stop().await.unwrap();

    let logs = captured_logs();
    assert!(
        logs.contains("live on http://127.0.0.1"),
        "the capture works: {logs}"
    );
    for pw in PASSWORDS.lock().unwrap().iter() {
        assert!(!logs.contains(pw.as_str()), "a password was logged:\n{logs}");
    }
}

#[tokio::test]
async fn password_is_not_in_the_cli_its_ffmpeg_or_its_output() {
    let ice = Icecast::start().await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_icecream"))
        .args(["-vv", "stream"])
        .args(server_args(&ice, "/cli-secret"))
        .args(["--format", "mp3", "--input"])
        .arg(corpus("webm-opus-audio-250ms"))
        .env("ICECREAM_PASSWORD", &ice.source_password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    assert!(ice.wait_mount("/cli-secret", true).await, "the CLI goes live");
    let mut seen = vec![cmdline(pid)];
    // The encoder is a child of the CLI; give it a moment to appear.
    let kids = wait_for_children(pid).await;
    seen.extend(kids.iter().map(|k| cmdline(*k)));
    assert!(
        seen.iter().any(|c| c.contains("ffmpeg")),
        "found the encoder: {seen:?}"
    );
    for argv in &seen {
        assert!(!argv.contains(&ice.source_password), "password in argv: {argv}");
    }
    // Ctrl-C stops cleanly.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the CLI stops after Ctrl-C")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Stopped. Everything recorded was sent."), "{text}");
    assert!(text.contains("ffmpeg"), "verbose output was captured: {text}");
    assert!(
        !text.contains(&ice.source_password),
        "password in the CLI's output:\n{text}"
    );
    assert!(ice.wait_mount("/cli-secret", false).await);
    for k in kids {
        assert!(
            !Path::new(&format!("/proc/{k}")).exists(),
            "ffmpeg {k} outlived the CLI"
        );
    }
}

#[tokio::test]
async fn wrong_password_message_does_not_echo_it() {
    let ice = Icecast::start().await;
    let out = cli()
        .args([
            "test-connection",
            "--host",
            "127.0.0.1",
            "--port",
            &ice.port.to_string(),
            "--mount",
            "/t",
        ])
        .env("ICECREAM_PASSWORD", "src-pw-wrong-guess")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("refused the username or password"), "{text}");
    assert!(!text.contains("src-pw-wrong-guess"), "{text}");
}
