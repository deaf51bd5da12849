//! Settings checked all at once, each problem named by its field and destination, in plain words.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::model::{printable, Destination, Settings};

pub const AUDIO_KBPS: (u32, u32) = (16, 320);
pub const VIDEO_KBPS: (u32, u32) = (100, 20_000);
pub const WIDTH: (u32, u32) = (160, 3840);
pub const HEIGHT: (u32, u32) = (120, 2160);
pub const FPS: (u32, u32) = (1, 60);

/// One thing wrong with the settings, tied to the field it is about so a form can show it inline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
    /// The destination it is about (its place in the list), if it is about one.
    pub destination: Option<usize>,
}

/// Every problem found, not just the first: a person fixes them all in one go.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Invalid(pub Vec<Problem>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<&str> = self.0.iter().map(|p| p.message.as_str()).collect();
        write!(f, "Please fix the settings: {}", lines.join(" "))
    }
}

impl Settings {
    /// Checks everything and reports every problem at once, in words a person can act on. With
    /// several destinations, each problem of a destination starts with its name.
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut problems = Vec::new();
        let named = self.destinations.len() > 1;
        for (i, d) in self.destinations.iter().enumerate() {
            let label = d.label();
            d.check(&mut |field, message: String| {
                problems.push(Problem {
                    field,
                    message: if named {
                        format!("{label}: {message}")
                    } else {
                        message
                    },
                    destination: Some(i),
                })
            });
        }
        let mut add = |field: &'static str, message: String| {
            problems.push(Problem {
                field,
                message,
                destination: None,
            })
        };
        if self.destinations.is_empty() {
            add(
                "destinations",
                "Add a destination: the server and mount the broadcast goes to.".into(),
            );
        } else if self.enabled().next().is_none() {
            add(
                "destinations",
                "Every destination is switched off. Switch on at least one to go live.".into(),
            );
        }
        // Two connections to one mount: the second would always be refused as "mount in use".
        let mut seen: Vec<(String, u32, String, String)> = Vec::new();
        for (_, d) in self.enabled() {
            let key = (
                d.server.host.trim().to_ascii_lowercase(),
                d.server.port,
                d.mount(),
                d.label(),
            );
            if let Some(other) = seen.iter().find(|s| (&s.0, s.1, &s.2) == (&key.0, key.1, &key.2)) {
                add(
                    "destinations",
                    format!(
                        "{} and {} both send to {}:{}{}. A mount takes one source: change one of the mounts.",
                        other.3,
                        key.3,
                        key.0,
                        key.1,
                        printable(&key.2)
                    ),
                );
            } else {
                seen.push(key);
            }
        }

        let info = &self.stream;
        for (field, label, value) in [
            ("name", "stream name", &info.name),
            ("description", "description", &info.description),
            ("genre", "genre", &info.genre),
            ("url", "stream URL", &info.url),
        ] {
            if has_control(value) {
                add(
                    field,
                    format!("The {label} may not contain line breaks or control characters."),
                );
            } else if value.len() > 1024 {
                add(
                    field,
                    format!("The {label} is too long (at most 1024 characters)."),
                );
            }
        }

        if self.has_video() {
            let e = &self.encoding;
            let mut range = |field, label, unit, value, bounds| {
                if let Some(message) = out_of_range(label, unit, value, bounds) {
                    add(field, message);
                }
            };
            range(
                "video_bitrate_kbps",
                "video bitrate",
                " kbps",
                e.video_bitrate_kbps,
                VIDEO_KBPS,
            );
            range("width", "video width", " pixels", e.width, WIDTH);
            range("height", "video height", " pixels", e.height, HEIGHT);
            range("fps", "frame rate", " fps", e.fps, FPS);
        }

        let folder = self.recording.folder.trim();
        if self.recording.enabled && !folder.is_empty() && !Path::new(folder).is_absolute() {
            add(
                "folder",
                "Enter the recordings folder as a full path (for example /home/me/Recordings), or leave \
                 it empty to use your Videos or Music folder."
                    .into(),
            );
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(Invalid(problems))
        }
    }
}

impl Destination {
    /// This destination's own problems (its server, mount and audio bitrate), each to `add`.
    fn check(&self, add: &mut dyn FnMut(&'static str, String)) {
        let s = &self.server;
        let host = s.host.trim();
        if host.is_empty() {
            add(
                "host",
                "Enter the server's host name, for example icecast.example.org.".into(),
            );
        } else if host.contains("://") {
            add(
                "host",
                "Enter only the host name, without http:// or https:// (TLS is its own switch).".into(),
            );
        } else if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/?#@".contains(c))
        {
            add(
                "host",
                "The host name may not contain spaces or any of / ? # @. Enter just the name or IP address."
                    .into(),
            );
        }
        if s.port == 0 || s.port > 65535 {
            add(
                "port",
                format!("The port must be a number from 1 to 65535 (it is {}).", s.port),
            );
        }
        if s.username.is_empty() {
            add(
                "username",
                "Enter the source username; for most servers it is \"source\".".into(),
            );
        } else if s.username.contains(':') || has_control(&s.username) {
            add(
                "username",
                "The username may not contain a colon or control characters.".into(),
            );
        }
        if s.password.expose().is_empty() {
            add(
                "password",
                "Enter the source password of your Icecast server.".into(),
            );
        } else if has_control(s.password.expose()) {
            add(
                "password",
                "The password may not contain line breaks or control characters.".into(),
            );
        }
        if let Some(msg) = mount_problem(&self.mount(), s.mount_per_user) {
            add("mount", msg);
        }
        if has_control(&self.name) || self.name.len() > 100 {
            add(
                "destination_name",
                "The destination's name may not contain line breaks and is at most 100 characters.".into(),
            );
        }
        if let Some(message) = out_of_range("audio bitrate", " kbps", self.audio_bitrate_kbps, AUDIO_KBPS) {
            add("audio_bitrate_kbps", message);
        }
    }
}

fn out_of_range(label: &str, unit: &str, value: u32, (lo, hi): (u32, u32)) -> Option<String> {
    (value < lo || value > hi)
        .then(|| format!("The {label} must be from {lo} to {hi}{unit} (it is {value}{unit})."))
}

/// CR, LF and other control characters would let a value end an HTTP header early and inject others.
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

fn mount_problem(mount: &str, per_user: bool) -> Option<String> {
    let what = if per_user {
        "The mount prefix plus username"
    } else {
        "The mount"
    };
    if !mount.starts_with('/') || mount.len() < 2 {
        return Some(format!(
            "{what} must start with / and name the mount, for example /live."
        ));
    }
    if mount.len() > 200 {
        return Some(format!("{what} is too long (at most 200 characters)."));
    }
    if mount.ends_with('/') || mount.contains("//") || mount.split('/').any(|p| p == ".." || p == ".") {
        return Some(format!(
            "{what} \"{}\" is not a valid path: no empty, . or .. parts.",
            printable(mount)
        ));
    }
    if let Some(bad) = mount
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/-_.~".contains(*c)))
    {
        return Some(format!(
            "{what} may use only letters, digits and - _ . ~ / (it contains \"{}\").",
            printable(&bad.to_string())
        ));
    }
    None
}
