//! What can end a broadcast, in words a broadcaster can act on.

use crate::icecast::IcecastError;
use crate::media::MediaError;
use crate::settings::Invalid;
use crate::transcode::FfmpegError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Settings(#[from] Invalid),
    #[error(transparent)]
    Ffmpeg(#[from] FfmpegError),
    #[error(transparent)]
    Icecast(#[from] IcecastError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("The broadcast has already ended.")]
    Ended,
    #[error("That destination is not on air in this broadcast.")]
    NotOnAir,
    #[error("That destination is already on air.")]
    AlreadyOnAir,
    #[error("That destination was switched off when the broadcast started: switch it on in Settings and go live again to send to it.")]
    SwitchedOff,
    #[error("The broadcast is still starting: try again in a moment.")]
    StillStarting,
}
