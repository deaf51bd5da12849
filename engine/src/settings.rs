//! What a broadcast needs to know: the server, the mount, the stream's public info and the encoding.
//!
//! The settings file never holds the password: it is kept apart (environment, password file, prompt,
//! or the desktop app's protected store) so that a settings file can be shared or logged safely.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::format::MountFormat;
use crate::secret::Secret;
use crate::tls::{Fingerprint, TrustedCertificate};

/// Bumped when a field changes meaning; older files are upgraded on load. 2: a list of
/// destinations, each with its server, mount format and audio bitrate (1 had one server).
pub const SETTINGS_VERSION: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    pub version: u32,
    /// Where the broadcast goes: one stream per mount format, one connection per destination.
    pub destinations: Vec<Destination>,
    /// The broadcast's public info, the same on every destination.
    pub stream: StreamInfo,
    /// The picture: shared by every destination that carries video.
    pub encoding: EncodingSettings,
    pub recording: RecordingSettings,
    /// Servers' own certificates the person chose to trust, by host and port (see `tls`).
    pub trusted_certificates: Vec<TrustedCertificate>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerSettings {
    pub host: String,
    /// Wider than u16 so that a typo like 80000 gets a plain sentence instead of a parse error.
    pub port: u32,
    pub tls: bool,
    /// The mount point, e.g. `/live`; with `mount_per_user` it is a prefix and the username follows.
    pub mount: String,
    pub mount_per_user: bool,
    pub username: String,
    #[serde(skip)]
    pub password: Secret,
}

/// One server and mount the broadcast goes to, with its own mount format and audio bitrate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Destination {
    /// Stays with it through renames and reordering: its saved password is found by it. Empty
    /// for the first destination (the one server an older Icecream had).
    pub id: String,
    /// What the person calls it ("Station", "Backup"); empty: it is named by its server and mount.
    pub name: String,
    /// Off: kept in the list, not sent to.
    pub enabled: bool,
    pub server: ServerSettings,
    pub format: MountFormat,
    pub audio_bitrate_kbps: u32,
}

impl Default for Destination {
    fn default() -> Self {
        Destination {
            id: String::new(),
            name: String::new(),
            enabled: true,
            server: ServerSettings::default(),
            format: MountFormat::WebmVideo,
            audio_bitrate_kbps: 128,
        }
    }
}

impl Destination {
    /// The mount the source connects to, with the per-user part applied.
    pub fn mount(&self) -> String {
        let s = &self.server;
        if s.mount_per_user {
            format!("{}{}", s.mount, s.username)
        } else {
            s.mount.clone()
        }
    }

    /// How the destination is called in the window and in messages: its name, or its server and
    /// mount.
    pub fn label(&self) -> String {
        let name = self.name.trim();
        if !name.is_empty() {
            return printable(name);
        }
        let host = self.server.host.trim();
        if host.is_empty() {
            return "The new destination".into();
        }
        printable(&format!("{host}{}", self.mount()))
    }

    /// What its stream is made with: two destinations with the same encode share one stream.
    pub fn encode(&self, video: &EncodingSettings) -> Encode {
        Encode {
            format: self.format,
            audio_bitrate_kbps: self.audio_bitrate_kbps,
            video: if self.format.has_video() {
                video.clone()
            } else {
                EncodingSettings::default()
            },
        }
    }
}

/// What one stream is made of: its mount format, its audio bitrate and (for video) the picture.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Encode {
    pub format: MountFormat,
    pub audio_bitrate_kbps: u32,
    pub video: EncodingSettings,
}

