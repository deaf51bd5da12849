//! The broadcast's state on the terminal (one line, rewritten) or in a log (a line per change).

use std::io::IsTerminal;
use std::time::Duration;

use icecream_engine::State;

/// The broadcast's line, then one per destination when there are several.
pub(crate) fn status_lines(status: &icecream_engine::Status) -> Vec<String> {
    let mut lines = vec![status.line()];
    if status.destinations.len() > 1 {
        for d in &status.destinations {
            lines.push(format!("  {}: {}", d.name, d.status.line()));
        }
    }
    lines
}

/// On a terminal: one line, rewritten every second. Elsewhere (logs, CI): one line per state change.
/// Without a terminal (a log, a pipe), a status line is written when the state changes and every
/// so often while it stays, so a log shows the broadcast going on.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(10);

pub(crate) async fn print_status(mut rx: tokio::sync::watch::Receiver<icecream_engine::Status>) {
    let tty = std::io::stderr().is_terminal();
    let mut last_state = None;
    let mut shown = 0;
    let mut printed = (std::time::Instant::now(), String::new());
    loop {
        let status = rx.borrow_and_update().clone();
        let states: Vec<State> = std::iter::once(status.state.clone())
            .chain(status.destinations.iter().map(|d| d.status.state.clone()))
            .collect();
        let changed = last_state.as_ref() != Some(&states);
        let lines = status_lines(&status);
        if tty {
            // Back over the lines written last time, then the new ones.
            let up = match shown {
                0 | 1 => "\r".to_string(),
                n => format!("\x1b[{}F", n - 1),
            };
            eprint!("{up}\x1b[J{}", lines.join("\n"));
            shown = lines.len();
        } else {
            // A change that does not show in the lines (the destinations' list filled in while
            // connecting) is not written twice.
            let text = lines.join("\n");
            if (changed && text != printed.1) || printed.0.elapsed() >= LOG_EVERY {
                eprintln!("{text}");
                printed = (std::time::Instant::now(), text);
            }
        }
        last_state = Some(states);
        if status.state.is_final() {
            if tty {
                eprintln!();
            }
            return;
        }
        if tokio::time::timeout(Duration::from_secs(5), rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            return;
        }
    }
}
