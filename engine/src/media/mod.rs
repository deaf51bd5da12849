//! Containers: reading the recorder's live WebM and writing the mount's WebM or Ogg Opus, block by
//! block, so that the mounts that need no transcoding need no ffmpeg either.
//!
//! ```text
//! recorder WebM ─► WebmReader ─► Block ─┬► WebmWriter   (WebM video / WebM audio mounts)
//!                                       └► OggOpusWriter (Ogg Opus mounts)
//! ```

pub mod audio_mka;
pub mod ebml;
mod error;
pub mod fmp4;
pub mod format;
pub mod live_matroska;
pub mod ogg_opus;
pub mod remux;
pub mod webm_reader;
pub mod webm_writer;

pub use error::MediaError;
pub use remux::{Piece, Remux};
