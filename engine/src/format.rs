//! The formats a mount can carry, and what the recorder hands us.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MountFormat {
    #[default]
    WebmVideo,
    WebmAudio,
    OggOpus,
    OggVorbis,
    Mp3,
    Aac,
}

impl MountFormat {
    pub const ALL: [MountFormat; 6] = [
        MountFormat::WebmVideo,
        MountFormat::WebmAudio,
        MountFormat::OggOpus,
        MountFormat::OggVorbis,
        MountFormat::Mp3,
        MountFormat::Aac,
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            MountFormat::WebmVideo => "video/webm",
            MountFormat::WebmAudio => "audio/webm",
            MountFormat::OggOpus | MountFormat::OggVorbis => "audio/ogg",
            MountFormat::Mp3 => "audio/mpeg",
            MountFormat::Aac => "audio/aac",
        }
    }

    pub fn has_video(self) -> bool {
        self == MountFormat::WebmVideo
    }

    /// Icecast can change the title only inside streams that carry it in-band (ICY for MP3,
    /// comment headers for Ogg); WebM and raw ADTS have no such place.
    pub fn supports_now_playing(self) -> bool {
        matches!(
            self,
            MountFormat::Mp3 | MountFormat::OggOpus | MountFormat::OggVorbis
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            MountFormat::WebmVideo => "WebM video",
            MountFormat::WebmAudio => "WebM audio",
            MountFormat::OggOpus => "Ogg Opus",
            MountFormat::OggVorbis => "Ogg Vorbis",
            MountFormat::Mp3 => "MP3",
            MountFormat::Aac => "AAC",
        }
    }

    /// The token used in settings files and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            MountFormat::WebmVideo => "webm-video",
            MountFormat::WebmAudio => "webm-audio",
            MountFormat::OggOpus => "ogg-opus",
            MountFormat::OggVorbis => "ogg-vorbis",
            MountFormat::Mp3 => "mp3",
            MountFormat::Aac => "aac",
        }
    }

    /// A file name ending for recordings of what the mount carries.
    pub fn extension(self) -> &'static str {
        match self {
            MountFormat::WebmVideo | MountFormat::WebmAudio => "webm",
            MountFormat::OggOpus => "opus",
            MountFormat::OggVorbis => "ogg",
            MountFormat::Mp3 => "mp3",
            MountFormat::Aac => "aac",
        }
    }
}

impl std::str::FromStr for MountFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MountFormat::ALL
            .into_iter()
            .find(|f| f.id() == s)
            .ok_or_else(|| {
                let ids: Vec<_> = MountFormat::ALL.iter().map(|f| f.id()).collect();
                format!("unknown format \"{s}\"; choose one of {}", ids.join(", "))
            })
    }
}

/// The container the recorder produced, known from its first bytes rather than a mime string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// WebM or Matroska (EBML magic).
    Webm,
    /// MP4, usually fragmented (an `ftyp` box first).
    Mp4,
}

/// How many bytes `sniff` needs before it can answer.
pub const SNIFF_LEN: usize = 12;

pub fn sniff(head: &[u8]) -> Option<Container> {
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Container::Webm);
    }
    if head.len() >= 8 && &head[4..8] == b"ftyp" {
        return Some(Container::Mp4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_ebml_and_ftyp() {
        assert_eq!(
            sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]),
            Some(Container::Webm)
        );
        assert_eq!(sniff(b"\0\0\0\x18ftypiso5"), Some(Container::Mp4));
        assert_eq!(sniff(b"RIFF....WAVE"), None);
    }

    #[test]
    fn ids_round_trip() {
        for f in MountFormat::ALL {
            assert_eq!(f.id().parse::<MountFormat>().unwrap(), f);
            assert_eq!(
                serde_json::to_string(&f).unwrap(),
                format!("\"{}\"", f.id())
            );
        }
    }
}
