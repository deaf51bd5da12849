//! The Icecast password: held in memory so it never prints, and kept between runs in the OS keyring
//! or, where there is none, a file only its owner can read.

pub mod password_file;
pub mod saved_password;
mod secret;

pub use password_file::{PasswordFile, PasswordFileError};
pub use saved_password::{Kept, SavedPassword, SavedPasswordError};
pub use secret::Secret;
