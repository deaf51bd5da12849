//! What a broadcast needs to know: the model, its validation, and the file it is kept in.
//!
//! The settings file never holds the password: it is kept apart (environment, password file, prompt,
//! or the desktop app's protected store) so that a settings file can be shared or logged safely.

mod file;
mod model;
#[cfg(test)]
mod tests;
mod validate;

pub use file::{FromJsonError, SettingsFileError};
pub use model::{
    Destination, Encode, EncodingSettings, RecordingSettings, ServerSettings, Settings, StreamInfo,
    SETTINGS_VERSION,
};
pub use validate::{Invalid, Problem, AUDIO_KBPS, FPS, HEIGHT, VIDEO_KBPS, WIDTH};
