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
    /// comment headers for Ogg, where Icecast 2.4 accepts but does not apply it); WebM and raw
    /// ADTS have no such place.
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
        MountFormat::ALL.into_iter().find(|f| f.id() == s).ok_or_else(|| {
            let ids: Vec<_> = MountFormat::ALL.iter().map(|f| f.id()).collect();
            format!("unknown format \"{s}\"; choose one of {}", ids.join(", "))
        })
    }
}

/// EBML ID of a Matroska Cluster: the first one marks where media (not header) starts.
const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

impl MountFormat {
    /// Bytes sent after the encoder's last output so that Icecast passes all of it on.
    ///
    /// Measured with Icecast 2.4.4: it forwards MP3/AAC streams in 1400-byte blocks and holds the
    /// last 4 bytes of a WebM stream, and drops whatever it holds when the source ends. WebM gets
    /// two empty Void elements (the held bytes are then padding, not media); ADTS gets a block of
    /// zeros, which decoders skip. MP3 is padded with encoded silence by ffmpeg instead, since
    /// decoders complain about zeros there. Ogg needs nothing.
    pub fn end_padding(self) -> Vec<u8> {
        match self {
            MountFormat::WebmVideo | MountFormat::WebmAudio => {
                vec![0xEC, 0x82, 0, 0, 0xEC, 0x82, 0, 0]
            }
            MountFormat::Aac => vec![0; 1400],
            _ => Vec::new(),
        }
    }
}

/// Tells when the encoder's output has got past the stream header to media, i.e. when a listener
/// joining now is served. Icecast drops a WebM listener that arrives before the first Cluster, and
/// Icecast 2.4.4 corrupts an Ogg mount ("refbuf_release next not null", no title ever again) when
/// a title arrives while it is still reading the codec headers: for Ogg, media starts at the first
/// page past the headers (granule position not 0).
#[derive(Debug)]
pub struct MediaStart {
    format: MountFormat,
    tail: Vec<u8>,
    started: bool,
}

impl MediaStart {
    pub fn new(format: MountFormat) -> Self {
        MediaStart {
            format,
            tail: Vec::new(),
            started: false,
        }
    }

    /// Feeds the next output bytes; true once media has started.
    pub fn feed(&mut self, bytes: &[u8]) -> bool {
        if self.started {
            return true;
        }
        // What must be seen, and how many bytes of a read to keep because it may straddle two reads.
        let (found, keep): (fn(&[u8]) -> bool, usize) = match self.format {
            MountFormat::WebmVideo | MountFormat::WebmAudio => (|b| b.windows(4).any(|w| w == CLUSTER_ID), 3),
            MountFormat::OggOpus | MountFormat::OggVorbis => (has_ogg_media_page, OGG_PAGE_HEAD - 1),
            MountFormat::Mp3 | MountFormat::Aac => (|b| !b.is_empty(), 0),
        };
        self.tail.extend_from_slice(bytes);
        self.started = found(&self.tail);
        let keep = self.tail.len().min(keep);
        self.tail.drain(..self.tail.len() - keep);
        self.started
    }
}

/// Where a listener can start: the first place in `bytes` at which the stream can resume after a
/// reconnect (behind the cached stream header): a WebM Cluster, an Ogg page, an MP3 or ADTS frame.
pub fn resume_point(format: MountFormat, bytes: &[u8]) -> Option<usize> {
    match format {
        MountFormat::WebmVideo | MountFormat::WebmAudio => bytes.windows(4).position(|w| w == CLUSTER_ID),
        MountFormat::OggOpus | MountFormat::OggVorbis => {
            bytes.windows(5).position(|w| w.starts_with(b"OggS") && w[4] == 0)
        }
        MountFormat::Mp3 => bytes.windows(2).position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0),
        MountFormat::Aac => bytes.windows(2).position(|w| w[0] == 0xFF && w[1] & 0xF6 == 0xF0),
    }
}

/// Where the stream header (what a reconnect sends again first) ends: WebM before its first
/// Cluster, Ogg before its first page past the codec headers. MP3 and AAC have none.
pub fn header_end(format: MountFormat, bytes: &[u8]) -> Option<usize> {
    match format {
        MountFormat::WebmVideo | MountFormat::WebmAudio => resume_point(format, bytes),
        MountFormat::OggOpus | MountFormat::OggVorbis => bytes.windows(OGG_PAGE_HEAD).position(|w| {
            w.starts_with(b"OggS") && w[4] == 0 && u64::from_le_bytes(w[6..14].try_into().unwrap()) != 0
        }),
        MountFormat::Mp3 | MountFormat::Aac => Some(0),
    }
}

/// Bytes of an Ogg page header up to and including the granule position.
const OGG_PAGE_HEAD: usize = 14;

fn has_ogg_media_page(bytes: &[u8]) -> bool {
    header_end(MountFormat::OggVorbis, bytes).is_some()
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
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]), Some(Container::Webm));
        assert_eq!(sniff(b"\0\0\0\x18ftypiso5"), Some(Container::Mp4));
        assert_eq!(sniff(b"RIFF....WAVE"), None);
    }

    #[test]
    fn media_starts_at_the_first_cluster_even_across_reads() {
        let mut m = MediaStart::new(MountFormat::WebmVideo);
        assert!(!m.feed(&[0x1A, 0x45, 0xDF, 0xA3, 0x1F, 0x43]));
        assert!(m.feed(&[0xB6, 0x75, 0x01]));
        let mut m = MediaStart::new(MountFormat::OggVorbis);
        let header_page = [b"OggS".as_slice(), &[0, 2], &[0; 8], &[1, 2, 3]].concat();
        assert!(!m.feed(&header_page));
        let audio_page = [b"OggS".as_slice(), &[0, 0], &960u64.to_le_bytes()].concat();
        assert!(!m.feed(&audio_page[..9]));
        assert!(m.feed(&audio_page[9..]));
        let mut m = MediaStart::new(MountFormat::Mp3);
        assert!(!m.feed(&[]));
        assert!(m.feed(&[0xFF, 0xFB]));
    }

    #[test]
    fn ids_round_trip() {
        for f in MountFormat::ALL {
            assert_eq!(f.id().parse::<MountFormat>().unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{}\"", f.id()));
        }
    }
}
