//! Icecream's engine: everything between the recorder's chunks and an Icecast mount, with no UI
//! dependency. The desktop app and the `icecream` CLI are both thin layers over it.

pub mod ffmpeg;
pub mod fmp4;
pub mod format;
pub mod icecast;
pub mod input;
pub mod link;
pub mod local_icecast;
pub mod login;
pub mod media;
pub mod net;
mod outbox;
pub mod password_file;
pub mod recording;
pub mod saved_password;
pub mod secret;
pub mod session;
pub mod settings;
pub mod share;
pub mod status;
pub mod titles;
pub mod tls;

pub use ffmpeg::{Ffmpeg, FfmpegError};
pub use format::{Container, MountFormat};
pub use icecast::{IcecastError, StreamHeaders, Target};
pub use local_icecast::{LocalIcecast, LocalIcecastError, LocalOptions};
pub use password_file::{PasswordFile, PasswordFileError};
pub use recording::{Recording, RecordingError};
pub use saved_password::{Kept, SavedPassword, SavedPasswordError};
pub use secret::Secret;
pub use session::{Session, SessionError, SessionOptions, Summary};
pub use settings::Settings;
pub use share::Share;
pub use status::{State, Status};

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
