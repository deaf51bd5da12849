//! The formats a mount can carry, and what the recorder hands us.

use serde::{Deserialize, Serialize};

use crate::media::ebml::{read_id, read_size, read_uint};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum MountFormat {
    #[default]
    WebmVideo,
    WebmAudio,
    OggOpus,
    OggVorbis,
    /// Lossless: every sample as captured, for radio that cares (BUTT and DarkIce offer it too).
    OggFlac,
    Mp3,
    Aac,
}

impl MountFormat {
    pub const ALL: [MountFormat; 7] = [
        MountFormat::WebmVideo,
        MountFormat::WebmAudio,
        MountFormat::OggOpus,
        MountFormat::OggVorbis,
        MountFormat::OggFlac,
        MountFormat::Mp3,
        MountFormat::Aac,
    ];

    pub fn content_type(self) -> &'static str {
        match self {
            MountFormat::WebmVideo => "video/webm",
            MountFormat::WebmAudio => "audio/webm",
            MountFormat::OggOpus | MountFormat::OggVorbis | MountFormat::OggFlac => "audio/ogg",
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
            MountFormat::OggFlac => "Ogg FLAC (lossless)",
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
            MountFormat::OggFlac => "ogg-flac",
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
            MountFormat::OggFlac => "oga",
            MountFormat::Mp3 => "mp3",
            MountFormat::Aac => "aac",
        }
    }

    /// The engine writes this container itself, from the recorder's WebM or from ffmpeg's (WebM
    /// with keyframe-led Clusters, Ogg Opus with a page per packet), so each piece of output it
    /// queues is whole blocks or pages: output can be dropped from any piece on.
    pub fn written_by_engine(self) -> bool {
        matches!(
            self,
            MountFormat::WebmVideo | MountFormat::WebmAudio | MountFormat::OggOpus
        )
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
/// page past the headers (granule position not 0). The server may read those pages a while after
/// they were sent, so a title also waits until status-json names the codec (icecast::codec_read).
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
            MountFormat::OggOpus | MountFormat::OggVorbis | MountFormat::OggFlac => {
                (has_ogg_media_page, OGG_PAGE_HEAD - 1)
            }
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
        MountFormat::OggOpus | MountFormat::OggVorbis | MountFormat::OggFlac => {
            bytes.windows(5).position(|w| w.starts_with(b"OggS") && w[4] == 0)
        }
        MountFormat::Mp3 => bytes.windows(2).position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0),
        MountFormat::Aac => bytes.windows(2).position(|w| w[0] == 0xFF && w[1] & 0xF6 == 0xF0),
    }
}

/// The track number of the video track in a WebM header (EBML header, Segment, Tracks), if any.
pub fn webm_video_track(header: &[u8]) -> Option<u64> {
    const SEGMENT: u32 = 0x1853_8067;
    const TRACKS: u32 = 0x1654_AE6B;
    const TRACK_ENTRY: u32 = 0xAE;
    const TRACK_NUMBER: u32 = 0xD7;
    const TRACK_TYPE: u32 = 0x83;
    fn walk(mut b: &[u8]) -> Option<u64> {
        let (mut number, mut kind) = (None, None);
        while let Some((id, id_len)) = read_id(b) {
            let (size, size_len) = read_size(&b[id_len..])?;
            let body = &b[id_len + size_len..];
            let body = size.map_or(body, |n| &body[..(n as usize).min(body.len())]);
            match id {
                SEGMENT | TRACKS | TRACK_ENTRY => {
                    if let Some(track) = walk(body) {
                        return Some(track);
                    }
                }
                TRACK_NUMBER => number = Some(read_uint(body)),
                TRACK_TYPE => kind = Some(read_uint(body)),
                _ => {}
            }
            if let (Some(n), Some(1)) = (number, kind) {
                return Some(n);
            }
            b = &b[(id_len + size_len + body.len()).min(b.len())..];
        }
        None
    }
    walk(header)
}

/// Where a WebM video stream can resume so that a listener's (or a decoder's) first picture is
/// whole: a Cluster whose first block of the video track is a keyframe. Blocks of other tracks
/// before it (a recorder often puts audio first) are fine.
pub fn webm_keyframe_cluster(bytes: &[u8], video_track: u64) -> Option<usize> {
    const SIMPLE_BLOCK: u32 = 0xA3;
    let starts_with_keyframe = |c: &[u8]| -> Option<bool> {
        let (_, size_len) = read_size(&c[4..])?;
        let mut at = 4 + size_len;
        loop {
            let (id, id_len) = read_id(&c[at..])?;
            let (size, len) = read_size(&c[at + id_len..])?;
            let body = at + id_len + len;
            match (id, size) {
                (SIMPLE_BLOCK, _) => {
                    let (track, track_len) = read_size(&c[body..])?;
                    if track == Some(video_track) {
                        return Some(*c.get(body + track_len + 2)? & 0x80 != 0);
                    }
                }
                // The next Cluster, or something this walk cannot step over.
                (CLUSTER_ID_U32, _) | (_, None) => return Some(false),
                _ => {}
            }
            at = body + size? as usize;
        }
    };
    (0..bytes.len().saturating_sub(4))
        .find(|&i| bytes[i..i + 4] == CLUSTER_ID && starts_with_keyframe(&bytes[i..]) == Some(true))
}

const CLUSTER_ID_U32: u32 = u32::from_be_bytes(CLUSTER_ID);

