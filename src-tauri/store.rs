//! Where the app keeps its settings: the engine's `Settings` in a tauri-plugin-store file, and the
//! password apart from them in the OS keyring, or a file only the user can read where no keyring
//! runs (never in the store, never sent back to the page; see the engine's `saved_password`). A
//! damaged settings file is kept aside under a new name, never overwritten.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use icecream_engine::settings::Destination;
use icecream_engine::settings::FromJsonError;
use icecream_engine::{Kept, SavedPassword, Secret, Settings};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_store::{Store, StoreExt};

const STORE_FILE: &str = "settings.json";
const KEY: &str = "settings";

pub struct AppStore {
    store: Arc<Store<Wry>>,
    dir: PathBuf,
    /// Said once to the person at start, e.g. that a damaged file was kept aside.
    pub notice: Option<String>,
}

impl AppStore {
    pub fn open(app: &AppHandle) -> Result<AppStore, Box<dyn std::error::Error>> {
        let dir = app.path().app_data_dir()?;
        std::fs::create_dir_all(&dir)?;
        let notice = set_aside_if_damaged(&dir.join(STORE_FILE));
        let store = app.store(STORE_FILE)?;
        Ok(AppStore { store, dir, notice })
    }

    /// Whether a server has ever been saved (the first run offers "Try it on this computer").
    pub fn configured(&self) -> bool {
        self.store.get(KEY).is_some()
    }

    /// The saved settings with the saved password.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut settings = self.without_passwords()?;
        for d in &mut settings.destinations {
            if let Some(pw) = self.password(d).load().map_err(|e| e.to_string())? {
                d.server.password = pw;
            }
        }
        Ok(settings)
    }

    /// The saved settings alone, for what needs no password (the sound input): no keyring asked.
    pub fn without_passwords(&self) -> Result<Settings, String> {
        Ok(match self.store.get(KEY) {
            // Checked at start (set_aside_if_damaged), so this only fails if the file changed since.
            Some(v) => Settings::from_json(&v.to_string()).map_err(|_| {
                "The saved settings could not be read. Open Settings, check every field and save again."
                    .to_string()
            })?,
            None => Settings::default(),
        })
    }

    /// Where a destination's password is kept: its own keyring entry (or private file).
    fn password(&self, d: &Destination) -> SavedPassword {
        SavedPassword::for_destination(&self.dir, &d.id)
    }

    /// Whether each destination has a saved password, in the settings' order.
    pub fn has_passwords(&self, settings: &Settings) -> Vec<bool> {
        (settings.destinations.iter())
            .map(|d| matches!(self.password(d).load(), Ok(Some(_))))
            .collect()
    }

    /// Where the passwords are kept: the keyring, or private files where none runs.
    pub fn password_kept(&self) -> Kept {
        SavedPassword::for_destination(&self.dir, "").kept()
    }

    /// Saves the settings; each destination's password only when a new one is given (`passwords`
    /// in the settings' order). The passwords of destinations no longer in the list are deleted.
    pub fn save(&self, settings: &Settings, passwords: &[Option<Secret>]) -> Result<(), String> {
        for (d, pw) in settings.destinations.iter().zip(passwords) {
            if let Some(pw) = pw {
                self.password(d).save(pw).map_err(|e| e.to_string())?;
            }
        }
        if let Some(Ok(before)) = self.store.get(KEY).map(|v| Settings::from_json(&v.to_string())) {
            for gone in before
                .destinations
                .iter()
                .filter(|b| settings.destinations.iter().all(|d| d.id != b.id))
            {
                if let Err(e) = self.password(gone).delete() {
                    log::warn!("a removed destination's password could not be deleted: {e}");
                }
            }
        }
        let value = serde_json::to_value(settings).expect("settings always serialize");
        self.store.set(KEY, value);
        self.store.save().map_err(|e| {
            format!(
                "The settings could not be saved in {}: {e}. Check that the folder is writable.",
                self.dir.display()
            )
        })
    }

    /// The private server's own folder: config, passwords and logs.
    pub fn local_server_dir(&self) -> PathBuf {
        self.dir.join("local-icecast")
    }
}

/// Moves a settings file that cannot be read as settings out of the way, so the app starts with
/// defaults and the person's file is still there to recover from.
fn set_aside_if_damaged(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let problem = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Err(e) => Some(format!("it is not valid JSON ({e})")),
        Ok(doc) => match doc.get(KEY).map(|v| Settings::from_json(&v.to_string())) {
            Some(Err(FromJsonError::Corrupt(reason))) => Some(reason),
            Some(Err(FromJsonError::TooNew(v))) => {
                Some(format!("it was written by a newer Icecream (version {v})"))
            }
            _ if !doc.is_object() => Some("it does not hold settings".into()),
            _ => None,
        },
    }?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let aside = path.with_file_name(format!("settings.damaged-{stamp}.json"));
    match std::fs::rename(path, &aside) {
        Ok(()) => Some(format!(
            "Your settings file could not be read ({problem}), so Icecream started with default settings. \
             The old file was kept as {}.",
            aside.display()
        )),
        Err(e) => Some(format!(
            "Your settings file {} could not be read ({problem}) nor moved aside ({}).",
            path.display(),
            icecream_engine::plain_io_reason(&e)
        )),
    }
}
