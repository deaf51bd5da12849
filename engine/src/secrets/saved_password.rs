//! The source password the desktop app saved, where a desktop keeps secrets: the operating
//! system's keyring (Secret Service on Linux through its pure-Rust D-Bus client, Keychain on macOS,
//! Credential Manager on Windows; the `keyring` crate, rather than three platform APIs of our own).
//! Where no keyring service runs (a bare window manager, a container), the password stays in a
//! file only its owner can read, and Settings says so. A password file from before the keyring
//! moves into it and is deleted.
//!
//! The CLI reads the same entry with `--saved-password`.

use std::path::{Path, PathBuf};

use crate::secrets::password_file::{PasswordFile, PasswordFileError};
use crate::Secret;

/// The keyring entry's service: the app's identifier, as a keyring manager lists it.
pub const KEYRING_SERVICE: &str = "org.icecream.desktop";
/// The keyring entry's account: the first destination's source password (the only one before
/// destinations); each other destination's is this, a colon and its id.
pub const KEYRING_ACCOUNT: &str = "icecast-source-password";

/// Where the saved password is kept, as Settings tells the person.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kept {
    Keyring,
    File { path: String },
}

impl Kept {
    pub fn describe(&self) -> String {
        match self {
            Kept::Keyring => "The password is kept in this computer's keyring.".into(),
            Kept::File { path } => format!(
                "No keyring service runs on this computer, so the password is kept in {path}, a file \
                 only you can read."
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SavedPasswordError {
    #[error(transparent)]
    File(#[from] PasswordFileError),
    #[error(
        "No password is saved in this computer's keyring. Save one in the Icecream app's Settings, or \
         give it with ICECREAM_PASSWORD or --password-file."
    )]
    NoneSaved,
}

pub struct SavedPassword {
    file: PasswordFile,
    account: String,
}

impl SavedPassword {
    /// `fallback` is the private file used where no keyring runs (and read once to migrate).
    pub fn new(fallback: impl Into<PathBuf>) -> SavedPassword {
        SavedPassword {
            file: PasswordFile::new(fallback),
            account: KEYRING_ACCOUNT.into(),
        }
    }

    /// The password of the destination with this id (settings::Destination::id; empty for the
    /// first one an older Icecream had), with its fallback file in `dir`.
    pub fn for_destination(dir: &Path, id: &str) -> SavedPassword {
        match id {
            "" => SavedPassword::new(dir.join("password")),
            id => SavedPassword {
                file: PasswordFile::new(dir.join(format!("password-{id}"))),
                account: format!("{KEYRING_ACCOUNT}:{id}"),
            },
        }
    }

    /// The desktop app's folder, where the CLI looks for its fallback files (`--saved-password`).
    pub fn app_dir(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYRING_SERVICE)
    }

    /// The desktop app's fallback file, where the CLI looks for it (`--saved-password`).
    pub fn app_file(data_dir: &Path) -> PathBuf {
        Self::app_dir(data_dir).join("password")
    }

    /// The keyring entry, when a keyring service runs.
    fn entry(&self) -> Option<keyring::Entry> {
        if let Err(e) = keyring::Entry::store_status() {
            // Once: every settings load asks, which filled the log with the same line.
            static TOLD: std::sync::Once = std::sync::Once::new();
            TOLD.call_once(|| log::info!("no keyring service: the password is kept in a private file ({e})"));
            return None;
        }
        keyring::Entry::new(KEYRING_SERVICE, &self.account)
            .map_err(|e| log::warn!("the keyring entry could not be made: {e}"))
            .ok()
    }

    /// Forgets the password (a destination that was removed), from the keyring and the file.
    pub fn delete(&self) -> Result<(), SavedPasswordError> {
        if let Some(entry) = self.entry() {
            match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                Err(e) => log::warn!("the keyring kept a removed destination's password ({e})"),
            }
        }
        Ok(self.file.clear()?)
    }

    /// The saved password, or None. Found in the file while a keyring runs, it moves there.
    pub fn load(&self) -> Result<Option<Secret>, SavedPasswordError> {
        let Some(entry) = self.entry() else {
            return Ok(self.file.load()?);
        };
        match entry.get_password() {
            Ok(p) => return Ok(Some(Secret::new(p))),
            Err(keyring::Error::NoEntry) => {}
            Err(e) => {
                log::warn!("the keyring could not be read ({e}); trying the private file");
                return Ok(self.file.load()?);
            }
        }
        let Some(old) = self.file.load()? else {
            return Ok(None);
        };
        match entry.set_password(old.expose()) {
            Ok(()) => {
                self.file.clear()?;
                log::info!("the saved password moved from its file into the keyring");
            }
            Err(e) => log::warn!("the password could not move into the keyring ({e}); it stays in its file"),
        }
        Ok(Some(old))
    }

    /// Keeps `password` in the keyring, else in the private file; an older copy in the file goes.
    pub fn save(&self, password: &Secret) -> Result<Kept, SavedPasswordError> {
        if let Some(entry) = self.entry() {
            match entry.set_password(password.expose()) {
                Ok(()) => {
                    self.file.clear()?;
                    return Ok(Kept::Keyring);
                }
                Err(e) => log::warn!("the keyring refused the password ({e}); keeping it in a private file"),
            }
        }
        self.file.save(password)?;
        Ok(self.kept_in_file())
    }

    /// Where the password is (or would be) kept now.
    pub fn kept(&self) -> Kept {
        match self.entry().map(|e| e.get_password()) {
            Some(Ok(_) | Err(keyring::Error::NoEntry)) => Kept::Keyring,
            _ => self.kept_in_file(),
        }
    }

    fn kept_in_file(&self) -> Kept {
        Kept::File {
            path: self.file.path().display().to_string(),
        }
    }

    /// For the CLI: the app's saved password, or a sentence saying there is none.
    pub fn require(&self) -> Result<Secret, SavedPasswordError> {
        self.load()?.ok_or(SavedPasswordError::NoneSaved)
    }
}
