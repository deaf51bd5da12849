//! Writes the mount's live WebM: the header once, then Clusters that each begin with a video
//! keyframe (sound only: one about every half second), every block written the moment it comes.
//!
//! Browsers that join a live WebM mid-stream start at a Cluster that Icecast picks; if its first
//! video frame is not a keyframe, Chromium fails for good. Clusters have unknown sizes, as
//! Chromium's own recorder writes them, so no block waits for its Cluster to be complete.

use super::ebml;
use super::webm_reader::{Block, Track, Tracks, CLUSTER, TIMECODE};

/// An empty Void element: 4 bytes that players skip.
pub const HELD_BACK_GUARD: [u8; 4] = [0xEC, 0x82, 0, 0];

/// How long a Cluster of a sound-only stream runs.
const AUDIO_CLUSTER_MS: i64 = 500;

#[derive(Debug)]
pub struct WebmWriter {
    /// The tracks written, by number.
    keep: Vec<u64>,
    video: Option<u64>,
    /// In the stream's timestamp units.
    audio_cluster: i64,
    /// A new stream that takes over leaves a gap of about one frame, not a jump back in time.
    frame_gap: i64,
    cluster: Option<i64>,
    /// The open Cluster has no block yet (it was opened at the end of a batch).
    cluster_empty: bool,
    /// Video frames are dropped until a keyframe: at the start, and after the input restarted.
    want_keyframe: bool,
    /// The last time written per kept track (the same order as `keep`).
    last: Vec<Option<i64>>,
    /// Added to the input's times: set when the input restarted its clock.
    offset: i64,
    rebase: bool,
    latest: i64,
}

impl WebmWriter {
    /// A writer for the given tracks of the input; returns it with the mount's stream header.
    pub fn new(tracks: &Tracks, keep: &[&Track]) -> (WebmWriter, Vec<u8>) {
        let units_per_ms = (1_000_000 / tracks.scale.max(1)).max(1) as i64;
        let video = keep.iter().find(|t| t.is_video()).map(|t| t.number);
        let writer = WebmWriter {
            keep: keep.iter().map(|t| t.number).collect(),
            video,
            audio_cluster: AUDIO_CLUSTER_MS * units_per_ms,
            frame_gap: 20 * units_per_ms,
            cluster: None,
            cluster_empty: false,
            want_keyframe: video.is_some(),
            last: vec![None; keep.len()],
            offset: 0,
            rebase: false,
            latest: 0,
        };
        (writer, header(tracks.scale, keep))
    }

    /// The input started a new stream with the same tracks: its clock may start again from zero,
    /// and its video must start at a keyframe.
    pub fn input_restarted(&mut self) {
        self.rebase = true;
        self.want_keyframe = self.video.is_some();
    }

    /// Writes one block (if its track is kept) and says its time, in the stream's units.
    pub fn write(&mut self, block: &Block, out: &mut Vec<u8>) -> Option<i64> {
        let slot = self.keep.iter().position(|&n| n == block.track)?;
        let is_video = Some(block.track) == self.video;
        if is_video && self.want_keyframe {
            if !block.keyframe {
                return None;
            }
            self.want_keyframe = false;
        }
        let mut time = block.time + self.offset;
        if self.rebase {
            self.rebase = false;
            if time <= self.latest {
                self.offset += self.latest + self.frame_gap - time;
                time = self.latest + self.frame_gap;
            }
        }
        if time < 0 {
            self.offset -= time;
            time = 0;
        }
        // Each track's clock only moves forward.
        if let Some(last) = self.last[slot] {
            time = time.max(last);
        }
        self.last[slot] = Some(time);
        self.latest = self.latest.max(time);
        let starts_cluster = match self.cluster {
            None => true,
            Some(_) if is_video && block.keyframe => true,
            // Before the first picture, and in sound-only streams, Clusters are cut by time.
            Some(c) if !is_video && (self.video.is_none() || self.latest_keyframe_unseen()) => {
                time - c >= self.audio_cluster
            }
            Some(c) => i16::try_from(time - c).is_err(),
        };
        // A relative time must fit in 16 bits either way (audio just before a keyframe is
        // written with a small negative one).
        let cluster = match self.cluster {
            Some(c) if !starts_cluster && i16::try_from(time - c).is_ok() => c,
            _ => {
                ebml::write_id(out, CLUSTER);
                out.extend_from_slice(&ebml::UNKNOWN_SIZE);
                ebml::write_uint(out, TIMECODE, time as u64);
                self.cluster = Some(time);
                time
            }
        };
        let body = block.body_relative_to((time - cluster) as i16);
        ebml::write_element(out, block.element_id(), &body);
        self.cluster_empty = false;
        Some(time)
    }

