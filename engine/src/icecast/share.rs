//! What a broadcaster hands out: the listen URL and a snippet for a web page.

use crate::{MountFormat, Settings, Target};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Share {
    pub listen_url: String,
    /// HTML for a web page: `<video>` for a video mount, `<audio>` otherwise.
    pub embed_html: String,
    pub has_video: bool,
}

fn attr_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

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
        let embed_html = if format.has_video() {
            format!(
                "<video controls autoplay muted playsinline oncanplay=\"this.play()\"{label} width=\"640\">\n  <source src=\"{src}\" type=\"{ty}\">\n</video>"
            )
        } else {
            format!("<audio controls autoplay muted oncanplay=\"this.play()\"{label}>\n  <source src=\"{src}\" type=\"{ty}\">\n</audio>")
        };
        Share {
            listen_url: listen_url.to_string(),
            embed_html,
            has_video: format.has_video(),
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
        assert!(s.embed_html.contains("type=\"audio/mpeg\""));
        let v = Share::new("http://h:8000/cam.webm", MountFormat::WebmVideo, "");
        assert!(v.embed_html.starts_with(
            "<video controls autoplay muted playsinline oncanplay=\"this.play()\" width=\"640\">"
        ));
        assert!(v.has_video);
    }
}
