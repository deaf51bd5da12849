//! `icecream settings`: what the file and the flags add up to, and any problems with them.

use std::path::PathBuf;

use icecream_engine::Secret;

use crate::args::ServerArgs;

pub(crate) fn show_settings(server: ServerArgs, save: Option<PathBuf>) -> Result<(), String> {
    let s = server.settings(false)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&s).expect("settings serialize")
    );
    if let Some(path) = save {
        s.save(&path).map_err(|e| e.to_string())?;
        eprintln!("Saved to {}.", path.display());
    }
    // The password is checked when it is needed, not here.
    let mut probe = s.clone();
    for d in &mut probe.destinations {
        d.server.password = Secret::new("-");
    }
    probe.validate().map_err(|e| e.to_string())
}
