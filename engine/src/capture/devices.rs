//! The sound inputs this computer has, by the names people know them by, and the one asked for.

use cpal::traits::{DeviceTrait, HostTrait};

use super::CaptureError;

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

/// Whether the input with this id is still there. PulseAudio moves a recording whose source went
/// away to another one without a word to the client: a broadcast that asked for one microphone
/// would go on from another, so the input's thread asks.
pub(super) fn present(host: &cpal::Host, id: &str) -> bool {
    host.input_devices()
        .map(|mut all| all.any(|d| d.id().is_ok_and(|i| i.id() == id)))
        .unwrap_or(false)
}

/// Every input, the default first.
pub fn inputs() -> Result<Vec<InputDevice>, CaptureError> {
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.id().to_string());
    let devices = host.input_devices().map_err(|e| CaptureError::System {
        reason: e.to_string(),
    })?;
    let mut list: Vec<InputDevice> = devices
        .filter_map(|d| describe(&d, default_id.as_deref()))
        .collect();
    list.sort_by_key(|d| !d.is_default);
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

/// The input `wanted` names (its id, or its name in any case); the system's default for None or
/// "default".
pub(super) fn find(
    host: &cpal::Host,
    wanted: Option<&str>,
) -> Result<(cpal::Device, InputDevice), CaptureError> {
    let wanted = wanted.filter(|w| !w.is_empty() && !w.eq_ignore_ascii_case("default"));
    let Some(wanted) = wanted else {
        let d = host.default_input_device().ok_or(CaptureError::NoDefault)?;
        let info = describe(&d, None).ok_or(CaptureError::NoDefault)?;
        return Ok((
            d,
            InputDevice {
                is_default: true,
                ..info
            },
        ));
    };
    let devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| CaptureError::System {
            reason: e.to_string(),
        })?
        .collect();
    let described: Vec<(cpal::Device, InputDevice)> = devices
        .into_iter()
        .filter_map(|d| describe(&d, None).map(|i| (d, i)))
        .collect();
    if described.is_empty() {
        return Err(CaptureError::NoInputs);
    }
    let pos = described.iter().position(|(_, i)| i.id == wanted).or_else(|| {
        described
            .iter()
            .position(|(_, i)| i.name.eq_ignore_ascii_case(wanted))
    });
    match pos {
        Some(p) => Ok(described.into_iter().nth(p).expect("found above")),
        None => Err(CaptureError::NoSuchInput {
            wanted: wanted.to_string(),
            known: described
                .iter()
                .map(|(_, i)| format!("\u{201c}{}\u{201d} ({})", i.name, i.id))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}
