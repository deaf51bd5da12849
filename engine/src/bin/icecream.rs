//! `icecream`: the headless broadcaster, on the same engine as the desktop app.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use icecream_engine::icecast::{self, StreamHeaders, Target};
use icecream_engine::input::{self, InputError};
use icecream_engine::tls::Fingerprint;
use icecream_engine::{Ffmpeg, MountFormat, SavedPassword, Secret, Session, SessionOptions, Settings, State};

/// Icecream: go live on an Icecast server from the command line.
///
/// Settings come from a JSON settings file (--settings) and are overridden by flags. The password is
/// never a flag: it comes from the ICECREAM_PASSWORD environment variable, from --password-file,
/// from the app's saved password (--saved-password), or from a prompt when run in a terminal.
///
/// A settings file can list several destinations (servers and mounts, each with its own format):
/// the broadcast goes to every one that is switched on, and each has its own fate. The server flags
/// change the first destination. Each other destination's password comes from
/// ICECREAM_PASSWORD_<N> (N its place in the list: 2, 3, …), else from the N-th --password-file,
/// else from a prompt that names it.
#[derive(Parser, Debug)]
#[command(name = "icecream", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print more about what happens (-v: progress, -vv: details).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Go live: send a recording, standard input, or a folder of recorder chunks to the mount.
    Stream(StreamArgs),
    /// Check the server, the username and password, and that the mount is free, without going live.
    TestConnection(ServerArgs),
    /// Set the title listeners see ("now playing") on a live MP3 or Ogg mount.
    Metadata {
        #[command(flatten)]
        server: ServerArgs,
        /// The title, e.g. "Artist - Title".
        title: String,
    },
    /// Start a private Icecast on this computer (127.0.0.1, random passwords) and broadcast to it:
    /// what the app's "Try it on this computer" does. A WebM recording plays over and over until
    /// Ctrl-C, so there is time to open the printed URL in a player; the server stops with it.
    Try {
        /// What to send, as for `stream`.
        #[arg(short, long, value_name = "PATH")]
        input: PathBuf,
        /// Mount format: webm-video, webm-audio, ogg-opus, ogg-vorbis, ogg-flac, mp3 or aac.
        #[arg(long, default_value = "webm-video")]
        format: MountFormat,
        /// Send as fast as possible instead of at the media's own pace.
        #[arg(long)]
        fast: bool,
        /// Play the recording once and stop, instead of looping it until Ctrl-C.
        #[arg(long)]
        once: bool,
    },
    /// Print the settings that the file and flags add up to, and any problems with them.
    Settings {
        #[command(flatten)]
        server: ServerArgs,
        /// Also write them to this settings file (the password is never written).
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
struct StreamArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// What to send: a WebM or MP4 file, "-" for standard input, or a folder of recorder chunks
    /// (chunk-NNNNN.bin files and chunks.tsv with their arrival times).
    #[arg(short, long, value_name = "PATH")]
    input: PathBuf,
    /// Send as fast as possible instead of at the media's own pace (for tests and benchmarks).
    #[arg(long)]
    fast: bool,
    /// The ffmpeg to use, instead of the bundled one or the one on PATH.
    #[arg(long, value_name = "FILE")]
    ffmpeg: Option<PathBuf>,
    /// Also keep every input byte in a file in this folder, named by date and time (it holds
    /// everything even when the server was away).
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct ServerArgs {
    /// Settings file (JSON) to start from; flags override what it says.
    #[arg(short, long, env = "ICECREAM_SETTINGS", value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Icecast server host name or IP address.
    #[arg(long)]
    host: Option<String>,
    /// Icecast server port (Icecast's usual port is 8000).
    #[arg(long)]
    port: Option<u32>,
    /// Connect with TLS (https).
    #[arg(long, overrides_with = "no_tls")]
    tls: bool,
    /// Connect without TLS.
    #[arg(long)]
    no_tls: bool,
    /// Trust the server's own certificate (self-signed, or from an authority this computer does not
    /// know) by its SHA-256 fingerprint, as the error shows it (hex; colons allowed). It is kept for
    /// this host and port when the settings are saved. A CA-signed certificate must still name the host.
    #[arg(long, value_name = "SHA256")]
    trust_certificate: Option<Fingerprint>,
    /// Mount point, e.g. /live. With --per-user-mount it is a prefix and the username is appended.
    #[arg(long)]
    mount: Option<String>,
    /// Append the username to the mount (prefix /s- and user alice give /s-alice).
    #[arg(long)]
    per_user_mount: bool,
    /// Source username (usually "source").
    #[arg(long)]
    user: Option<String>,
    /// Read the password from the first line of this file (else ICECREAM_PASSWORD, else a prompt).
    /// Give it once per destination, in the settings file's order, for several destinations.
    #[arg(long, value_name = "FILE")]
    password_file: Vec<PathBuf>,
    /// Use the passwords the Icecream app saved (in this computer's keyring, or the app's private
    /// files where no keyring runs), each destination's own.
    #[arg(long)]
    saved_password: bool,
    /// Mount format: webm-video, webm-audio, ogg-opus, ogg-vorbis, ogg-flac, mp3 or aac.
    #[arg(long)]
    format: Option<MountFormat>,
    /// Stream name shown by the server and players.
    #[arg(long)]
    name: Option<String>,
    /// Stream description.
    #[arg(long)]
    description: Option<String>,
    /// Stream genre.
    #[arg(long)]
    genre: Option<String>,
    /// Web page of the stream.
    #[arg(long)]
    url: Option<String>,
    /// List the stream in public directories (if the server does that).
    #[arg(long)]
    public: bool,
    /// Audio bitrate in kbps, when the audio is encoded.
    #[arg(long, value_name = "KBPS")]
    audio_bitrate: Option<u32>,
    /// Video bitrate in kbps, when the video is encoded.
    #[arg(long, value_name = "KBPS")]
    video_bitrate: Option<u32>,
    /// Video width in pixels.
    #[arg(long)]
    width: Option<u32>,
    /// Video height in pixels.
    #[arg(long)]
    height: Option<u32>,
    /// Video frame rate.
    #[arg(long)]
    fps: Option<u32>,
}

impl ServerArgs {
    fn settings(&self, need_password: bool) -> Result<Settings, String> {
        let mut s = match &self.settings {
            Some(path) => Settings::load(path).map_err(|e| e.to_string())?,
            None => Settings::default(),
        };
        let first = s.first_mut();
        set(&mut first.format, &self.format);
        set(&mut first.audio_bitrate_kbps, &self.audio_bitrate);
        let srv = &mut first.server;
        set(&mut srv.host, &self.host);
        set(&mut srv.port, &self.port);
        set(&mut srv.mount, &self.mount);
        set(&mut srv.username, &self.user);
        if self.tls {
            srv.tls = true;
        }
        if self.no_tls {
            srv.tls = false;
        }
        if self.per_user_mount {
            srv.mount_per_user = true;
        }
        if let Some(sha256) = self.trust_certificate {
            let (host, port) = (srv.host.trim().to_string(), srv.port.min(u16::MAX as u32) as u16);
            s.trust_certificate(&host, port, sha256);
        }
        let info = &mut s.stream;
        set(&mut info.name, &self.name);
        set(&mut info.description, &self.description);
        set(&mut info.genre, &self.genre);
        set(&mut info.url, &self.url);
        if self.public {
            info.public = true;
        }
        let enc = &mut s.encoding;
        set(&mut enc.video_bitrate_kbps, &self.video_bitrate);
        set(&mut enc.width, &self.width);
        set(&mut enc.height, &self.height);
        set(&mut enc.fps, &self.fps);
        if need_password {
            let several = s.destinations.len() > 1;
            for (i, d) in s.destinations.iter_mut().enumerate() {
                if d.enabled {
                    let label = several.then(|| d.label());
                    d.server.password = self.password(i, &d.id, label.as_deref())?;
                }
            }
        }
        Ok(s)
    }

    /// The password of destination `index` (0-based); `label` names it when there are several.
    fn password(&self, index: usize, id: &str, label: Option<&str>) -> Result<Secret, String> {
        if self.saved_password {
            let dir = SavedPassword::app_dir(&dirs::data_dir().unwrap_or_default());
            return SavedPassword::for_destination(&dir, id)
                .require()
                .map_err(|e| e.to_string());
        }
        if let Some(path) = self.password_file.get(index) {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "The password file {} could not be read: {}.",
                    path.display(),
                    icecream_engine::plain_io_reason(&e)
                )
            })?;
            return Ok(Secret::new(text.lines().next().unwrap_or("")));
        }
        let variable = match index {
            0 => "ICECREAM_PASSWORD".to_string(),
            n => format!("ICECREAM_PASSWORD_{}", n + 1),
        };
        if let Ok(p) = std::env::var(&variable) {
            return Ok(Secret::new(p));
        }
        if index == 0 {
            if let Ok(p) = std::env::var("ICECREAM_PASSWORD_1") {
                return Ok(Secret::new(p));
            }
        }
        let whose = label.map(|l| format!(" for {l}")).unwrap_or_default();
        if std::io::stdin().is_terminal() {
            let p = rpassword::prompt_password(format!("Icecast source password{whose}: "))
                .map_err(|e| format!("The password could not be read: {e}."))?;
            return Ok(Secret::new(p));
        }
        Err(format!(
            "No password given{whose}. Set {variable}, use --password-file FILE, or run in a terminal to be asked."
        ))
    }
}

