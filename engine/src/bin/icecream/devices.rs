//! `icecream devices`: the sound inputs `stream --device` can broadcast.

pub(crate) fn devices() -> Result<(), String> {
    let list = icecream_engine::capture::inputs().map_err(|e| e.to_string())?;
    if list.is_empty() {
        return Err(icecream_engine::capture::CaptureError::NoInputs.to_string());
    }
    let width = list.iter().map(|d| d.id.chars().count()).max().unwrap_or(0);
    println!("Sound inputs (use the first column or the name with --device):");
    for d in &list {
        let channels = if d.channels == 1 { "mono" } else { "stereo" };
        let default = if d.is_default { ", the default" } else { "" };
        println!("  {:width$}  {} ({channels}{default})", d.id, d.name);
    }
    Ok(())
}

/// Tells, as they happen, that the input went away or came back and that sound was lost.
pub(crate) async fn print_capture(
    mut status: tokio::sync::watch::Receiver<icecream_engine::capture::CaptureStatus>,
) {
    let mut last = status.borrow().clone();
    while status.changed().await.is_ok() {
        let now = status.borrow().clone();
        match (&last.away, &now.away) {
            (None, Some(reason)) => {
                eprintln!("The sound input went away ({reason}); sending silence until it is back.")
            }
            (Some(_), None) => eprintln!("The sound input is back."),
            _ => {}
        }
        if now.dropouts > last.dropouts {
            eprintln!(
                "The sound input dropped out: {} so far, {} ms lost.",
                now.dropouts,
                now.lost.as_millis()
            );
        }
        last = now;
    }
}
