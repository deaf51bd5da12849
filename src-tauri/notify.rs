//! Desktop notifications for a broadcast that changes on its own (drops, comes back, fails) while
//! the window is behind others: the person may not be looking at it. Changes the person made
//! (Go live, Stop) and changes seen in the window are not announced. A broadcast to several
//! destinations is told of destination by destination, by name: one of them dropping leaves the
//! broadcast live.

use icecream_engine::status::State;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

/// What to tell a person about the change from `before` to `now`, if anything: a title and a line.
/// `destination`: the one destination of several that changed; None for the broadcast as a whole.
pub fn message(destination: Option<&str>, before: Option<&State>, now: &State) -> Option<(String, String)> {
    let title = |whole: &str, one: &str| match destination {
        None => whole.to_string(),
        Some(name) => format!("{name} {one}"),
    };
    match (before, now) {
        (Some(State::Reconnecting { .. }), State::Reconnecting { .. }) => None,
        (Some(_), State::Reconnecting { reason, .. }) => Some((
            title("Your broadcast dropped", "dropped"),
            format!("{reason} Icecream is reconnecting; the recording goes on."),
        )),
        (Some(State::Reconnecting { .. }), State::Live) => Some((
            title("You are live again", "is live again"),
            "Icecream reconnected to the server.".into(),
        )),
        (_, State::Failed { reason }) => Some((title("Your broadcast stopped", "stopped"), reason.clone())),
        _ => None,
    }
}

/// Shows the notice for this change unless the window has the focus (the status line says it).
pub fn state_changed(app: &AppHandle, destination: Option<&str>, before: Option<&State>, now: &State) {
    let Some((title, body)) = message(destination, before, now) else {
        return;
    };
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(false);
    if focused {
        return;
    }

    if let Err(e) = app.notification().builder().title(&title).body(&body).show() {
        log::warn!("the desktop did not take a notification ({title}): {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reconnecting(attempt: u32) -> State {
        State::Reconnecting {
            attempt,
            next_in_secs: 1,
            reason: "The server closed the connection.".into(),
        }
    }

    #[test]
    fn tells_of_changes_the_person_did_not_make() {
        let failed = State::Failed {
            reason: "The server refused the password.".into(),
        };
        let cases = [
            (
                None,
                "Your broadcast dropped",
                "You are live again",
                "Your broadcast stopped",
            ),
            (
                Some("Backup"),
                "Backup dropped",
                "Backup is live again",
                "Backup stopped",
            ),
        ];
        for (who, dropped, back, stopped) in cases {
            let told = message(who, Some(&State::Live), &reconnecting(1)).unwrap();
            assert_eq!(told.0, dropped);
            assert!(told
                .1
                .starts_with("The server closed the connection. Icecream is reconnecting"));
            assert!(
                message(who, Some(&reconnecting(1)), &reconnecting(2)).is_none(),
                "once per drop"
            );
            assert_eq!(
                message(who, Some(&reconnecting(3)), &State::Live).unwrap().0,
                back
            );
            assert_eq!(
                message(who, Some(&State::Connecting), &failed),
                Some((stopped.into(), "The server refused the password.".into()))
            );
            for (before, now) in [
                (None, State::Connecting),
                (Some(State::Connecting), State::Live),
                (Some(State::Live), State::Stopping),
                (Some(State::Stopping), State::Stopped),
            ] {
                assert!(message(who, before.as_ref(), &now).is_none(), "{now:?}");
            }
        }
    }
}
