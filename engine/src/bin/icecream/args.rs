//! The flags: what to send, and the server, mount and stream info that override the settings file.

use std::io::IsTerminal;
use std::path::PathBuf;

use icecream_engine::net::trust::Fingerprint;
use icecream_engine::{MountFormat, SavedPassword, Secret, Settings};

use clap::Args;

#[derive(Args, Debug)]
#[group(id = "source", required = true, multiple = false, args = ["input", "device"])]
pub(crate) struct StreamArgs {
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// What to send: a WebM or MP4 file, "-" for standard input, or a folder of recorder chunks
    /// (chunk-NNNNN.bin files and chunks.tsv with their arrival times).
    #[arg(short, long, value_name = "PATH")]
    pub(crate) input: Option<PathBuf>,
    /// Broadcast a sound input of this computer instead: its name or id as `icecream devices`
    /// lists them, or "default". Captured at 48 kHz; a lost input is replaced by silence until it
    /// returns, and the broadcast goes on.
    #[arg(short, long, value_name = "NAME")]
    pub(crate) device: Option<String>,
    /// Send as fast as possible instead of at the media's own pace (for tests and benchmarks).
    #[arg(long)]
    pub(crate) fast: bool,
    /// The ffmpeg to use, instead of the bundled one or the one on PATH.
    #[arg(long, value_name = "FILE")]
    pub(crate) ffmpeg: Option<PathBuf>,
    /// Also keep every input byte in a file in this folder, named by date and time (it holds
    /// everything even when the server was away).
    #[arg(long, value_name = "DIR")]
    pub(crate) record: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// Settings file (JSON) to start from; flags override what it says.
    #[arg(short, long, env = "ICECREAM_SETTINGS", value_name = "FILE")]
    pub(crate) settings: Option<PathBuf>,
    /// Icecast server host name or IP address.
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Icecast server port (Icecast's usual port is 8000).
    #[arg(long)]
    pub(crate) port: Option<u32>,
    /// Connect with TLS (https).
    #[arg(long, overrides_with = "no_tls")]
    pub(crate) tls: bool,
    /// Connect without TLS.
    #[arg(long)]
    pub(crate) no_tls: bool,
    /// Trust the server's own certificate (self-signed, or from an authority this computer does not
    /// know) by its SHA-256 fingerprint, as the error shows it (hex; colons allowed). It is kept for
    /// this host and port when the settings are saved. A CA-signed certificate must still name the host.
    #[arg(long, value_name = "SHA256")]
    pub(crate) trust_certificate: Option<Fingerprint>,
    /// Mount point, e.g. /live. With --per-user-mount it is a prefix and the username is appended.
    #[arg(long)]
    pub(crate) mount: Option<String>,
    /// Append the username to the mount (prefix /s- and user alice give /s-alice).
    #[arg(long)]
    pub(crate) per_user_mount: bool,
    /// Source username (usually "source").
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Read the password from the first line of this file (else ICECREAM_PASSWORD, else a prompt).
    /// Give it once per destination, in the settings file's order, for several destinations.
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Vec<PathBuf>,
    /// Use the passwords the Icecream app saved (in this computer's keyring, or the app's private
    /// files where no keyring runs), each destination's own.
    #[arg(long)]
    pub(crate) saved_password: bool,
    /// Mount format: webm-video, webm-audio, ogg-opus, ogg-vorbis, ogg-flac, mp3 or aac.
    #[arg(long)]
    pub(crate) format: Option<MountFormat>,
    /// Stream name shown by the server and players.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Stream description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// Stream genre.
    #[arg(long)]
    pub(crate) genre: Option<String>,
    /// Web page of the stream.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// List the stream in public directories (if the server does that).
    #[arg(long)]
    public: bool,
    /// Audio bitrate in kbps, when the audio is encoded.
    #[arg(long, value_name = "KBPS")]
    pub(crate) audio_bitrate: Option<u32>,
    /// Video bitrate in kbps, when the video is encoded.
    #[arg(long, value_name = "KBPS")]
    pub(crate) video_bitrate: Option<u32>,
    /// Video width in pixels.
    #[arg(long)]
    pub(crate) width: Option<u32>,
    /// Video height in pixels.
    #[arg(long)]
    pub(crate) height: Option<u32>,
    /// Video frame rate.
    #[arg(long)]
    pub(crate) fps: Option<u32>,
}

impl ServerArgs {
    pub(crate) fn settings(&self, need_password: bool) -> Result<Settings, String> {
        let mut s = match &self.settings {
            Some(path) => Settings::load(path).map_err(|e| e.to_string())?,
            None => Settings::default(),
        };
        let first = s.first_mut();
        set(&mut first.format, &self.format);
        set(&mut first.audio_bitrate_kbps, &self.audio_bitrate);
        let srv = &mut first.server;
        set(&mut srv.host, &self.host);
        set(&mut srv.port, &self.port);
        set(&mut srv.mount, &self.mount);
        set(&mut srv.username, &self.user);
        if self.tls {
            srv.tls = true;
        }
        if self.no_tls {
            srv.tls = false;
        }
        if self.per_user_mount {
            srv.mount_per_user = true;
        }
        if let Some(sha256) = self.trust_certificate {
            let (host, port) = (srv.host.trim().to_string(), srv.port.min(u16::MAX as u32) as u16);
            s.trust_certificate(&host, port, sha256);
        }
        let info = &mut s.stream;
        set(&mut info.name, &self.name);
        set(&mut info.description, &self.description);
        set(&mut info.genre, &self.genre);
        set(&mut info.url, &self.url);
        if self.public {
            info.public = true;
        }
        let enc = &mut s.encoding;
        set(&mut enc.video_bitrate_kbps, &self.video_bitrate);
        set(&mut enc.width, &self.width);
        set(&mut enc.height, &self.height);
        set(&mut enc.fps, &self.fps);
        if need_password {
            let several = s.destinations.len() > 1;
            for (i, d) in s.destinations.iter_mut().enumerate() {
                if d.enabled {
                    let label = several.then(|| d.label());
                    d.server.password = self.password(i, &d.id, label.as_deref())?;
                }
            }
        }
        Ok(s)
    }

