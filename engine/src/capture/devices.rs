//! The sound inputs this computer has, by the names people know them by, and the one asked for.
//! On Linux the sound server's sources (PulseAudio, or PipeWire serving its protocol) through
//! libpulse, monitors of outputs included; where no server runs, and on Windows and macOS, cpal's
//! host (ALSA, WASAPI, CoreAudio).

use cpal::traits::{DeviceTrait, HostTrait};

pub use super::input_device::InputDevice;
use super::CaptureError;

/// Where inputs are found and opened: the sound server, or cpal's host.
pub(super) enum System {
    #[cfg(target_os = "linux")]
    Pulse(super::pulse_sources::Sources),
    Cpal(cpal::Host),
}

impl System {
    /// The sound server where one answers (Linux), else cpal's default host.
    pub fn open() -> System {
        #[cfg(target_os = "linux")]
        if let Ok(sources) = super::pulse_sources::Sources::connect() {
            return System::Pulse(sources);
        }
        System::Cpal(cpal::default_host())
    }

    /// The sound system's name, for people ("PulseAudio", "ALSA", "WASAPI", "CoreAudio").
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(target_os = "linux")]
            System::Pulse(_) => "PulseAudio",
            System::Cpal(host) => host.id().name(),
        }
    }

    /// Every input, the default first.
    pub fn inputs(&mut self) -> Result<Vec<InputDevice>, CaptureError> {
        match self {
            #[cfg(target_os = "linux")]
            System::Pulse(sources) => {
                // A sound server restarted since: one new connection, then the answer.
                sources.list().or_else(|_| {
                    *sources = super::pulse_sources::Sources::connect()?;
                    sources.list()
                })
            }
            System::Cpal(host) => Ok(cpal_inputs(host)?.into_iter().map(|(_, d)| d).collect()),
        }
    }

    /// Whether the input with this id is still there. PulseAudio moves a recording whose source
    /// went away to another one without a word to the client: a broadcast that asked for one
    /// microphone would go on from another, so the input's thread asks.
    pub fn present(&mut self, id: &str) -> bool {
        self.inputs().is_ok_and(|all| all.iter().any(|d| d.id == id))
    }

    /// The input `wanted` names (its id, or its name in any case); the system's default for None
    /// or "default". With cpal, its device to open.
    pub fn find(
        &mut self,
        wanted: Option<&str>,
    ) -> Result<(Option<cpal::Device>, InputDevice), CaptureError> {
        match self {
            #[cfg(target_os = "linux")]
            System::Pulse(_) => {
                let mut all = self.inputs()?;
                let at = pick(&all, wanted)?;
                Ok((None, all.swap_remove(at)))
            }
            System::Cpal(host) => {
                let mut all = cpal_inputs(host)?;
                let listed: Vec<InputDevice> = all.iter().map(|(_, d)| d.clone()).collect();
                let at = pick(&listed, wanted)?;
                let (device, info) = all.swap_remove(at);
                Ok((Some(device), info))
            }
        }
    }
}

/// Every input, the default first.
pub fn inputs() -> Result<Vec<InputDevice>, CaptureError> {
    System::open().inputs()
}

/// The sound system the app captures through, by name, and its inputs, the default first: one
/// connection for both. On Linux only a sound server will do: without one, cpal's raw ALSA devices
/// are either held by the desktop or give silence.
pub fn system_inputs() -> Result<(&'static str, Vec<InputDevice>), CaptureError> {
    match System::open() {
        #[cfg(target_os = "linux")]
        System::Cpal(_) => Err(CaptureError::NoSoundServer),
        mut system => Ok((system.name(), system.inputs()?)),
    }
}

/// Which of `all` `wanted` names: its id, else its name in any case; the default for None or
/// "default".
fn pick(all: &[InputDevice], wanted: Option<&str>) -> Result<usize, CaptureError> {
    if all.is_empty() {
        return Err(CaptureError::NoInputs);
    }
    let wanted = wanted.filter(|w| !w.is_empty() && !w.eq_ignore_ascii_case("default"));
    let Some(wanted) = wanted else {
        return all
            .iter()
            .position(|d| d.is_default)
            .ok_or(CaptureError::NoDefault);
    };
    (all.iter().position(|d| d.id == wanted))
        .or_else(|| all.iter().position(|d| d.name.eq_ignore_ascii_case(wanted)))
        .ok_or_else(|| CaptureError::NoSuchInput {
            wanted: wanted.to_string(),
            known: all
                .iter()
                .map(|d| format!("\u{201c}{}\u{201d} ({})", d.name, d.id))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn cpal_inputs(host: &cpal::Host) -> Result<Vec<(cpal::Device, InputDevice)>, CaptureError> {
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.id().to_string());
    let devices = host.input_devices().map_err(|e| CaptureError::System {
        reason: e.to_string(),
    })?;
    let mut list: Vec<(cpal::Device, InputDevice)> = devices
        .filter_map(|d| describe(&d, default_id.as_deref()).map(|i| (d, i)))
        .collect();
    list.sort_by_key(|(_, d)| !d.is_default);
    Ok(list)
}

fn describe(d: &cpal::Device, default_id: Option<&str>) -> Option<InputDevice> {
    let id = d.id().ok()?.id().to_string();
    let name = d
        .description()
        .map(|x| x.name().to_string())
        .unwrap_or_else(|_| id.clone());
    let channels = d.default_input_config().ok()?.channels().clamp(1, 2);
    Some(InputDevice {
        is_default: default_id == Some(id.as_str()),
        id,
        name,
        channels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, name: &str, is_default: bool) -> InputDevice {
        InputDevice {
            id: id.into(),
            name: name.into(),
            is_default,
            channels: 2,
        }
    }

    #[test]
    fn an_input_is_found_by_id_then_by_name_and_the_default_by_none() {
        let all = [
            input("mic", "USB Microphone", false),
            input("desk", "Desk Mixer", true),
        ];
        assert_eq!(pick(&all, Some("mic")), Ok(0));
        assert_eq!(pick(&all, Some("desk mixer")), Ok(1));
        assert_eq!(pick(&all, None), Ok(1));
        assert_eq!(pick(&all, Some("Default")), Ok(1));
        let missing = pick(&all, Some("Studio")).unwrap_err().to_string();
        assert!(
            missing.contains("\u{201c}USB Microphone\u{201d} (mic)"),
            "{missing}"
        );
        assert_eq!(pick(&[], None), Err(CaptureError::NoInputs));
    }
}
