//! Reads a live WebM stream block by block, from chunks that split its elements anywhere.
//!
//! Hand-written rather than a crate: the Matroska crates read files (Read + Seek, whole
//! elements, known sizes), and a live stream has unknown-size Segment and Clusters, arrives in
//! pieces cut wherever the recorder liked, and must yield each block the moment its last byte is
//! in. Only the element being read is held: a block, the header, or nothing while skipping.

use super::ebml::{self, Header};
use super::MediaError;

pub const EBML_HEADER: u32 = 0x1A45_DFA3;
pub const SEGMENT: u32 = 0x1853_8067;
pub const CLUSTER: u32 = 0x1F43_B675;
pub const INFO: u32 = 0x1549_A966;
pub const TRACKS: u32 = 0x1654_AE6B;
pub const TIMECODE: u32 = 0xE7;
pub const SIMPLE_BLOCK: u32 = 0xA3;
pub const BLOCK_GROUP: u32 = 0xA0;
const BLOCK: u32 = 0xA1;
const REFERENCE_BLOCK: u32 = 0xFB;
pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
pub const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
const AUDIO: u32 = 0xE1;
const CHANNELS: u32 = 0x9F;
const CODEC_DELAY: u32 = 0x56AA;

/// What may follow a Cluster inside a Segment: seeing one of these ends an unknown-size Cluster.
const SEGMENT_CHILDREN: [u32; 8] = [
    0x114D_9B74, // SeekHead
    INFO,
    TRACKS,
    CLUSTER,
    0x1C53_BB6B, // Cues
    0x1254_C367, // Tags
    0x1043_A770, // Chapters
    0x1941_A469, // Attachments
];

/// Limits on what is held whole; no real live stream comes near them, garbage easily does.
const MAX_HEADER_ELEMENT: u64 = 1 << 20;
const MAX_BLOCK: u64 = 16 << 20;
const MAX_SKIP: u64 = 64 << 20;

/// One track of the stream, as its TrackEntry describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    pub number: u64,
    /// 1 video, 2 audio (Matroska's TrackType).
    pub kind: u64,
    pub codec: String,
    pub codec_private: Vec<u8>,
    pub channels: u64,
    /// Opus's pre-skip, in nanoseconds, where the muxer gave it (CodecDelay).
    pub codec_delay_ns: u64,
    /// The whole TrackEntry body, written again as it came.
    pub entry: Vec<u8>,
}

impl Track {
    pub fn is_video(&self) -> bool {
        self.kind == 1
    }
    pub fn is_audio(&self) -> bool {
        self.kind == 2
    }
    /// The same track, as far as a decoder that has already started is concerned.
    pub fn same_as(&self, other: &Track) -> bool {
        (self.number, self.kind, &self.codec, &self.codec_private)
            == (other.number, other.kind, &other.codec, &other.codec_private)
    }
}

/// The stream's header: its time unit and tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracks {
    /// Nanoseconds per timestamp unit (1 ms unless the muxer said otherwise).
    pub scale: u64,
    pub list: Vec<Track>,
}

impl Tracks {
    pub fn video(&self) -> Option<&Track> {
        self.list.iter().find(|t| t.is_video())
    }
    pub fn audio(&self) -> Option<&Track> {
        self.list.iter().find(|t| t.is_audio())
    }
}

/// One SimpleBlock or BlockGroup, with its absolute time.
#[derive(Clone, Debug)]
pub struct Block {
    pub track: u64,
    /// Absolute, in the stream's timestamp units.
    pub time: i64,
    pub keyframe: bool,
    /// The element's body as it came (SimpleBlock, or the whole BlockGroup).
    raw: Vec<u8>,
    group: bool,
    /// Where the Block's relative timestamp sits in `raw`.
    time_at: usize,
}

impl Block {
    pub fn element_id(&self) -> u32 {
        if self.group {
            BLOCK_GROUP
        } else {
            SIMPLE_BLOCK
        }
    }

    /// The element body with the timestamp relative to a new Cluster's.
    pub fn body_relative_to(&self, relative: i16) -> Vec<u8> {
        let mut raw = self.raw.clone();
        raw[self.time_at..self.time_at + 2].copy_from_slice(&relative.to_be_bytes());
        raw
    }

