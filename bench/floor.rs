//! The floor each engine benchmark is set beside, in the same run: ffmpeg alone, with the engine's
//! own arguments for the mount's format, writing the same input straight to `icecast://` on the same
//! private server (what the old relay did). Whatever the engine costs on top of that is its own.
//!
//! The floor's password is in its argv, as `icecast://` requires: a throwaway password of the
//! benchmark's private 127.0.0.1 server, never a person's.

use std::process::{Command, Stdio};

use icecream_engine::media::format::MountFormat;
use icecream_engine::{Container, Ffmpeg, LocalIcecast};

/// ffmpeg reading the recorder's `input` on stdin (piped) and sending `format` to `mount`.
pub fn command(
    ffmpeg: &Ffmpeg,
    server: &LocalIcecast,
    format: MountFormat,
    input: Container,
    mount: &str,
) -> Command {
    let mut args = match (format.written_by_engine(), input) {
        (true, Container::Webm) => relay_copy(format),
        _ => icecream_engine::transcode::ffmpeg::args(
            &icecream_engine::settings::Encode::of(format),
            input,
            false,
            false,
        ),
    };
    // The engine's ffmpeg writes to its stdout ("pipe:1"); the floor's goes to the server.
    args.pop();
    args.extend([
        "-content_type".to_string(),
        format.content_type().to_string(),
        format!(
            "icecast://source:{}@127.0.0.1:{}{mount}",
            server.source_password.expose(),
            server.port
        ),
    ]);
    let mut cmd = Command::new(&ffmpeg.path);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// For WebM input to a WebM or Ogg Opus mount the engine runs no ffmpeg; the floor is what the
/// old relay ran: ffmpeg copying the recorder's codecs into the mount's container, with the
/// Cluster (1 s video, 0.5 s sound) and page (200 ms) lengths the engine gave ffmpeg before.
fn relay_copy(format: MountFormat) -> Vec<String> {
    let output = match format {
        MountFormat::WebmVideo => "-map 0:v:0? -map 0:a:0? -c copy -f webm -live 1 -cluster_time_limit 1000",
        MountFormat::WebmAudio => "-map 0:a:0 -vn -c:a copy -f webm -live 1 -cluster_time_limit 500",
        _ => "-map 0:a:0 -vn -c:a copy -f ogg -page_duration 200000",
    };
    format!(
        "-hide_banner -nostdin -loglevel warning -probesize 32 -analyzeduration 0 -i pipe:0 \
         {output} -flush_packets 1 pipe:1"
    )
    .split_whitespace()
    .map(String::from)
    .collect()
}

/// Hands each chunk, at its time, to the engine's session and to the floor's ffmpeg alike (until
/// the chunks run out or either stops taking them), and returns once the session is live: the
/// feeding task, and when the first chunk's time was.
#[allow(dead_code)] // the join and browser benchmarks
pub async fn live_on_both(
    session: &icecream_engine::Session,
    mut floor_in: tokio::process::ChildStdin,
    chunks: Vec<(u64, Vec<u8>)>,
) -> (tokio::task::JoinHandle<()>, tokio::time::Instant) {
    use tokio::io::AsyncWriteExt;
    let sender = session.sender();
    let started = tokio::time::Instant::now();
    let pace = tokio::spawn(async move {
        for (due, chunk) in chunks {
            tokio::time::sleep_until(started + std::time::Duration::from_millis(due)).await;
            let floor_took = floor_in.write_all(&chunk).await;
            if sender.send(chunk).await.is_err() || floor_took.is_err() {
                break;
            }
        }
    });
    let mut status = session.status();
    status
        .wait_for(|s| s.state == icecream_engine::State::Live)
        .await
        .expect("the session goes live");
    (pace, started)
}

/// The floor started for a tokio benchmark (killed when dropped), and its input.
#[allow(dead_code)] // the cpu benchmark feeds its floor from a thread
pub fn start(
    ffmpeg: &Ffmpeg,
    server: &LocalIcecast,
    format: MountFormat,
    input: Container,
    mount: &str,
) -> (tokio::process::Child, tokio::process::ChildStdin) {
    let mut floor = tokio::process::Command::from(command(ffmpeg, server, format, input, mount))
        .kill_on_drop(true)
        .spawn()
        .expect("ffmpeg starts");
    let stdin = floor.stdin.take().unwrap();
    (floor, stdin)
}