fn set<T: Clone>(field: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *field = v.clone();
    }
}

fn checked(server: &ServerArgs) -> Result<Settings, String> {
    let s = server.settings(true)?;
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The platform verifier logs each refused certificate as an error in rustls' debug form;
    // the sentence Icecream prints says the same in words, so it speaks only at -vv.
    let level = match cli.verbose {
        0 => "warn,rustls_platform_verifier=off",
        1 => "info,rustls_platform_verifier=off",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
    let result = match cli.command {
        Command::Stream(args) => stream(args).await,
        Command::TestConnection(server) => test_connection(server).await,
        Command::Metadata { server, title } => metadata(server, title).await,
        Command::Settings { server, save } => show_settings(server, save),
        Command::Try {
            input,
            format,
            fast,
            once,
        } => try_here(input, format, fast, once).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("icecream: {msg}");
            ExitCode::FAILURE
        }
    }
}

async fn test_connection(server: ServerArgs) -> Result<(), String> {
    let s = checked(&server)?;
    let mut passed = true;
    for (_, d) in s.enabled() {
        let target = Target::new(&s, d);
        match s.destinations.len() {
            1 => println!("Testing {} …", target.listen_url()),
            _ => println!("Testing {} ({}) …", d.label(), target.listen_url()),
        }
        let checks = icecast::test_connection(&target, &StreamHeaders::new(&s.stream, d)).await;
        for c in &checks {
            let mark = match c.ok {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "–",
            };
            println!("{mark} {}", c.message);
            if let Some(offer) = &c.certificate {
                println!("  {}", trust_hint(offer));
            }
        }
        passed &= checks.iter().all(|c| c.ok == Some(true));
    }
    if passed {
        Ok(())
    } else {
        Err("the connection test did not pass.".into())
    }
}

