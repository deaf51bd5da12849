//! Where the app keeps its settings: the engine's `Settings` in a tauri-plugin-store file, and the
//! password apart from them in the OS keyring, or a file only the user can read where no keyring
//! runs (never in the store, never sent back to the page; see the engine's `saved_password`). A
//! damaged settings file is kept aside under a new name, never overwritten.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use icecream_engine::settings::FromJsonError;
use icecream_engine::{Kept, SavedPassword, Secret, Settings};
use tauri::{AppHandle, Manager, Wry};
use tauri_plugin_store::{Store, StoreExt};

const STORE_FILE: &str = "settings.json";
const KEY: &str = "settings";

pub struct AppStore {
    store: Arc<Store<Wry>>,
    password: SavedPassword,
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
        Ok(AppStore {
            store,
            password: SavedPassword::new(dir.join("password")),
            dir,
            notice,
        })
    }

    /// Whether a server has ever been saved (the first run offers "Try it on this computer").
    pub fn configured(&self) -> bool {
        self.store.get(KEY).is_some()
    }

    /// The saved settings with the saved password.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut settings = match self.store.get(KEY) {
            // Checked at start (set_aside_if_damaged), so this only fails if the file changed since.
            Some(v) => Settings::from_json(&v.to_string()).map_err(|_| {
                "The saved settings could not be read. Open Settings, check every field and save again."
                    .to_string()
            })?,
            None => Settings::default(),
        };
        if let Some(pw) = self.password.load().map_err(|e| e.to_string())? {
            settings.first_mut().server.password = pw;
        }
        Ok(settings)
    }

    pub fn has_password(&self) -> bool {
        matches!(self.password.load(), Ok(Some(_)))
    }

    /// Where the password is kept: the keyring, or the private file where none runs.
    pub fn password_kept(&self) -> Kept {
        self.password.kept()
    }

    /// Saves the settings; the password only when a new one is given.
    pub fn save(&self, settings: &Settings, password: Option<&Secret>) -> Result<(), String> {
        if let Some(pw) = password {
            self.password.save(pw).map_err(|e| e.to_string())?;
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
