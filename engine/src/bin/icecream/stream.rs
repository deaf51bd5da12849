//! `icecream stream`: go live from a sound input, a recording, standard input or a folder of
//! chunks; stop on Ctrl-C.

use std::path::PathBuf;

use icecream_engine::input::{self, InputError};
use icecream_engine::{Ffmpeg, Session, SessionOptions, Settings, State};

use crate::args::{checked, StreamArgs};
use crate::status::print_status;
use crate::test_connection::trust_hint;

pub(crate) async fn stream(args: StreamArgs) -> Result<(), String> {
    let s = checked(&args.server)?;
    let source = match (&args.device, &args.input) {
        (Some(name), _) => {
            // A sound card has no picture: say so before opening it, not as a broken stream.
            if let Some((_, d)) = s.enabled().find(|(_, d)| d.format.has_video()) {
                return Err(format!(
                    "a sound input has no picture, and {} is a {} mount. Choose a sound format with --format (ogg-opus, webm-audio, mp3, ogg-flac, ogg-vorbis or aac).",
                    d.server.mount,
                    d.format.label()
                ));
            }
            Source::device(name)?
        }
        (None, Some(path)) => Source::open(path)?,
        (None, None) => return Err("say what to send: --device NAME or --input PATH.".into()),
    };
    stream_from(s, source, args.fast, args.ffmpeg, args.record).await
}

/// The recording at `path` (a WebM file or a chunk folder) ready to loop, or why it cannot.
pub(crate) fn looped_recording(path: &std::path::Path) -> Result<input::Looped, String> {
    let bytes = if path.is_dir() {
        let entries = input::chunk_folder(path).map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        for e in entries {
            all.extend(std::fs::read(&e.path).map_err(|err| icecream_engine::plain_io_reason(&err))?);
        }
        all
    } else {
        std::fs::read(path).map_err(|e| {
            format!(
                "{} could not be read: {}",
                path.display(),
                icecream_engine::plain_io_reason(&e)
            )
        })?
    };
    input::Looped::from_bytes(&bytes).map_err(|e| e.to_string())
}

pub(crate) async fn stream_from(
    s: Settings,
    source: Source,
    fast: bool,
    ffmpeg: Option<PathBuf>,
    record: Option<PathBuf>,
) -> Result<(), String> {
    let ffmpeg = match &ffmpeg {
        Some(p) => Ffmpeg { path: p.clone() },
        None => Ffmpeg::locate().map_err(|e| e.to_string())?,
    };
    // Not run here: WebM to a WebM or Ogg Opus mount needs no ffmpeg at all, and a broken one
    // is reported in words when the broadcast first starts it.
    log::info!("ffmpeg, if this format needs it: {}", ffmpeg.path.display());

    let mut opts = SessionOptions::new(ffmpeg);
    opts.realtime_input = matches!(&source, Source::File(_) | Source::Looped(_)) && !fast;
    opts.record_to = record;
    let session = Session::start(s, opts).map_err(|e| e.to_string())?;
    eprintln!("Going live at {} …", session.listen_url);
    let printer = tokio::spawn(print_status(session.status()));
    let capture_status = match &source {
        Source::Device(capture) => {
            let status = capture.status();
            tokio::spawn(crate::devices::print_capture(status.clone()));
            Some(status)
        }
        _ => None,
    };

    let mut status = session.status();
    let failed = async move {
        let _ = status.wait_for(|s| s.state.is_final()).await;
    };
    // A capture is moved into its feed: dropping it (Ctrl-C, a failure) closes the input.
    let fed = async {
        match source {
            Source::Device(capture) => capture
                .run(Some(session.sender()))
                .await
                .map(|()| 0)
                .map_err(InputError::from),
            Source::Chunks(entries) => input::replay_chunks(&session, &entries, !fast, |_| {}).await,
            Source::File(path) => {
                let f = tokio::fs::File::open(&path).await.map_err(|e| InputError::Read {
                    path: path.clone(),
                    reason: icecream_engine::plain_io_reason(&e),
                })?;
                input::pump_reader(&session, f, &path).await
            }
            Source::Stdin => {
                input::pump_reader(&session, tokio::io::stdin(), "standard input".as_ref()).await
            }
            Source::Looped(looped) => input::push_looped(&session, &looped).await,
        }
    };
    let input_error = tokio::select! {
        r = fed => r.err(),
        _ = shutdown_signal() => { eprintln!("\nStopping: sending what is left …"); None }
        _ = failed => None,
    };
    let last = session.status();
    let result = session.stop().await;
    let _ = printer.await;
    let last = last.borrow().clone();
    if let Some(problem) = &last.recording_problem {
        eprintln!("{problem}");
    } else if let Some(path) = &last.recording {
        eprintln!("The recording is in {path}.");
    }
    // A broadcast that went out but not everywhere still ends in failure, naming where: a script
    // running it must learn that a destination was missed.
    let missed: Vec<String> = (last.destinations.iter())
        .filter(|_| last.destinations.len() > 1)
        .filter_map(|d| match &d.status.state {
            State::Failed { reason } => Some(format!("{}: {reason}", d.name)),
            _ => None,
        })
        .collect();
    match (result, input_error) {
        (Err(e), _) => Err(match &last.certificate {
            Some(offer) => format!("{e}\n{}", trust_hint(offer)),
            None => e.to_string(),
        }),
        (Ok(summary), Some(InputError::Session(_)) | None) => Ok(summary),
        (Ok(_), Some(e)) => Err(e.to_string()),
    }
    .map(|summary| {
        // Never "everything was sent" when the input lost some on the way in.
        let told = match capture_status {
            Some(s) => s.borrow().with_losses(&summary.delivery()),
            None => summary.delivery(),
        };
        eprintln!("Stopped. {told}");
    })
    .and_then(|()| match missed.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "not every destination got the broadcast.\n{}",
            missed.join("\n")
        )),
    })
}

pub(crate) enum Source {
    Chunks(Vec<input::ChunkEntry>),
    File(PathBuf),
    Stdin,
    /// A recording played over and over until Ctrl-C.
    Looped(Box<input::Looped>),
    /// A sound input of this computer, already capturing.
    Device(Box<icecream_engine::capture::Capture>),
}

impl Source {
    pub(crate) fn device(name: &str) -> Result<Source, String> {
        let capture = icecream_engine::capture::Capture::open(Some(name)).map_err(|e| e.to_string())?;
        eprintln!(
            "Capturing {} ({} channel{}) …",
            capture.device.name,
            capture.device.channels,
            if capture.device.channels == 1 { "" } else { "s" }
        );
        Ok(Source::Device(Box::new(capture)))
    }

    pub(crate) fn open(path: &std::path::Path) -> Result<Source, String> {
        if path.as_os_str() == "-" {
            Ok(Source::Stdin)
        } else if path.is_dir() {
            input::chunk_folder(path)
                .map(Source::Chunks)
                .map_err(|e| e.to_string())
        } else if path.is_file() {
            Ok(Source::File(path.to_path_buf()))
        } else {
            Err(format!("The input {} does not exist.", path.display()))
        }
    }
}

/// Ctrl-C anywhere; SIGTERM too on Unix, so a service manager stops a broadcast as cleanly.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
