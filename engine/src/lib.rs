//! Icecream's engine: everything between the recorder's chunks and an Icecast mount, with no UI
//! dependency. The desktop app and the `icecream` CLI are both thin layers over it.
//!
//! A chunk's way, by folder: `input/` (chunks from the page or a file) ─► `session/` (one broadcast:
//! intake and recording, then `media/`'s own containers or `transcode/`'s ffmpeg, then an
//! `session/uplink/` per destination) ─► `icecast/` (the source protocol) ─► `net/` (TCP, TLS and
//! trust). Beside the path: `settings/`, `secrets/`, and `status` (what the app and CLI show).

pub mod capture;
pub mod icecast;
pub mod input;
pub mod media;
pub mod net;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod status;
pub mod transcode;

pub use icecast::local::{LocalIcecast, LocalIcecastError, LocalOptions};
pub use icecast::share::Share;
pub use icecast::{IcecastError, StreamHeaders, Target};
pub use media::format::{Container, MountFormat};
pub use net::NetError;
pub use secrets::{Kept, PasswordFile, PasswordFileError, SavedPassword, SavedPasswordError, Secret};
pub use session::{Recording, RecordingError, Session, SessionError, SessionOptions, Summary};
pub use settings::Settings;
pub use status::{State, Status};
pub use transcode::{Ffmpeg, FfmpegError};
pub const USER_AGENT: &str = concat!("Icecream/", env!("CARGO_PKG_VERSION"));

/// An I/O error in plain words, without the "(os error N)" suffix people can't act on.
pub fn plain_io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "it does not exist".into(),
        PermissionDenied => "permission denied".into(),
        ConnectionReset | ConnectionAborted | BrokenPipe => "the other side closed the connection".into(),
        TimedOut => "it timed out".into(),
        StorageFull => "the disk is full".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