/// How to go on past a certificate the person has checked.
fn trust_hint(offer: &icecream_engine::tls::CertificateOffer) -> String {
    format!(
        "If it is the right one, trust it: add --trust-certificate {} (kept in the settings file with --save).",
        offer.sha256
    )
}

async fn metadata(server: ServerArgs, title: String) -> Result<(), String> {
    let s = checked(&server)?;
    if title.chars().any(char::is_control) {
        return Err("The title may not contain line breaks or control characters.".into());
    }
    let titled = icecream_engine::titles::set_everywhere(&s, &title).await?;
    println!("Now playing: {title}");
    if let Some(advice) = titled.advice() {
        eprintln!("icecream: note: {advice}");
    }
    Ok(())
}

fn show_settings(server: ServerArgs, save: Option<PathBuf>) -> Result<(), String> {
    let s = server.settings(false)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&s).expect("settings serialize")
    );
    if let Some(path) = save {
        s.save(&path).map_err(|e| e.to_string())?;
        eprintln!("Saved to {}.", path.display());
    }
    // The password is checked when it is needed, not here.
    let mut probe = s.clone();
    for d in &mut probe.destinations {
        d.server.password = Secret::new("-");
    }
    probe.validate().map_err(|e| e.to_string())
}

async fn try_here(input: PathBuf, format: MountFormat, fast: bool, once: bool) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("icecream-try-{}", std::process::id()));
    let opts = icecream_engine::LocalOptions {
        utf8_by_default: true,
        ..Default::default()
    };
    let server = icecream_engine::LocalIcecast::start(&dir, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let mut s = server.settings(&format!("/live.{}", format.extension()), format);
    s.stream.name = "Icecream demo".into();
    eprintln!(
        "A private Icecast runs at http://127.0.0.1:{}/ — open {} in VLC or a browser.",
        server.port,
        Target::from_settings(&s).listen_url()
    );
    let looped = match once {
        true => None,
        false => match looped_recording(&input) {
            Ok(l) => {
                eprintln!("The recording plays over and over; press Ctrl-C to stop.");
                Some(l)
            }
            Err(why) => {
                eprintln!("The recording plays once: {why}.");
                None
            }
        },
    };
    let source = match looped {
        Some(l) => Source::Looped(Box::new(l)),
        None => Source::open(&input)?,
    };
    let result = stream_from(s, source, fast, None, None).await;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn stream(args: StreamArgs) -> Result<(), String> {
    let s = checked(&args.server)?;
    stream_with(s, &args.input, args.fast, args.ffmpeg, args.record).await
}

/// The recording at `path` (a WebM file or a chunk folder) ready to loop, or why it cannot.
fn looped_recording(path: &std::path::Path) -> Result<input::Looped, String> {
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

async fn stream_with(
    s: Settings,
    input: &std::path::Path,
    fast: bool,
    ffmpeg: Option<PathBuf>,
    record: Option<PathBuf>,
) -> Result<(), String> {
    stream_from(s, Source::open(input)?, fast, ffmpeg, record).await
}

async fn stream_from(
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
    opts.realtime_input = matches!(source, Source::File(_) | Source::Looped(_)) && !fast;
    opts.record_to = record;
    let session = Session::start(s, opts).map_err(|e| e.to_string())?;
    eprintln!("Going live at {} …", session.listen_url);
    let printer = tokio::spawn(print_status(session.status()));

    let mut status = session.status();
    let failed = async move {
        let _ = status.wait_for(|s| s.state.is_final()).await;
    };
    let fed = async {
        match &source {
            Source::Chunks(entries) => input::replay_chunks(&session, entries, !fast, |_| {}).await,
            Source::File(path) => {
                let f = tokio::fs::File::open(path).await.map_err(|e| InputError::Read {
                    path: path.clone(),
                    reason: icecream_engine::plain_io_reason(&e),
                })?;
                input::pump_reader(&session, f, path).await
            }
            Source::Stdin => {
                input::pump_reader(&session, tokio::io::stdin(), "standard input".as_ref()).await
            }
            Source::Looped(looped) => input::push_looped(&session, looped).await,
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
    .map(|summary| eprintln!("Stopped. {}", summary.delivery()))
    .and_then(|()| match missed.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "not every destination got the broadcast.\n{}",
            missed.join("\n")
        )),
    })
}

enum Source {
    Chunks(Vec<input::ChunkEntry>),
    File(PathBuf),
    Stdin,
    /// A recording played over and over until Ctrl-C.
    Looped(Box<input::Looped>),
}

impl Source {
    fn open(path: &std::path::Path) -> Result<Source, String> {
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
async fn shutdown_signal() {
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

/// The broadcast's line, then one per destination when there are several.
fn status_lines(status: &icecream_engine::Status) -> Vec<String> {
    let mut lines = vec![status.line()];
    if status.destinations.len() > 1 {
        for d in &status.destinations {
            lines.push(format!("  {}: {}", d.name, d.status.line()));
        }
    }
    lines
}

/// On a terminal: one line, rewritten every second. Elsewhere (logs, CI): one line per state change.
/// Without a terminal (a log, a pipe), a status line is written when the state changes and every
/// so often while it stays, so a log shows the broadcast going on.
const LOG_EVERY: Duration = Duration::from_secs(10);

async fn print_status(mut rx: tokio::sync::watch::Receiver<icecream_engine::Status>) {
    let tty = std::io::stderr().is_terminal();
    let mut last_state = None;
    let mut shown = 0;
    let mut printed = (std::time::Instant::now(), String::new());
    loop {
        let status = rx.borrow_and_update().clone();
        let states: Vec<State> = std::iter::once(status.state.clone())
            .chain(status.destinations.iter().map(|d| d.status.state.clone()))
            .collect();
        let changed = last_state.as_ref() != Some(&states);
        let lines = status_lines(&status);
        if tty {
            // Back over the lines written last time, then the new ones.
            let up = match shown {
                0 | 1 => "\r".to_string(),
                n => format!("\x1b[{}F", n - 1),
            };
            eprint!("{up}\x1b[J{}", lines.join("\n"));
            shown = lines.len();
        } else {
            // A change that does not show in the lines (the destinations' list filled in while
            // connecting) is not written twice.
            let text = lines.join("\n");
            if (changed && text != printed.1) || printed.0.elapsed() >= LOG_EVERY {
                eprintln!("{text}");
                printed = (std::time::Instant::now(), text);
            }
        }
        last_state = Some(states);
        if status.state.is_final() {
            if tty {
                eprintln!();
            }
            return;
        }
        if tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            return;
        }
    }
}
