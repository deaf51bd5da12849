//! `icecream`: the headless broadcaster, on the same engine as the desktop app.

mod args;
mod devices;
mod metadata;
mod settings;
mod status;
mod stream;
mod test_connection;
mod try_here;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use icecream_engine::MountFormat;

use args::{ServerArgs, StreamArgs};
use devices::devices;
use metadata::metadata;
use settings::show_settings;
use stream::stream;
use test_connection::test_connection;
use try_here::try_here;

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
    /// Go live: send a sound input (--device), a recording, standard input, or a folder of
    /// recorder chunks to the mount.
    Stream(StreamArgs),
    /// List this computer's sound inputs, for `stream --device`: microphones, sound cards, and the
    /// monitors of its outputs ("what this computer plays").
    Devices,
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

// One thread: a source client's work is a few small hops per 20 ms; waking a second worker for
// each cost a tenth of the capture's CPU (bench/sound.rs). Nothing here blocks the runtime.
#[tokio::main(flavor = "current_thread")]
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
        Command::Devices => devices(),
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
