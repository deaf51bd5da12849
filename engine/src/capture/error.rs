//! Why sound could not be captured, in words a broadcaster can act on.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    #[error("This computer lists no sound inputs. Plug in a microphone or sound card, or check that the sound system (PulseAudio or PipeWire on Linux) is running.")]
    NoInputs,
    #[error("There is no sound input called \u{201c}{wanted}\u{201d}. The inputs here are: {known}. Run `icecream devices` to see them again.")]
    NoSuchInput { wanted: String, known: String },
    #[error("This computer has no default sound input. Choose one by name (`icecream devices` lists them).")]
    NoDefault,
    #[error("The sound input \u{201c}{name}\u{201d} could not be opened: {reason}. Check that no other program holds it, or choose another.")]
    CannotOpen { name: String, reason: String },
    #[error("No sound server answers on this computer (Icecream uses PulseAudio or PipeWire's PulseAudio service). Start it, or log in to a desktop session that has one.")]
    NoSoundServer,
    #[error("The sound system could not be asked for its inputs: {reason}.")]
    System { reason: String },
}
