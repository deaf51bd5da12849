//! Now playing: the admin metadata call, and what the server then shows of the title.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::error::IcecastError;
use super::source::strip_tags;
use super::status_page::{fetch_status, mount_status};
use super::target::Target;
use crate::media::format::MountFormat;
use crate::net::{self};

const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How a title came out on the server, read back from its status page.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NowPlaying {
    pub title: String,
    /// What the server shows, when that is not exactly the title.
    pub shown_as: Option<String>,
    /// The server's name and version as its status page gives them ("Icecast 2.5.0-rc2").
    pub server: Option<String>,
}

impl NowPlaying {
    /// Plain advice when the server altered the title or took it in a way it calls outdated,
    /// else None.
    pub fn advice(&self) -> Option<String> {
        let mut notes = Vec::new();
        if let Some(shown) = &self.shown_as {
            // Icecast writes what the mount's charset lacks as character codes ("&#8211;"), which
            // players show as they are.
            let codes = if shown.contains("&#") {
                " and writes the characters Latin-1 lacks as codes, which players show as they are"
            } else {
                ""
            };
            notes.push(format!(
                "The server shows the title as \"{shown}\": it stores titles as Latin-1 on this mount{codes}. \
                 Ask its owner to add <charset>UTF-8</charset> to the mount's settings to show every \
                 character."
            ));
        }
        if self
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("Icecast 2.5"))
        {
            notes.push(
                "Icecast 2.5 shows the title, and marks the stream in its admin pages for the way it \
                 was set (\"legacy metadata\"): 2.5 expects titles inside the stream, which Icecream \
                 does not send yet. Listeners are not affected."
                    .into(),
            );
        }
        (!notes.is_empty()).then(|| notes.join(" "))
    }
}

/// Sets the title listeners see ("now playing") and checks what the server made of it.
///
/// The title is sent as UTF-8 and said so (`charset=UTF-8`): without it Icecast reads the bytes as
/// Latin-1 and "é" turns into "Ã©". A mount whose charset is Latin-1 (Icecast's default) still
/// cannot hold every character; the read-back tells the person so instead of failing silently.
pub async fn set_now_playing(
    target: &Target,
    format: MountFormat,
    title: &str,
) -> Result<NowPlaying, IcecastError> {
    let (before, _) = current_title(target).await;
    if matches!(format, MountFormat::OggVorbis) {
        codec_read(target).await;
    }
    update_metadata(target, format, title).await?;
    let start = tokio::time::Instant::now();
    let mut resent = start;
    let (mut shown, mut server) = (None, None);
    while start.elapsed() < Duration::from_secs(5) {
        (shown, server) = current_title(target).await;
        // A changed title that differs from ours is the server's rendering of it (Latin-1 mounts).
        if shown.as_deref() == Some(title) || (shown.is_some() && shown != before) {
            break;
        }
        // Icecast ignores a title that arrives before it has read the stream's first page (an Ogg
        // mount learns its codec there); asking again is harmless and then it shows.
        if resent.elapsed() >= Duration::from_secs(1) {
            update_metadata(target, format, title).await?;
            resent = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still the title from before ours: the server did not take it.
    if shown == before && shown.as_deref() != Some(title) {
        shown = None;
    }
    match shown {
        None => Err(IcecastError::NowPlayingNotShown {
            format: format.label(),
        }),
        Some(s) => Ok(NowPlaying {
            title: title.to_string(),
            shown_as: (s != title).then_some(s),
            server,
        }),
    }
}

/// Waits (up to 3 s) until Icecast has read an Ogg stream's codec header pages. Icecast 2.4.4
/// corrupts an Ogg mount whose title arrives while it is still reading them (its log says
/// "refbuf_release next not null" and no title shows again), and it may read them a while after we
/// sent them when the machine is busy. It names the codec in status-json once it has them all.
async fn codec_read(target: &Target) {
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(doc) = fetch_status(&target.endpoint).await {
            if mount_status(&doc, &target.mount).is_some_and(|m| m.subtype.is_some()) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The mount's title on the server's status page, and the server's name from the same page.
async fn current_title(target: &Target) -> (Option<String>, Option<String>) {
    let Ok(doc) = fetch_status(&target.endpoint).await else {
        return (None, None);
    };
    let title = mount_status(&doc, &target.mount)
        .and_then(|m| m.title)
        .filter(|t| !t.is_empty());
    (title, doc["icestats"]["server_id"].as_str().map(str::to_string))
}

/// Sends the admin `updinfo` request for the title, without reading back.
pub async fn update_metadata(target: &Target, format: MountFormat, title: &str) -> Result<(), IcecastError> {
    if !format.supports_now_playing() {
        return Err(IcecastError::NowPlayingUnsupported {
            format: format.label(),
        });
    }
    let path = format!(
        "/admin/metadata?mode=updinfo&mount={}&song={}&charset=UTF-8",
        utf8_percent_encode(&target.mount, QUERY),
        utf8_percent_encode(title, QUERY)
    );
    let (head, body) = net::get(&target.endpoint, &path, Some(&target.basic_auth())).await?;
    let body = String::from_utf8_lossy(&body);
    match head.status {
        200 if body.contains("<return>1</return>") => Ok(()),
        401 => Err(IcecastError::WrongPassword),
        400 | 404 if body.to_ascii_lowercase().contains("source does not exist") => {
            Err(IcecastError::NotLive {
                mount: target.mount.clone(),
            })
        }
        _ => Err(IcecastError::Refusal {
            reason: {
                let text = strip_tags(&body);
                if text.is_empty() {
                    format!("{} {}", head.status, head.reason)
                } else {
                    text
                }
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icecast_25_is_told_apart_in_the_advice() {
        let mut shown = NowPlaying {
            title: "Café – 東京".into(),
            shown_as: Some("Café &#8211; &#26481;&#20140;".into()),
            server: Some("Icecast 2.5.0-rc2".into()),
        };
        let advice = shown.advice().unwrap();
        assert!(
            advice.contains("writes the characters Latin-1 lacks as codes"),
            "{advice}"
        );
        assert!(advice.contains("<charset>UTF-8</charset>"), "{advice}");
        assert!(
            advice.ends_with("which Icecream does not send yet. Listeners are not affected."),
            "{advice}"
        );
        shown.shown_as = None;
        shown.server = Some("Icecast 2.4.4".into());
        assert_eq!(shown.advice(), None);
    }
}