impl Encode {
    /// A format with the default bitrates and picture.
    pub fn of(format: MountFormat) -> Encode {
        Destination {
            format,
            ..Destination::default()
        }
        .encode(&EncodingSettings::default())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StreamInfo {
    pub name: String,
    pub description: String,
    pub genre: String,
    pub url: String,
    pub public: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(default)]
pub struct EncodingSettings {
    pub video_bitrate_kbps: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// The local copy of each broadcast.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RecordingSettings {
    pub enabled: bool,
    /// A full folder path; empty means an "Icecream" folder in the person's Videos folder, or in
    /// their Music folder when the mount carries sound only.
    pub folder: String,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        RecordingSettings {
            enabled: true,
            folder: String::new(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: SETTINGS_VERSION,
            destinations: vec![Destination::default()],
            stream: StreamInfo::default(),
            encoding: EncodingSettings::default(),
            recording: RecordingSettings::default(),
            trusted_certificates: Vec::new(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: String::new(),
            port: 8000,
            tls: false,
            mount: "/live".into(),
            mount_per_user: false,
            username: "source".into(),
            password: Secret::default(),
        }
    }
}

impl Default for StreamInfo {
    fn default() -> Self {
        StreamInfo {
            name: "Icecream live".into(),
            description: String::new(),
            genre: String::new(),
            url: String::new(),
            public: false,
        }
    }
}

impl Default for EncodingSettings {
    fn default() -> Self {
        EncodingSettings {
            video_bitrate_kbps: 1000,
            width: 640,
            height: 480,
            fps: 30,
        }
    }
}

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

#[derive(Debug, thiserror::Error)]
pub enum SettingsFileError {
    #[error("The settings file {path} could not be read: {reason}.")]
    Read { path: PathBuf, reason: String },
    #[error(
        "The settings file {path} is damaged ({reason}). It was left untouched; fix it or remove it \
         to start from defaults."
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("The settings file {path} was written by a newer Icecream (version {found}). Update Icecream.")]
    TooNew { path: PathBuf, found: u32 },
    #[error("The settings could not be saved to {path}: {reason}.")]
    Write { path: PathBuf, reason: String },
}

impl Settings {
    /// The certificate trusted for this host and port, if any.
    pub fn pin_for(&self, host: &str, port: u16) -> Option<Fingerprint> {
        self.trusted_certificates
            .iter()
            .find(|t| t.host.eq_ignore_ascii_case(host) && t.port == port)
            .map(|t| t.sha256)
    }

    /// Trusts `sha256` for this host and port, in place of any certificate trusted for it before.
    pub fn trust_certificate(&mut self, host: &str, port: u16, sha256: Fingerprint) {
        self.forget_certificate(host, port);
        self.trusted_certificates.push(TrustedCertificate {
            host: host.to_string(),
            port,
            sha256,
        });
    }

    pub fn forget_certificate(&mut self, host: &str, port: u16) {
        self.trusted_certificates
            .retain(|t| !(t.host.eq_ignore_ascii_case(host) && t.port == port));
    }

    /// The first destination: the one a single-server caller (a test, `icecream test`) means.
    pub fn first(&self) -> &Destination {
        &self.destinations[0]
    }

    pub fn first_mut(&mut self) -> &mut Destination {
        if self.destinations.is_empty() {
            self.destinations.push(Destination::default());
        }
        &mut self.destinations[0]
    }

    /// The destinations that are switched on, with their places in the list.
    pub fn enabled(&self) -> impl Iterator<Item = (usize, &Destination)> {
        self.destinations.iter().enumerate().filter(|(_, d)| d.enabled)
    }

    /// Whether the broadcast needs the camera: some destination that is on carries video.
    pub fn has_video(&self) -> bool {
        self.enabled().any(|(_, d)| d.format.has_video())
    }

    pub fn load(path: &Path) -> Result<Settings, SettingsFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsFileError::Read {
            path: path.to_owned(),
            reason: crate::plain_io_reason(&e),
        })?;
        Settings::from_json(&text).map_err(|e| match e {
            FromJsonError::TooNew(found) => SettingsFileError::TooNew {
                path: path.to_owned(),
                found,
            },
            FromJsonError::Corrupt(reason) => SettingsFileError::Corrupt {
                path: path.to_owned(),
                reason,
            },
        })
    }

    /// Writes through a temporary file and a rename, so a crash mid-write never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), SettingsFileError> {
        let err = |e: std::io::Error| SettingsFileError::Write {
            path: path.to_owned(),
            reason: crate::plain_io_reason(&e),
        };
        let text = serde_json::to_string_pretty(self).expect("settings always serialize");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    pub fn from_json(text: &str) -> Result<Settings, FromJsonError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| FromJsonError::Corrupt(e.to_string()))?;
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(1) as u32;
        if version > SETTINGS_VERSION {
            return Err(FromJsonError::TooNew(version));
        }
        let value = if version < 2 {
            one_destination(value)
        } else {
            value
        };
        let mut settings: Settings =
            serde_json::from_value(value).map_err(|e| FromJsonError::Corrupt(e.to_string()))?;
        settings.version = SETTINGS_VERSION;
        Ok(settings)
    }

    /// Where this broadcast's recording goes, if it is recorded: the chosen folder, or an
    /// "Icecream" folder in `videos` (in `music` for a sound-only mount), as the platform names them.
    pub fn recording_dir(&self, videos: Option<&Path>, music: Option<&Path>) -> Option<PathBuf> {
        if !self.recording.enabled {
            return None;
        }
        let chosen = self.recording.folder.trim();
        if !chosen.is_empty() {
            return Some(PathBuf::from(chosen));
        }
        let base = if self.has_video() {
            videos
        } else {
            music.or(videos)
        };
        base.map(|b| b.join("Icecream"))
    }

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

