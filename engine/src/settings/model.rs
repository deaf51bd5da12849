//! What a broadcast needs to know: the destinations (server, mount, format), the stream's public
//! info, the picture and the local recording.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::media::format::MountFormat;
use crate::net::trust::{Fingerprint, TrustedCertificate};
use crate::secrets::Secret;

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
    /// The sound input a sound-only broadcast captures, by its stable id (`capture::inputs`);
    /// None follows the system's default wherever it moves.
    pub sound_input: Option<String>,
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
            sound_input: None,
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

impl Settings {
    /// Radio in one step: each switched-on destination whose format needs a picture gets the sound
    /// format `format` instead, and its mount the format's ending when it still had the old one
    /// (`/live.webm` becomes `/live.opus`; a mount the person named otherwise is left alone).
    /// Returns whether anything changed.
    pub fn make_sound_only(&mut self, format: MountFormat) -> bool {
        if format.has_video() {
            return false;
        }
        let mut changed = false;
        for d in self
            .destinations
            .iter_mut()
            .filter(|d| d.enabled && d.format.has_video())
        {
            let old = format!(".{}", d.format.extension());
            if let Some(stem) = d.server.mount.strip_suffix(&old) {
                d.server.mount = format!("{stem}.{}", format.extension());
            }
            d.format = format;
            changed = true;
        }
        changed
    }

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
}

/// Shows control characters as escapes so an error message never carries them itself.
pub(super) fn printable(s: &str) -> String {
    s.chars().flat_map(|c| c.escape_debug()).collect()
}
