//! Transcoding for the mount formats the engine does not write itself (MP3, AAC, Ogg Vorbis, Ogg
//! FLAC): a supervised ffmpeg fed the recorder's stream on stdin, restarted if it dies.

pub mod ffmpeg;

pub use ffmpeg::{Ffmpeg, FfmpegError};