/// While looking for a resume point, the bytes that must be kept for the next look: from the last
/// Cluster start (its first video block may not have arrived yet), or the last 64 bytes (enough
/// for any Cluster, fragment, page or frame header to straddle two reads).
pub fn keep_from(bytes: &[u8]) -> usize {
    let tail = bytes.len().saturating_sub(64);
    bytes
        .windows(4)
        .rposition(|w| w == CLUSTER_ID)
        .map_or(tail, |i| i.min(tail))
}

/// A stream's header, gathered from its first bytes until `header_end` finds where it ends: what a
/// reconnect, or a destination joining the stream later, sends first.
#[derive(Default)]
pub struct HeaderCache {
    pub bytes: Vec<u8>,
    pub done: bool,
}

impl HeaderCache {
    /// Takes the stream's next bytes while the header is under way. True when this completed it
    /// (`bytes` is then the whole header).
    pub fn feed(&mut self, format: MountFormat, data: &[u8]) -> bool {
        if self.done {
            return false;
        }
        self.bytes.extend_from_slice(data);
        if let Some(end) = header_end(format, &self.bytes) {
            self.bytes.truncate(end);
            self.done = true;
        }
        self.done
    }
}

/// Where the stream header (what a reconnect sends again first) ends: WebM before its first
/// Cluster, Ogg before its first page past the codec headers. MP3 and AAC have none.
pub fn header_end(format: MountFormat, bytes: &[u8]) -> Option<usize> {
    match format {
        MountFormat::WebmVideo | MountFormat::WebmAudio => resume_point(format, bytes),
        MountFormat::OggOpus | MountFormat::OggVorbis | MountFormat::OggFlac => {
            bytes.windows(OGG_PAGE_HEAD).position(|w| {
                w.starts_with(b"OggS") && w[4] == 0 && u64::from_le_bytes(w[6..14].try_into().unwrap()) != 0
            })
        }
        MountFormat::Mp3 | MountFormat::Aac => Some(0),
    }
}

/// Bytes of an Ogg page header up to and including the granule position.
const OGG_PAGE_HEAD: usize = 14;

fn has_ogg_media_page(bytes: &[u8]) -> bool {
    header_end(MountFormat::OggVorbis, bytes).is_some()
}

/// Where a decoder can start reading the recorder's stream behind its header: a WebM Cluster (its
/// ID, a size, then its Timecode, so that the ID's bytes inside a frame are not taken for one) or
/// an MP4 fragment (`moof` then `mfhd`). Used to cache the header and to restart the encoder.
pub fn input_sync_point(container: Container, bytes: &[u8]) -> Option<usize> {
    match container {
        Container::Webm => (0..bytes.len().saturating_sub(4)).find(|&i| {
            if bytes[i..i + 4] != CLUSTER_ID {
                return false;
            }
            let size_len = bytes[i + 4].leading_zeros() as usize + 1;
            size_len <= 8 && bytes.get(i + 4 + size_len) == Some(&0xE7)
        }),
        Container::Mp4 => (0..bytes.len().saturating_sub(15))
            .find(|&i| &bytes[i + 4..i + 8] == b"moof" && &bytes[i + 12..i + 16] == b"mfhd"),
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

/// Whether an EBML stream's header says Matroska rather than WebM (DocType "matroska": the
/// engine's captured PCM), from its first bytes.
pub fn is_matroska(head: &[u8]) -> bool {
    const DOC_TYPE: &[u8] = b"\x42\x82\x88matroska";
    head.windows(DOC_TYPE.len()).take(64).any(|w| w == DOC_TYPE)
}

/// Whether a stream's header (all of it in `head`) names a picture track.
pub fn has_picture(head: &[u8]) -> bool {
    let mut reader = super::webm_reader::WebmReader::new();
    let _ = reader.push(head, &mut Vec::new());
    reader.tracks().is_some_and(|t| t.video().is_some())
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
    fn input_resumes_at_a_real_cluster_or_fragment() {
        // A Cluster ID inside frame data, not followed by a size and a Timecode, is no Cluster.
        let webm = [
            &[0x1F, 0x43, 0xB6, 0x75, 0x00, 0x00][..],
            &[
                0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE7, 0x81,
            ],
        ]
        .concat();
        assert_eq!(input_sync_point(Container::Webm, &webm), Some(6));
        assert_eq!(input_sync_point(Container::Webm, &webm[..10]), None);
        let mp4 = [&b"\0\0\0\x08free"[..], b"\0\0\0\x40moof\0\0\0\x10mfhd"].concat();
        assert_eq!(input_sync_point(Container::Mp4, &mp4), Some(8));
        assert_eq!(input_sync_point(Container::Mp4, b"moofmfhd"), None);
    }

    #[test]
    fn finds_the_video_track_and_its_keyframe_clusters() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus/webm-vp8-opus-250ms"
        );
        let entries = crate::input::chunk_folder(std::path::Path::new(dir)).unwrap();
        let all: Vec<u8> = entries
            .iter()
            .flat_map(|e| std::fs::read(&e.path).unwrap())
            .collect();
        let header_len = header_end(MountFormat::WebmVideo, &all).unwrap();
        let track = webm_video_track(&all[..header_len]).expect("a video track");
        let mut keyframes = vec![];
        let mut at = header_len;
        while let Some(i) = webm_keyframe_cluster(&all[at..], track) {
            keyframes.push(at + i);
            at += i + 4;
        }
        // Chromium puts a keyframe every 5.04 s, after the audio of its Cluster: 4 in this 20 s
        // recording.
        assert_eq!(keyframes.len(), 4, "{keyframes:?}");
        assert_eq!(keyframes[0], header_len);
    }

    #[test]
    fn ids_round_trip() {
        for f in MountFormat::ALL {
            assert_eq!(f.id().parse::<MountFormat>().unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{}\"", f.id()));
        }
    }
}
