//! The settings file: read, upgraded from older versions, written whole, never with the password.

use std::path::{Path, PathBuf};

use super::model::{Settings, SETTINGS_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    #[error("The settings file {path} could not be read: {reason}.")]
    Read { path: PathBuf, reason: String },
    #[error(
        "The settings file {path} is damaged ({reason}). It was left untouched; fix it or remove it \
         to start from defaults."
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("The settings file {path} was written by a newer Icecream (version {found}). Update Icecream.")]
    TooNew { path: PathBuf, found: u32 },
    #[error("The settings could not be saved to {path}: {reason}.")]
    Write { path: PathBuf, reason: String },
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, SettingsFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsFileError::Read {
            path: path.to_owned(),
            reason: crate::plain_io_reason(&e),
        })?;
        Settings::from_json(&text).map_err(|e| match e {
            FromJsonError::TooNew(found) => SettingsFileError::TooNew {
                path: path.to_owned(),
                found,
            },
            FromJsonError::Corrupt(reason) => SettingsFileError::Corrupt {
                path: path.to_owned(),
                reason,
            },
        })
    }

    /// Writes through a temporary file and a rename, so a crash mid-write never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), SettingsFileError> {
        let err = |e: std::io::Error| SettingsFileError::Write {
            path: path.to_owned(),
            reason: crate::plain_io_reason(&e),
        };
        let text = serde_json::to_string_pretty(self).expect("settings always serialize");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    pub fn from_json(text: &str) -> Result<Settings, FromJsonError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| FromJsonError::Corrupt(e.to_string()))?;
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(1) as u32;
        if version > SETTINGS_VERSION {
            return Err(FromJsonError::TooNew(version));
        }
        let value = if version < 2 {
            one_destination(value)
        } else {
            value
        };
        let mut settings: Settings =
            serde_json::from_value(value).map_err(|e| FromJsonError::Corrupt(e.to_string()))?;
        settings.version = SETTINGS_VERSION;
        Ok(settings)
    }
}

/// A version 1 file had one server, and its mount format and audio bitrate in `encoding`: they
/// become a list of one destination.
fn one_destination(mut value: serde_json::Value) -> serde_json::Value {
    let Some(obj) = value.as_object_mut() else {
        return value;
    };
    let mut destination = serde_json::Map::new();
    if let Some(server) = obj.remove("server") {
        destination.insert("server".into(), server);
    }
    if let Some(encoding) = obj.get_mut("encoding").and_then(|e| e.as_object_mut()) {
        for key in ["format", "audio_bitrate_kbps"] {
            if let Some(v) = encoding.remove(key) {
                destination.insert(key.into(), v);
            }
        }
    }
    obj.insert(
        "destinations".into(),
        serde_json::Value::Array(vec![destination.into()]),
    );
    value
}

#[derive(Debug, PartialEq, Eq)]
pub enum FromJsonError {
    TooNew(u32),
    Corrupt(String),
}
