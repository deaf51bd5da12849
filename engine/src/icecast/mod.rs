//! The Icecast source protocol (2.4+, KH, Liquidsoap's harbor): the source PUT and how servers answer
//! it, Test connection, now-playing titles, the public status page, and the private server.
//!
//! ```text
//! Target + StreamHeaders ─► connect_source (login: Answers) ─► SourceConnection ─► the mount
//! ```

mod check;
mod error;
pub mod local;
pub mod login;
mod metadata;
pub mod share;
mod source;
mod status_page;
mod target;
pub mod titles;

pub use check::{test_connection, Check};
pub use error::IcecastError;
pub use metadata::{set_now_playing, update_metadata, NowPlaying};
pub use source::{connect_source, SourceConnection, LOGIN_SETTLE, WRITE_TIMEOUT};
pub use status_page::{fetch_status, mount_status, MountStatus};
pub use target::{header_value_bytes, StreamHeaders, Target};
