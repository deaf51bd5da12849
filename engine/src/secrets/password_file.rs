//! The Icecast password kept apart from the settings, in a file only its owner can read: the
//! desktop app's store where no OS keyring is used, and the CLI's `--password-file`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Secret;

#[derive(Debug, thiserror::Error)]
pub enum PasswordFileError {
    #[error("The password could not be read from {path}: {reason}.")]
    Read { path: String, reason: String },
    #[error("The password could not be saved to {path}: {reason}. Check that the folder is writable.")]
    Write { path: String, reason: String },
}

#[derive(Clone, Debug)]
pub struct PasswordFile {
    path: PathBuf,
}

impl PasswordFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PasswordFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved password, or None when none was saved. A file others could read is made private
    /// first: a password that leaked once through a copy or a backup is still worth protecting now.
    pub fn load(&self) -> Result<Option<Secret>, PasswordFileError> {
        let err = |e: std::io::Error| PasswordFileError::Read {
            path: self.path.display().to_string(),
            reason: crate::plain_io_reason(&e),
        };
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.path).map_err(err)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
            }
        }
        let pw = text.trim_end_matches(['\r', '\n']);
        Ok((!pw.is_empty()).then(|| Secret::new(pw.to_string())))
    }

    /// Writes through a private temporary file and a rename: never readable by others, never half
    /// written.
    pub fn save(&self, password: &Secret) -> Result<(), PasswordFileError> {
        let err = |e: std::io::Error| PasswordFileError::Write {
            path: self.path.display().to_string(),
            reason: crate::plain_io_reason(&e),
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(err)?;
        f.write_all(password.expose().as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }

    pub fn clear(&self) -> Result<(), PasswordFileError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PasswordFileError::Write {
                path: self.path.display().to_string(),
                reason: crate::plain_io_reason(&e),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_password_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = PasswordFile::new(dir.path().join("sub/password"));
        assert!(file.load().unwrap().is_none());
        file.save(&Secret::new("pä55 word")).unwrap();
        assert_eq!(file.load().unwrap().unwrap().expose(), "pä55 word");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
            file.load().unwrap();
            let mode = std::fs::metadata(file.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "a readable file is made private on load");
        }
        file.clear().unwrap();
        assert!(file.load().unwrap().is_none());
    }
}