    /// The frames the block carries, unlaced.
    pub fn frames(&self) -> Result<Vec<&[u8]>, MediaError> {
        let flags = self.raw[self.time_at + 2];
        let data = &self.raw[self.time_at + 3..self.block_end()];
        unlace(flags, data).ok_or(MediaError::Damaged("a block's frames do not add up"))
    }

    fn block_end(&self) -> usize {
        if !self.group {
            return self.raw.len();
        }
        // The Block is a child of the group; find where it ends.
        let mut at = 0;
        for (id, body) in ebml::children(&self.raw) {
            let start = body.as_ptr() as usize - self.raw.as_ptr() as usize;
            if id == BLOCK {
                return start + body.len();
            }
            at = start + body.len();
        }
        at
    }
}

/// Splits a block's data by its lacing (Matroska: none, Xiph, fixed-size or EBML).
fn unlace(flags: u8, data: &[u8]) -> Option<Vec<&[u8]>> {
    let lacing = (flags >> 1) & 3;
    if lacing == 0 {
        return Some(vec![data]);
    }
    let count = *data.first()? as usize + 1;
    let mut at = 1;
    let mut sizes = Vec::with_capacity(count);
    match lacing {
        1 => {
            for _ in 0..count - 1 {
                let mut size = 0usize;
                loop {
                    let b = *data.get(at)?;
                    at += 1;
                    size += b as usize;
                    if b != 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        3 => {
            let (first, len) = ebml::read_size(data.get(at..)?)?;
            at += len;
            let mut size = first? as i64;
            sizes.push(size as usize);
            for _ in 1..count - 1 {
                let (raw, len) = ebml::read_size(data.get(at..)?)?;
                let bias = (1i64 << (7 * len - 1)) - 1;
                at += len;
                size += raw? as i64 - bias;
                sizes.push(usize::try_from(size).ok()?);
            }
        }
        _ => {
            let rest = data.len().checked_sub(at)?;
            if rest % count != 0 {
                return None;
            }
            sizes = vec![rest / count; count - 1];
        }
    }
    let mut frames = Vec::with_capacity(count);
    for size in sizes {
        frames.push(data.get(at..at.checked_add(size)?)?);
        at += size;
    }
    frames.push(data.get(at..)?);
    Some(frames)
}

/// What the reader found in the bytes given to it.
#[derive(Debug)]
pub enum Event {
    /// The stream's header (again, when the recorder started a new stream).
    Tracks(Tracks),
    Block(Block),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Top,
    Segment,
    Cluster,
}

#[derive(Debug)]
pub struct WebmReader {
    buf: Vec<u8>,
    /// Absolute stream offset of `buf[0]`.
    pos: u64,
    level: Level,
    segment_end: Option<u64>,
    cluster_end: Option<u64>,
    cluster_time: Option<i64>,
    /// Bytes of an element being stepped over without being held.
    skip: u64,
    scale: u64,
    tracks: Option<Tracks>,
    seen_ebml: bool,
}

impl Default for WebmReader {
    fn default() -> Self {
        WebmReader {
            buf: Vec::new(),
            pos: 0,
            level: Level::Top,
            segment_end: None,
            cluster_end: None,
            cluster_time: None,
            skip: 0,
            scale: 1_000_000,
            tracks: None,
            seen_ebml: false,
        }
    }
}

impl WebmReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stream's header, once read.
    pub fn tracks(&self) -> Option<&Tracks> {
        self.tracks.as_ref()
    }

    /// Forgets a half-read element and waits for a new stream (an encoder that died mid-element
    /// and a new one taking over). The header read so far is kept for comparison.
    pub fn restart(&mut self) {
        let tracks = self.tracks.take();
        *self = WebmReader {
            tracks,
            ..Default::default()
        };
    }

    /// Takes the next bytes; every block completed by them comes out, in order.
    pub fn push(&mut self, mut data: &[u8], events: &mut Vec<Event>) -> Result<(), MediaError> {
        if self.buf.is_empty() && self.skip > 0 {
            let n = (self.skip as usize).min(data.len());
            self.skip -= n as u64;
            self.pos += n as u64;
            data = &data[n..];
        }
        self.buf.extend_from_slice(data);
        let mut at = 0;
        let result = self.parse(&mut at, events);
        self.buf.drain(..at);
        self.pos += at as u64;
        result
    }

    fn parse(&mut self, at: &mut usize, events: &mut Vec<Event>) -> Result<(), MediaError> {
        loop {
            let here = self.pos + *at as u64;
            if self.level == Level::Cluster && self.cluster_end.is_some_and(|e| here >= e) {
                self.level = Level::Segment;
            }
            if self.level == Level::Segment && self.segment_end.is_some_and(|e| here >= e) {
                self.level = Level::Top;
            }
            if self.skip > 0 {
                let n = (self.skip as usize).min(self.buf.len() - *at);
                self.skip -= n as u64;
                *at += n;
                if self.skip > 0 {
                    return Ok(());
                }
                continue;
            }
            let rest = &self.buf[*at..];
            let (id, size, head) = match ebml::read_header(rest) {
                Ok(h) => h,
                Err(Header::Incomplete) => return Ok(()),
                Err(Header::Invalid) if !self.seen_ebml => return Err(MediaError::NotMedia),
                Err(Header::Invalid) => return Err(MediaError::Damaged("an element could not be read")),
            };
            // An unknown-size element ends where something that cannot be inside it begins.
            let ends_segment = id == EBML_HEADER || id == SEGMENT;
            if self.level == Level::Cluster && (ends_segment || SEGMENT_CHILDREN.contains(&id)) {
                self.level = Level::Segment;
                continue;
            }
            if self.level == Level::Segment && ends_segment {
                self.level = Level::Top;
                continue;
            }
            let end_of_head = here + head as u64;
            match (self.level, id) {
                (Level::Top, SEGMENT) if self.seen_ebml => {
                    *at += head;
                    self.level = Level::Segment;
                    self.segment_end = size.map(|s| end_of_head + s);
                    self.scale = 1_000_000;
                    continue;
                }
                (Level::Segment, CLUSTER) => {
                    *at += head;
                    self.level = Level::Cluster;
                    self.cluster_end = size.map(|s| end_of_head + s);
                    self.cluster_time = None;
                    continue;
                }
                _ => {}
            }
            let limit = match (self.level, id) {
                (Level::Top, EBML_HEADER) | (Level::Segment, INFO | TRACKS) | (Level::Cluster, TIMECODE) => {
                    MAX_HEADER_ELEMENT
                }
                (Level::Cluster, SIMPLE_BLOCK | BLOCK_GROUP) => MAX_BLOCK,
                (Level::Top, _) if !self.seen_ebml => return Err(MediaError::NotMedia),
                _ => {
                    // Anything else (SeekHead, Cues, Void, CRC-32, …) is stepped over.
                    let size = size.ok_or(MediaError::Damaged("an element of unknown size"))?;
                    if size > MAX_SKIP {
                        return Err(MediaError::Damaged("an element larger than any in a live stream"));
                    }
                    *at += head;
                    self.skip = size;
                    continue;
                }
            };
            let size = match size {
                Some(s) if s <= limit => s as usize,
                _ if !self.seen_ebml => return Err(MediaError::NotMedia),
                _ => return Err(MediaError::Damaged("an element larger than any in a live stream")),
            };
            if rest.len() < head + size {
                return Ok(());
            }
            let body = &rest[head..head + size];
            match id {
                EBML_HEADER => self.seen_ebml = true,
                INFO => {
                    if let Some((_, v)) = ebml::children(body).find(|(id, _)| *id == TIMECODE_SCALE) {
                        self.scale = ebml::read_uint(v).max(1);
                    }
                }
                TRACKS => {
                    let tracks = read_tracks(body, self.scale)?;
                    self.tracks = Some(tracks.clone());
                    events.push(Event::Tracks(tracks));
                }
                TIMECODE => self.cluster_time = Some(ebml::read_uint(body) as i64),
                _ => {
                    let cluster_time = self
                        .cluster_time
                        .ok_or(MediaError::Damaged("a block came before its Cluster's time"))?;
                    let block = read_block(body, id == BLOCK_GROUP, cluster_time)?;
                    events.push(Event::Block(block));
                }
            }
            *at += head + size;
        }
    }
}

fn read_tracks(body: &[u8], scale: u64) -> Result<Tracks, MediaError> {
    let mut list = Vec::new();
    for (_, entry) in ebml::children(body).filter(|(id, _)| *id == TRACK_ENTRY) {
        let mut t = Track {
            number: 0,
            kind: 0,
            codec: String::new(),
            codec_private: Vec::new(),
            channels: 1,
            codec_delay_ns: 0,
            entry: entry.to_vec(),
        };
        for (id, v) in ebml::children(entry) {
            match id {
                TRACK_NUMBER => t.number = ebml::read_uint(v),
                TRACK_TYPE => t.kind = ebml::read_uint(v),
                CODEC_ID => t.codec = String::from_utf8_lossy(v).trim_end_matches('\0').to_string(),
                CODEC_PRIVATE => t.codec_private = v.to_vec(),
                CODEC_DELAY => t.codec_delay_ns = ebml::read_uint(v),
                AUDIO => {
                    if let Some((_, c)) = ebml::children(v).find(|(id, _)| *id == CHANNELS) {
                        t.channels = ebml::read_uint(c);
                    }
                }
                _ => {}
            }
        }
        if t.number == 0 {
            return Err(MediaError::Damaged("a track without a number"));
        }
        list.push(t);
    }
    Ok(Tracks { scale, list })
}

fn read_block(body: &[u8], group: bool, cluster_time: i64) -> Result<Block, MediaError> {
    const SHORT: MediaError = MediaError::Damaged("a block too short to be one");
    let (block_at, block, has_reference) = if group {
        let mut found = None;
        let mut reference = false;
        for (id, child) in ebml::children(body) {
            match id {
                BLOCK => found = Some((child.as_ptr() as usize - body.as_ptr() as usize, child)),
                REFERENCE_BLOCK => reference = true,
                _ => {}
            }
        }
        let (at, block) = found.ok_or(MediaError::Damaged("a block group without a block"))?;
        (at, block, reference)
    } else {
        (0, body, false)
    };
    let (track, track_len) = match ebml::read_size(block) {
        Some((Some(t), len)) => (t, len),
        _ => return Err(SHORT),
    };
    let rel = block.get(track_len..track_len + 2).ok_or(SHORT)?;
    let flags = *block.get(track_len + 2).ok_or(SHORT)?;
    let keyframe = if group { !has_reference } else { flags & 0x80 != 0 };
    Ok(Block {
        track,
        time: cluster_time + i16::from_be_bytes([rel[0], rel[1]]) as i64,
        keyframe,
        raw: body.to_vec(),
        group,
        time_at: block_at + track_len,
    })
}

/// A whole stream's one header and its blocks, for the tests of what writes one.
#[cfg(test)]
pub(crate) fn read_whole(bytes: &[u8]) -> (Tracks, Vec<Block>) {
    let mut events = Vec::new();
    WebmReader::new().push(bytes, &mut events).unwrap();
    let mut tracks = None;
    let mut blocks = Vec::new();
    for e in events {
        match e {
            Event::Tracks(t) => assert!(tracks.replace(t).is_none(), "one header"),
            Event::Block(b) => blocks.push(b),
        }
    }
    (tracks.expect("a header"), blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlaces_each_kind() {
        let frames = [&[1u8, 2, 3][..], &[4, 5], &[6]];
        assert_eq!(unlace(0, &[9, 9]).unwrap(), vec![&[9u8, 9][..]]);
        // Xiph: count - 1, then sizes.
        let xiph = [&[2u8, 3, 2][..], &[1, 2, 3, 4, 5, 6]].concat();
        assert_eq!(unlace(0b010, &xiph).unwrap(), frames.to_vec());
        // EBML: first size as a vint, then signed differences (2 - 3 = -1 → 0xBE with bias 63).
        let ebml_laced = [&[2u8, 0x83, 0xBE][..], &[1, 2, 3, 4, 5, 6]].concat();
        assert_eq!(unlace(0b110, &ebml_laced).unwrap(), frames.to_vec());
        let fixed = [&[1u8][..], &[1, 2, 3, 4]].concat();
        assert_eq!(unlace(0b100, &fixed).unwrap(), vec![&[1u8, 2][..], &[3, 4]]);
        assert!(unlace(0b100, &[1, 1, 2, 3]).is_none());
        assert!(unlace(0b010, &[5, 200]).is_none());
    }
}
