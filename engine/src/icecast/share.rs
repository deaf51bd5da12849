//! What a broadcaster hands out: the listen URL and a snippet for a web page.

use crate::{MountFormat, Settings, Target};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Share {
    pub listen_url: String,
    /// HTML for a web page: `<video>` for a video mount, `<audio>` otherwise.
    pub embed_html: String,
    pub has_video: bool,
    /// The embed code moves its player to the live moment (a WebM mount, read through Media Source).
    pub plays_live: bool,
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The player of a WebM, MP3 or AAC mount is fed through Media Source (the script after it), so
/// that it plays the live moment: on its own a browser starts at the oldest byte of the server's
/// burst (64 KiB by default: 5 s of 100 kbps sound) and stays that far behind, and Chromium hands
/// its player the stream only in 32 KiB blocks (2 s of such sound), so moving it nearer the edge
/// of what it has buffered only makes it stop at every block. Read with `fetch`, every byte is
/// the player's as it comes; the script moves the player to 0.25 s before the newest moment when
/// it is more than 1 s behind (the start, a stall's backlog) and plays 10 % faster when it is
/// 0.45 s behind. Reading needs the server to let pages read the stream
/// (`Access-Control-Allow-Origin`, which the local server sends); where it does not, or the
/// browser has no Media Source for the type, the player plays the stream directly, as before.
/// Media Source takes no Ogg: Ogg mounts are played directly. Measured per browser in
/// bench/RESULTS.md ("live edge").
const LIVE_EDGE: &str = include_str!("live_edge.js");

impl Share {
    pub fn for_settings(settings: &Settings) -> Share {
        let url = Target::from_settings(settings).listen_url();
        Share::new(&url, settings.first().format, &settings.stream.name)
    }

    pub fn new(listen_url: &str, format: MountFormat, title: &str) -> Share {
        let src = attr_escape(listen_url);
        let label = if title.trim().is_empty() {
            String::new()
        } else {
            format!(" title=\"{}\"", attr_escape(title.trim()))
        };
        let ty = format.content_type();
        // `oncanplay`: Chromium's `autoplay` waits until it has buffered what it wants of an
        // endless stream, 3–5 s after joining; `play()` once it can play starts in 0.3–0.5 s
        // (bench/RESULTS.md, browser). `muted`: a browser refuses to start sound a visitor has not
        // clicked for (autoplay policy), and the player then sat stopped; muted it starts at once,
        // the picture showing, and the player's own button turns the sound on.
        let mut embed_html = format!(
            "<{tag} controls autoplay muted{inline} oncanplay=\"this.play()\"{label}{width}>\n  <source src=\"{src}\" type=\"{ty}\">\n</{tag}>",
            tag = if format.has_video() { "video" } else { "audio" },
            inline = if format.has_video() { " playsinline" } else { "" },
            width = if format.has_video() { " width=\"640\"" } else { "" },
        );
        // The type Media Source is told; WebM's codecs the script reads from the stream itself.
        let media_source_type = match format {
            MountFormat::WebmAudio | MountFormat::WebmVideo => Some(""),
            MountFormat::Mp3 => Some("audio/mpeg"),
            MountFormat::Aac => Some("audio/aac"),
            MountFormat::OggOpus | MountFormat::OggVorbis | MountFormat::OggFlac => None,
        };
        let plays_live = media_source_type.is_some();
        if let Some(ty) = media_source_type {
            // A JSON string, with `<` written as an escape so that no `</script>` can end the
            // script early.
            let url = serde_json::to_string(listen_url)
                .expect("a string")
                .replace('<', "\\u003c");
            embed_html.push('\n');
            let script = LIVE_EDGE
                .trim_end()
                .replace("__URL__", &url)
                .replace("__TYPE__", &format!("'{ty}'"));
            embed_html.push_str(&script);
        }
        Share {
            listen_url: listen_url.to_string(),
            embed_html,
            has_video: format.has_video(),
            plays_live,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_matches_the_format_and_escapes() {
        let s = Share::new(
            "https://radio.example/live.mp3",
            MountFormat::Mp3,
            "Tom & \"Jerry\"",
        );
        assert!(s.embed_html.starts_with(
            "<audio controls autoplay muted oncanplay=\"this.play()\" title=\"Tom &amp; &quot;Jerry&quot;\">"
        ));
        assert!(
            s.embed_html.contains("known = 'audio/mpeg';"),
            "an MP3 mount is read through Media Source: {}",
            s.embed_html
        );
        let ogg = Share::new("http://h/live.ogg", MountFormat::OggOpus, "");
        assert!(
            !ogg.embed_html.contains("<script>") && !ogg.plays_live,
            "an Ogg mount is played directly"
        );
        assert!(s.embed_html.contains("type=\"audio/mpeg\""));
        let v = Share::new("http://h:8000/cam.webm", MountFormat::WebmVideo, "");
        assert!(v.embed_html.starts_with(
            "<video controls autoplay muted playsinline oncanplay=\"this.play()\" width=\"640\">"
        ));
        assert!(v
            .embed_html
            .contains("url = \"http://h:8000/cam.webm\", known = '';"));
        assert!(v.embed_html.ends_with("</script>"));
        let odd = Share::new("http://h/</script><b>.webm", MountFormat::WebmAudio, "");
        assert_eq!(
            odd.embed_html.matches("</script>").count(),
            1,
            "{}",
            odd.embed_html
        );
        assert!(v.has_video);
    }
}