    /// The password of destination `index` (0-based); `label` names it when there are several.
    fn password(&self, index: usize, id: &str, label: Option<&str>) -> Result<Secret, String> {
        if self.saved_password {
            let dir = SavedPassword::app_dir(&dirs::data_dir().unwrap_or_default());
            return SavedPassword::for_destination(&dir, id)
                .require()
                .map_err(|e| e.to_string());
        }
        if let Some(path) = self.password_file.get(index) {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "The password file {} could not be read: {}.",
                    path.display(),
                    icecream_engine::plain_io_reason(&e)
                )
            })?;
            return Ok(Secret::new(text.lines().next().unwrap_or("")));
        }
        let variable = match index {
            0 => "ICECREAM_PASSWORD".to_string(),
            n => format!("ICECREAM_PASSWORD_{}", n + 1),
        };
        if let Ok(p) = std::env::var(&variable) {
            return Ok(Secret::new(p));
        }
        if index == 0 {
            if let Ok(p) = std::env::var("ICECREAM_PASSWORD_1") {
                return Ok(Secret::new(p));
            }
        }
        let whose = label.map(|l| format!(" for {l}")).unwrap_or_default();
        if std::io::stdin().is_terminal() {
            let p = rpassword::prompt_password(format!("Icecast source password{whose}: "))
                .map_err(|e| format!("The password could not be read: {e}."))?;
            return Ok(Secret::new(p));
        }
        Err(format!(
            "No password given{whose}. Set {variable}, use --password-file FILE, or run in a terminal to be asked."
        ))
    }
}

pub(crate) fn set<T: Clone>(field: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *field = v.clone();
    }
}

pub(crate) fn checked(server: &ServerArgs) -> Result<Settings, String> {
    let s = server.settings(true)?;
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}
