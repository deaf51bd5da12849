//! One broadcast: recorder chunks in, the mount's stream made from them, each destination's mount out.
//!
//! ```text
//! push(chunk) ─► intake: recording, then bounded queue ─┬► passthrough: the engine's own WebM / Ogg Opus
//!                                                       │  (captured PCM: libopus first)
//!                                                       └► encoder: ffmpeg (restarted if it dies)
//!            ─► routes: one outbox per destination ─► uplink (PUT /mount, reconnect, drop when too slow)
//! ```

mod broadcast;
mod encoder;
mod error;
mod intake;
mod listeners;
mod options;
mod passthrough;
pub mod recording;
mod recording_marks;
mod routes;
mod stats;
pub mod uplink;

pub use broadcast::Session;
pub use error::SessionError;
pub use intake::ChunkSender;
pub use options::{SessionOptions, Summary, RECORDER_FIRST_BYTES};
pub use recording::{Recording, RecordingError};
