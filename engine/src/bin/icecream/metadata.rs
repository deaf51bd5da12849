//! `icecream metadata`: the title listeners see, on every destination that can show it.

use crate::args::{checked, ServerArgs};

pub(crate) async fn metadata(server: ServerArgs, title: String) -> Result<(), String> {
    let s = checked(&server)?;
    if title.chars().any(char::is_control) {
        return Err("The title may not contain line breaks or control characters.".into());
    }
    let titled = icecream_engine::icecast::titles::set_everywhere(&s, &title).await?;
    println!("Now playing: {title}");
    if let Some(advice) = titled.advice() {
        eprintln!("icecream: note: {advice}");
    }
    Ok(())
}
