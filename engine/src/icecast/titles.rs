//! "Now playing" for a broadcast with several destinations: the title goes to every destination
//! that is on and whose mount can show titles, at once; each answers for itself, and the person
//! is told, in one message, where the title could not be shown and why.

use futures_util::future::join_all;

use crate::icecast::{self, Target};
use crate::settings::Settings;

/// What the destinations made of a title.
pub struct Titled {
    pub title: String,
    /// Sentences for the person: where the title was not shown or was changed, each naming its
    /// destination when there are several. Empty when every destination shows it as given.
    pub notes: Vec<String>,
    /// How many destinations show it.
    pub shown: usize,
}

impl Titled {
    /// The notes as one paragraph, if there are any.
    pub fn advice(&self) -> Option<String> {
        (!self.notes.is_empty()).then(|| self.notes.join(" "))
    }
}

/// Sets `title` on every destination of `settings` that is on (validated settings). Fails with
/// the reasons only when no destination shows it.
pub async fn set_everywhere(settings: &Settings, title: &str) -> Result<Titled, String> {
    let on: Vec<_> = settings.enabled().map(|(_, d)| d).collect();
    let several = on.len() > 1;
    let whose = |label: String| {
        if several {
            format!("{label}: ")
        } else {
            String::new()
        }
    };
    let answers = join_all(on.iter().map(|d| async move {
        if !d.format.supports_now_playing() {
            return None;
        }
        Some(icecast::set_now_playing(&Target::new(settings, d), d.format, title).await)
    }))
    .await;
    let (mut notes, mut failures, mut shown) = (Vec::new(), Vec::new(), 0);
    for (d, answer) in on.iter().zip(answers) {
        let who = whose(d.label());
        match answer {
            None => notes.push(format!(
                "{who}{} mounts cannot show titles; listeners there see none.",
                d.format.label()
            )),
            Some(Ok(np)) => {
                shown += 1;
                notes.extend(np.advice().map(|a| format!("{who}{a}")));
            }
            Some(Err(e)) => failures.push(format!("{who}{e}")),
        }
    }
    if shown == 0 {
        let mut all = failures;
        all.extend(notes);
        return Err(match all.is_empty() {
            true => "No destination is on.".into(),
            false => all.join(" "),
        });
    }
    notes.extend(failures);
    Ok(Titled {
        title: title.to_string(),
        notes,
        shown,
    })
}