/// A version 1 file had one server, and its mount format and audio bitrate in `encoding`: they
/// become a list of one destination.
fn one_destination(mut value: serde_json::Value) -> serde_json::Value {
    let Some(obj) = value.as_object_mut() else {
        return value;
    };
    let mut destination = serde_json::Map::new();
    if let Some(server) = obj.remove("server") {
        destination.insert("server".into(), server);
    }
    if let Some(encoding) = obj.get_mut("encoding").and_then(|e| e.as_object_mut()) {
        for key in ["format", "audio_bitrate_kbps"] {
            if let Some(v) = encoding.remove(key) {
                destination.insert(key.into(), v);
            }
        }
    }
    obj.insert(
        "destinations".into(),
        serde_json::Value::Array(vec![destination.into()]),
    );
    value
}

#[derive(Debug, PartialEq, Eq)]
pub enum FromJsonError {
    TooNew(u32),
    Corrupt(String),
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

/// Shows control characters as escapes so an error message never carries them itself.
fn printable(s: &str) -> String {
    s.chars().flat_map(|c| c.escape_debug()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Settings {
        let mut s = Settings::default();
        s.first_mut().server.host = "localhost".into();
        s.first_mut().server.password = Secret::new("hackme");
        s
    }

    #[test]
    fn defaults_plus_host_and_password_are_valid() {
        good().validate().unwrap();
    }

    #[test]
    fn recordings_go_to_videos_or_music_or_the_chosen_folder() {
        let (videos, music) = (Path::new("/home/a/Videos"), Path::new("/home/a/Music"));
        let mut s = good();
        assert_eq!(
            s.recording_dir(Some(videos), Some(music)),
            Some(videos.join("Icecream"))
        );
        s.first_mut().format = MountFormat::Mp3;
        assert_eq!(
            s.recording_dir(Some(videos), Some(music)),
            Some(music.join("Icecream"))
        );
        s.recording.folder = "/srv/shows".into();
        assert_eq!(
            s.recording_dir(Some(videos), Some(music)),
            Some(PathBuf::from("/srv/shows"))
        );
        s.recording.folder = "shows".into();
        let err = s.validate().unwrap_err();
        assert_eq!(err.0[0].field, "folder");
        s.recording.enabled = false;
        assert_eq!(s.recording_dir(Some(videos), Some(music)), None);
        s.validate().unwrap();
        // Files written before recordings were configurable record by default.
        let old = Settings::from_json(r#"{"version":1,"server":{"host":"h"}}"#).unwrap();
        assert!(old.recording.enabled);
        assert_eq!(old.first().server.host, "h");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut s = good();
        s.first_mut().server.host = "".into();
        s.first_mut().server.port = 70000;
        s.first_mut().server.mount = "live".into();
        s.stream.name = "evil\r\nX-Injected: 1".into();
        s.first_mut().audio_bitrate_kbps = 5;
        s.encoding.fps = 0;
        let Invalid(problems) = s.validate().unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["host", "port", "mount", "audio_bitrate_kbps", "name", "fps"]
        );
        assert_eq!(
            problems[1].message,
            "The port must be a number from 1 to 65535 (it is 70000)."
        );
        assert_eq!(
            problems[4].message,
            "The stream name may not contain line breaks or control characters."
        );
        assert_eq!(problems[0].destination, Some(0));
        assert_eq!(problems[4].destination, None);
    }

    #[test]
    fn per_user_mount_appends_username() {
        let mut s = good();
        s.first_mut().server.mount = "/s-".into();
        s.first_mut().server.mount_per_user = true;
        s.first_mut().server.username = "alice".into();
        assert_eq!(s.first().mount(), "/s-alice");
        s.validate().unwrap();
        s.first_mut().server.username = "al ice".into();
        assert_eq!(s.validate().unwrap_err().0[0].field, "mount");
    }

    #[test]
    fn host_with_scheme_gets_a_hint() {
        let mut s = good();
        s.first_mut().server.host = "http://example.org".into();
        assert!(s.validate().unwrap_err().0[0].message.contains("without http://"));
    }

    #[test]
    fn bad_mounts_are_refused() {
        for m in ["/", "/a/../b", "/a b", "/live/", "/x\r\n"] {
            let mut s = good();
            s.first_mut().server.mount = m.into();
            assert!(s.validate().is_err(), "{m:?} should be refused");
        }
    }

    #[test]
    fn password_is_never_written_to_the_file() {
        let s = good();
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("hackme"));
        assert!(!format!("{s:?}").contains("hackme"));
    }

    #[test]
    fn round_trip_and_newer_version_refused() {
        let s = good();
        let back = Settings::from_json(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.first().server.host, "localhost");
        assert_eq!(
            Settings::from_json(r#"{"version": 99}"#),
            Err(FromJsonError::TooNew(99))
        );
        assert!(matches!(
            Settings::from_json("{nope"),
            Err(FromJsonError::Corrupt(_))
        ));
    }

    #[test]
    fn a_version_1_file_becomes_a_list_of_one() {
        let old = r#"{"version":1,"server":{"host":"radio.example.org","port":8443,"tls":true,
            "mount":"/show.mp3","username":"dj"},"encoding":{"format":"mp3",
            "audio_bitrate_kbps":192,"width":1280}}"#;
        let s = Settings::from_json(old).unwrap();
        assert_eq!(s.version, SETTINGS_VERSION);
        assert_eq!(s.destinations.len(), 1);
        let d = s.first();
        assert_eq!(
            (
                d.server.host.as_str(),
                d.server.port,
                d.server.tls,
                d.mount().as_str()
            ),
            ("radio.example.org", 8443, true, "/show.mp3")
        );
        assert_eq!(
            (d.format, d.audio_bitrate_kbps, d.enabled),
            (MountFormat::Mp3, 192, true)
        );
        assert_eq!(s.encoding.width, 1280);
        let saved = serde_json::to_value(&s).unwrap();
        assert!(saved.get("server").is_none() && saved["encoding"].get("format").is_none());
    }