    /// Ends a batch of output that goes straight to the server (`out` is its last piece), so
    /// that Icecast 2.4.4 passes all of it on at once. It holds the newest Cluster's bytes until
    /// the next Cluster begins or 4 KiB of it have come, and the last 4 bytes it has read of any
    /// WebM. Sound-only streams get the next Cluster opened here (their Clusters are small, so
    /// they would wait for the next one every time), which also makes every batch a point a
    /// listener can join at; video streams, whose Clusters must begin at a keyframe, get an empty
    /// Void element, which is what waits instead of the last block.
    pub fn end_batch(&mut self, out: &mut Vec<u8>) {
        match (self.video, self.cluster) {
            (None, Some(_)) if !self.cluster_empty => {
                ebml::write_id(out, CLUSTER);
                out.extend_from_slice(&ebml::UNKNOWN_SIZE);
                ebml::write_uint(out, TIMECODE, self.latest as u64);
                self.cluster = Some(self.latest);
                self.cluster_empty = true;
            }
            (None, _) => {}
            (Some(_), _) => out.extend_from_slice(&HELD_BACK_GUARD),
        }
    }

    /// True until the first video keyframe has been written.
    fn latest_keyframe_unseen(&self) -> bool {
        self.video
            .and_then(|v| self.keep.iter().position(|&n| n == v))
            .is_some_and(|slot| self.last[slot].is_none())
    }
}

/// EBML header, Segment of unknown size, Info and the kept tracks' entries as they came, less what
/// is not true of the stream.
fn header(scale: u64, keep: &[&Track]) -> Vec<u8> {
    let entries: Vec<Vec<u8>> = keep.iter().map(|t| only_what_is_true(&t.entry)).collect();
    super::live_matroska::stream_header(b"webm", scale, crate::USER_AGENT.as_bytes(), &entries)
}

const VIDEO: u32 = 0xE0;
const ALPHA_MODE: u32 = 0x53C0;

/// A recorder's TrackEntry without what does not hold for what it sends: Chromium's and WebView2's
/// MediaRecorder write AlphaMode 1 on a camera's video, which has no alpha, and WebKit's player
/// refuses such a stream outright (0 of 8 joins; the same bytes without it, 8 of 8).
fn only_what_is_true(entry: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entry.len());
    for (id, body) in ebml::children(entry) {
        if id == VIDEO {
            let mut video = Vec::with_capacity(body.len());
            for (child, value) in ebml::children(body).filter(|(child, _)| *child != ALPHA_MODE) {
                ebml::write_element(&mut video, child, value);
            }
            ebml::write_element(&mut out, VIDEO, &video);
        } else {
            ebml::write_element(&mut out, id, body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(children: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, body) in children {
            ebml::write_element(&mut out, *id, body);
        }
        out
    }

    #[test]
    fn alpha_mode_is_dropped_and_everything_else_kept() {
        let video = entry(&[(0xB0, &[0x02, 0x80]), (0xBA, &[0x01, 0xE0]), (ALPHA_MODE, &[1])]);
        let recorder = entry(&[(0xD7, &[1]), (0x86, b"V_VP8"), (VIDEO, &video)]);
        let kept = entry(&[(0xB0, &[0x02, 0x80]), (0xBA, &[0x01, 0xE0])]);
        let truthful = entry(&[(0xD7, &[1]), (0x86, b"V_VP8"), (VIDEO, &kept)]);
        assert_eq!(only_what_is_true(&recorder), truthful);
        // An entry with nothing untrue comes out byte for byte.
        assert_eq!(only_what_is_true(&truthful), truthful);
    }
}
