//! What can be wrong with a stream the engine reads itself, in words a broadcaster can act on.

/// What can be wrong with a stream the engine reads itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error(
        "The input is not a WebM or MP4 stream, so it cannot be broadcast. Use a camera or microphone \
         recording in WebM or MP4."
    )]
    NotMedia,
    #[error(
        "The recorder's stream is damaged and could not be read further ({0}). Go live again; if it \
         happens again, choose another capture method in Settings → Picture and sound."
    )]
    Damaged(&'static str),
    #[error(
        "The recorder's stream changed its tracks in the middle of the broadcast ({0}), which \
         listeners' players cannot follow. Go live again."
    )]
    TracksChanged(String),
    #[error(
        "The recorder's stream ended before any sound or picture arrived. Check that the camera and \
         microphone work, then go live again."
    )]
    NoMedia,
    #[error(
        "The camera and microphone gave nothing to send in {seconds} seconds, so the broadcast \
         stopped before it began. Check that they work and that no other program is using them, or \
         choose another capture method in Settings → Picture and sound, then go live again."
    )]
    NothingCaptured { seconds: u64 },
    #[error(
        "The sound could not be encoded as Opus ({0}). Go live again; if it happens again, choose \
         MP3 or Ogg FLAC for this mount."
    )]
    Encoder(String),
}
