//! Sound from this computer's own inputs (a microphone, a mixer, what it plays), read at the
//! device's clock as 48 kHz float and pushed into a broadcast as PCM in Matroska: the stage
//! before the session's intake, beside `input/`'s files and chunks.
//!
//! ```text
//! system's audio thread ─► device (its own thread; reopens a lost input) ─► feed: 20 ms blocks,
//!   sample clock, dropouts, silence while away, levels ─► Session::push
//! ```

mod device;
mod devices;
mod dropouts;
mod error;
mod feed;
mod input_device;
mod level;
mod picture;
#[cfg(target_os = "linux")]
mod pulse;
#[cfg(target_os = "linux")]
mod pulse_sources;

pub use devices::system_inputs;
pub use devices::{inputs, InputDevice};
pub use error::CaptureError;
pub use feed::{Capture, CaptureStatus, CaptureStop, PictureInput};
pub use level::Level;