    #[test]
    fn every_destinations_problems_are_named() {
        let mut s = good();
        s.first_mut().name = "Station".into();
        let mut backup = s.first().clone();
        backup.name = "Backup".into();
        backup.server.host = "".into();
        backup.audio_bitrate_kbps = 1000;
        let mut third = s.first().clone();
        third.name = String::new();
        third.server.host = "relay.example.org".into();
        third.server.password = Secret::default();
        s.destinations.extend([backup, third]);
        let Invalid(problems) = s.validate().unwrap_err();
        let said: Vec<(Option<usize>, &str)> = problems
            .iter()
            .map(|p| (p.destination, p.message.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                (
                    Some(1),
                    "Backup: Enter the server's host name, for example icecast.example.org."
                ),
                (
                    Some(1),
                    "Backup: The audio bitrate must be from 16 to 320 kbps (it is 1000 kbps)."
                ),
                (
                    Some(2),
                    "relay.example.org/live: Enter the source password of your Icecast server."
                ),
            ]
        );
        // Off destinations are still checked (they are saved), but need not be reachable.
        s.destinations.truncate(1);
        let mut twin = s.first().clone();
        twin.name = "Twin".into();
        s.destinations.push(twin);
        let Invalid(problems) = s.validate().unwrap_err();
        assert_eq!(
            problems[0].message,
            "Station and Twin both send to localhost:8000/live. A mount takes one source: change one of the mounts."
        );
        s.destinations[1].enabled = false;
        s.validate().unwrap();
        s.destinations[0].enabled = false;
        assert_eq!(s.validate().unwrap_err().0[0].field, "destinations");
    }

    #[test]
    fn only_destinations_with_video_need_the_picture() {
        let mut s = good();
        s.first_mut().format = MountFormat::Mp3;
        s.encoding.width = 1;
        s.validate().unwrap();
        assert!(!s.has_video());
        let mut video = s.first().clone();
        video.format = MountFormat::WebmVideo;
        video.server.mount = "/video".into();
        s.destinations.push(video);
        assert!(s.has_video());
        assert_eq!(s.validate().unwrap_err().0[0].field, "width");
        // One stream per encode: same format and bitrate share it; the picture only matters for video.
        let (a, b) = (
            s.destinations[0].encode(&s.encoding),
            s.destinations[1].encode(&s.encoding),
        );
        assert_ne!(a, b);
        let mut other_mp3 = s.destinations[0].clone();
        other_mp3.server.host = "backup.example.org".into();
        assert_eq!(other_mp3.encode(&s.encoding), a);
    }
}
