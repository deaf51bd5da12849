//! Live Matroska of any tracks: the header once, then each block the moment it is given, in
//! Clusters of unknown size so that nothing waits for a Cluster to be complete. The engine's own
//! streams are written this way: the captured sound alone (`audio_mka`), and the page's picture
//! beside the captured sound (`capture::picture`), in milliseconds.

use super::ebml;
use super::webm_reader::{
    CLUSTER, EBML_HEADER, INFO, SEGMENT, SIMPLE_BLOCK, TIMECODE, TIMECODE_SCALE, TRACKS, TRACK_ENTRY,
};

/// How long a Cluster runs at most: a recording can be seeked in, a player can start, every second.
const CLUSTER_MS: i64 = 1000;

#[derive(Debug)]
pub struct LiveMatroska {
    cluster: Option<i64>,
    /// Its keyframes begin Clusters, so that every Cluster of a picture starts with one.
    video: Option<u64>,
}

impl LiveMatroska {
    /// A writer for the tracks whose TrackEntry bodies are given (each holds its number);
    /// returns it with the stream's header. `video`: the picture's track number.
    pub fn new(entries: &[Vec<u8>], video: Option<u64>) -> (LiveMatroska, Vec<u8>) {
        (LiveMatroska { cluster: None, video }, header(entries))
    }

    /// One block of `track` at `time` ms.
    pub fn write(&mut self, track: u64, time: i64, keyframe: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 32);
        let starts_cluster = match self.cluster {
            None => true,
            Some(c) if Some(track) == self.video && keyframe && time > c => true,
            // A block a little before its Cluster's time (a late picture) still fits in 16 bits.
            Some(c) => time - c >= CLUSTER_MS || i16::try_from(time - c).is_err(),
        };
        if starts_cluster {
            ebml::write_id(&mut out, CLUSTER);
            out.extend_from_slice(&ebml::UNKNOWN_SIZE);
            ebml::write_uint(&mut out, TIMECODE, time.max(0) as u64);
            self.cluster = Some(time.max(0));
        }
        let cluster = self.cluster.expect("a Cluster is open");
        let mut body = Vec::with_capacity(payload.len() + 4);
        ebml::write_size(&mut body, track);
        body.extend_from_slice(&((time - cluster) as i16).to_be_bytes());
        body.push(if keyframe { 0x80 } else { 0 });
        body.extend_from_slice(payload);
        ebml::write_element(&mut out, SIMPLE_BLOCK, &body);
        out
    }
}

fn header(entries: &[Vec<u8>]) -> Vec<u8> {
    stream_header(b"matroska", 1_000_000, b"Icecream", entries)
}

/// A live stream's start: EBML header (`doc_type`: webm or matroska), a Segment of unknown size,
/// Info (`scale` ns per timestamp unit, `app` as the muxing and writing app) and the TrackEntry
/// bodies given. The engine's own Matroska and the mounts' WebM both begin so.
pub fn stream_header(doc_type: &[u8], scale: u64, app: &[u8], entries: &[Vec<u8>]) -> Vec<u8> {
    let mut ebml_header = Vec::new();
    // EBMLVersion, EBMLReadVersion, EBMLMaxIDLength, EBMLMaxSizeLength.
    for (id, v) in [(0x4286, 1), (0x42F7, 1), (0x42F2, 4), (0x42F3, 8)] {
        ebml::write_uint(&mut ebml_header, id, v);
    }
    ebml::write_element(&mut ebml_header, 0x4282, doc_type);
    // DocTypeVersion, DocTypeReadVersion.
    ebml::write_uint(&mut ebml_header, 0x4287, 4);
    ebml::write_uint(&mut ebml_header, 0x4285, 2);

    let mut info = Vec::new();
    ebml::write_uint(&mut info, TIMECODE_SCALE, scale);
    ebml::write_element(&mut info, 0x4D80, app);
    ebml::write_element(&mut info, 0x5741, app);

    let mut tracks = Vec::new();
    for entry in entries {
        ebml::write_element(&mut tracks, TRACK_ENTRY, entry);
    }
    let mut out = Vec::new();
    ebml::write_element(&mut out, EBML_HEADER, &ebml_header);
    ebml::write_id(&mut out, SEGMENT);
    out.extend_from_slice(&ebml::UNKNOWN_SIZE);
    ebml::write_element(&mut out, INFO, &info);
    ebml::write_element(&mut out, TRACKS, &tracks);
    out
}

/// A TrackEntry's `TrackNumber` (and UID) set to `number`, everything else as it was.
pub fn renumbered(entry: &[u8], number: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.len());
    for (id, body) in ebml::children(entry) {
        match id {
            0xD7 | 0x73C5 => ebml::write_uint(&mut out, id, number),
            _ => ebml::write_element(&mut out, id, body),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::webm_reader::{Event, WebmReader};

    #[test]
    fn clusters_begin_at_picture_keyframes_and_every_second_and_read_back() {
        let video = renumbered(
            &[
                0xD7, 0x81, 0x05, 0x83, 0x81, 0x01, 0x86, 0x85, b'V', b'_', b'V', b'P', b'8',
            ],
            1,
        );
        let (mut w, mut bytes) = LiveMatroska::new(&[video], Some(1));
        for (time, key) in [(0, true), (33, false), (66, false), (99, true), (1150, false)] {
            bytes.extend(w.write(1, time, key, &[0x10, 0x20]));
        }
        let mut events = Vec::new();
        WebmReader::new().push(&bytes, &mut events).unwrap();
        let mut blocks = Vec::new();
        for e in events {
            match e {
                Event::Tracks(t) => assert_eq!((t.list[0].number, t.list[0].codec.as_str()), (1, "V_VP8")),
                Event::Block(b) => blocks.push((b.time, b.keyframe, b.frames().unwrap()[0].to_vec())),
            }
        }
        let times: Vec<(i64, bool)> = blocks.iter().map(|b| (b.0, b.1)).collect();
        assert_eq!(
            times,
            [(0, true), (33, false), (66, false), (99, true), (1150, false)]
        );
        assert!(blocks.iter().all(|b| b.2 == [0x10, 0x20]));
        // Clusters at 0, 99 (keyframe) and 1150 (a second on).
        assert_eq!(
            bytes
                .windows(4)
                .filter(|w| *w == [0x1F, 0x43, 0xB6, 0x75])
                .count(),
            3
        );
    }
}
