//! One sound input as people and settings know it.

/// One input, as the app's list and `icecream devices` show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct InputDevice {
    /// Stable across restarts and replugging (PulseAudio's source name, WASAPI's endpoint id,
    /// CoreAudio's UID): what settings keep.
    pub id: String,
    /// What the system calls it ("Built-in Audio Analog Stereo", "Monitor of …").
    pub name: String,
    pub is_default: bool,
    /// 1 or 2: what is captured (a device with more gives its first two).
    pub channels: u16,
}
