//! Encoding: ffmpeg for the mount formats the engine does not write itself (MP3, AAC, Ogg Vorbis,
//! Ogg FLAC; a supervised child fed the input on stdin, restarted if it dies), and libopus
//! in-process for the captured sound that WebM audio and Ogg Opus mounts carry.

pub mod ffmpeg;
pub mod opus;

pub use ffmpeg::{Ffmpeg, FfmpegError};
