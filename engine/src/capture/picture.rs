//! The page's picture beside the engine's sound: the webview encodes the camera (VP8 in WebM, no
//! sound) and the engine captures the sound; both go out as one live Matroska stream whose clock
//! is the sound's sample count. Each picture's time is the computer's clock at its capture, mapped
//! onto the sample clock (`Dropouts::frame_at`, which follows the sound card's drift), so that
//! picture and sound stay together for hours whatever the card's crystal does. The stream starts
//! with the first picture; the sound before it is left out, so both start together.
//!
//! Blocks go out in time order: the sound waits for the pictures of its moment (they come through
//! the page's encoder, ~0.1–0.2 s later), up to `HOLD_MS`, so that a stalled camera never holds
//! the sound back longer.

use std::collections::VecDeque;

use super::dropouts::Dropouts;
use crate::media::audio_mka::{pcm_bytes, AudioTrack, RATE};
use crate::media::live_matroska::{renumbered, LiveMatroska};
use crate::media::webm_reader::{Event, WebmReader};
use crate::media::MediaError;

/// The longest the sound waits for pictures that have not come.
const HOLD_MS: i64 = 1000;
/// Sound kept while the first picture is awaited (the camera starts up to 2 s after the sound).
const BEFORE_PICTURE_MS: u64 = 3000;
/// 20 ms blocks, as the sound-only stream has them.
const BLOCK_FRAMES: u64 = 960;
const VIDEO: u64 = 1;
const SOUND: u64 = 2;

pub struct PictureMerge {
    reader: WebmReader,
    events: Vec<Event>,
    /// Where the page's time 0 is, in the feed's seconds.
    page_origin: f64,
    channels: u16,
    writer: Option<LiveMatroska>,
    /// The page's picture track number, as it sends it, and its time unit (ns).
    page_track: u64,
    page_scale: u64,
    /// The sample at the stream's time 0: the first picture's.
    start: Option<u64>,
    /// Captured sound not yet written: its first frame's index, and the samples.
    sound: VecDeque<(u64, Vec<f32>)>,
    /// Sound ready to write, in 20 ms blocks from `start`: the next block's first frame.
    next_frame: u64,
    pending: Vec<f32>,
    /// Pictures not yet written: their time (ms), keyframe, payload.
    pictures: VecDeque<(i64, bool, Vec<u8>)>,
    /// The newest captured frame.
    newest: u64,
}

impl PictureMerge {
    /// A merge of the page's picture, whose time 0 is `page_origin` (the feed's seconds), with
    /// `channels` of captured sound.
    pub fn new(page_origin: f64, channels: u16) -> PictureMerge {
        PictureMerge {
            reader: WebmReader::new(),
            events: Vec::new(),
            page_origin,
            channels,
            writer: None,
            page_track: 0,
            page_scale: 1_000_000,
            start: None,
            sound: VecDeque::new(),
            next_frame: 0,
            pending: Vec::new(),
            pictures: VecDeque::new(),
            newest: 0,
        }
    }

    /// The stream's time of captured frame `frame`, once the stream has started.
    pub fn stream_frames(&self, frame: u64) -> Option<u64> {
        self.start.map(|s| frame.saturating_sub(s))
    }

    /// The page's next bytes; returns what they complete of the stream (its header first).
    pub fn picture(&mut self, bytes: &[u8], clock: &Dropouts) -> Result<Vec<u8>, MediaError> {
        let read = self.reader.push(bytes, &mut self.events);
        let mut out = Vec::new();
        for event in std::mem::take(&mut self.events) {
            match event {
                Event::Tracks(tracks) => {
                    let Some(video) = tracks.video() else {
                        return Err(MediaError::Damaged("the page's picture stream has no picture"));
                    };
                    // A camera reopened mid-broadcast starts a new stream with the same track:
                    // its pictures go on in this one (VP8 keyframes carry their own size).
                    if self.writer.is_some() {
                        continue;
                    }
                    self.page_track = video.number;
                    self.page_scale = tracks.scale;
                    let sound = AudioTrack::pcm(self.channels).entry(SOUND);
                    let (writer, header) =
                        LiveMatroska::new(&[renumbered(&video.entry, VIDEO), sound], Some(VIDEO));
                    out.extend(header);
                    self.writer = Some(writer);
                }
                Event::Block(block) if block.track == self.page_track && self.writer.is_some() => {
                    let page_secs = block.time as f64 * self.page_scale as f64 / 1e9;
                    let Some(frame) = clock.frame_at(self.page_origin + page_secs) else {
                        continue;
                    };
                    let frame = frame.max(0.0).round() as u64;
                    let start = match self.start {
                        Some(s) => s,
                        // The stream starts at a picture a decoder can start at.
                        None if block.keyframe => *self.start.insert(frame),
                        None => continue,
                    };
                    if self.next_frame < start {
                        self.next_frame = start;
                    }
                    let time = (frame.saturating_sub(start) * 1000 / u64::from(RATE)) as i64;
                    let payload = block.frames()?.concat();
                    self.pictures.push_back((time, block.keyframe, payload));
                }
                Event::Block(_) => {}
            }
        }
        read?;
        out.extend(self.drain(false));
        Ok(out)
    }

    /// Captured sound: `samples` (interleaved) from frame `first` on; returns what it completes.
    pub fn sound(&mut self, first: u64, samples: Vec<f32>) -> Vec<u8> {
        let ch = u64::from(self.channels.max(1));
        self.newest = first + samples.len() as u64 / ch;
        self.sound.push_back((first, samples));
        if self.start.is_none() {
            let keep_from = self
                .newest
                .saturating_sub(BEFORE_PICTURE_MS * u64::from(RATE) / 1000);
            while self
                .sound
                .front()
                .is_some_and(|(f, s)| f + s.len() as u64 / ch < keep_from)
            {
                self.sound.pop_front();
            }
        }
        self.drain(false)
    }

    /// Everything still held, in order: the end of the broadcast.
    pub fn finish(&mut self) -> Vec<u8> {
        self.drain(true)
    }

    /// Writes the blocks whose turn it is.
    fn drain(&mut self, all: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let (Some(writer), Some(start)) = (self.writer.as_mut(), self.start) else {
            return out;
        };
        let ch = usize::from(self.channels.max(1));
        // Sound from the stream's start on, in whole 20 ms blocks.
        while let Some((first, samples)) = self.sound.pop_front() {
            let at = self.next_frame + (self.pending.len() / ch) as u64;
            let end = first + (samples.len() / ch) as u64;
            if end <= at {
                continue;
            }
            // The first picture may be a little older than the oldest sound kept: silence before it.
            let missing = first.saturating_sub(at) as usize * ch;
            self.pending.resize(self.pending.len() + missing, 0.0);
            let skip = at.saturating_sub(first) as usize * ch;
            self.pending.extend_from_slice(&samples[skip..]);
        }
        let block = BLOCK_FRAMES as usize * ch;
        let newest_ms = ((self.newest.saturating_sub(start)) * 1000 / u64::from(RATE)) as i64;
        loop {
            let sound_ms = ((self.next_frame - start) * 1000 / u64::from(RATE)) as i64;
            let sound_ready = self.pending.len() >= block || (all && !self.pending.is_empty());
            let picture_ms = self.pictures.front().map(|p| p.0);
            let picture_first = match (sound_ready, picture_ms) {
                (true, Some(p)) => p <= sound_ms,
                (true, None) => false,
                (false, Some(_)) => all,
                (false, None) => break,
            };
            if picture_first {
                let (time, key, payload) = self.pictures.pop_front().expect("a picture");
                out.extend(writer.write(VIDEO, time, key, &payload));
            } else if sound_ready && (all || picture_ms.is_some() || newest_ms - sound_ms >= HOLD_MS) {
                let n = block.min(self.pending.len());
                let samples: Vec<f32> = self.pending.drain(..n).collect();
                out.extend(writer.write(SOUND, sound_ms, true, &pcm_bytes(&samples)));
                self.next_frame += (n / ch) as u64;
            } else {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::live_matroska::LiveMatroska as Writer;
    use crate::media::webm_reader::Tracks;

    /// The page's stream: a VP8 track 1, pictures every 40 ms from `from` ms, a keyframe each 600 ms.
    fn page(from: i64, count: i64) -> Vec<u8> {
        let entry = vec![
            0xD7, 0x81, 0x01, 0x83, 0x81, 0x01, 0x86, 0x85, b'V', b'_', b'V', b'P', b'8',
        ];
        let (mut w, mut bytes) = Writer::new(&[entry], Some(1));
        for i in 0..count {
            let t = from + i * 40;
            bytes.extend(w.write(1, t, (t - from) % 600 == 0, &[t as u8]));
        }
        bytes
    }

    fn read(bytes: &[u8]) -> (Tracks, Vec<(u64, i64, bool)>) {
        let (tracks, blocks) = crate::media::webm_reader::read_whole(bytes);
        (
            tracks,
            blocks.iter().map(|b| (b.track, b.time, b.keyframe)).collect(),
        )
    }

    /// A clock whose sound arrives 15 ms after capture, settled, and a card running 100 ppm slow.
    fn clock(secs: f64) -> Dropouts {
        let mut d = Dropouts::new(RATE);
        let mut frames = 0usize;
        while (frames as f64) < secs * 48_000.0 {
            frames += 480;
            let captured = frames as f64 / 48_000.0 * 1.0001;
            d.arrived(480, captured + 0.015);
        }
        d
    }

    #[test]
    fn pictures_go_on_the_sound_clock_and_both_start_together_in_time_order() {
        let d = clock(5.0);
        // The page's time 0 is 4 s into the feed; its first picture at 1 s of page time = 5 s.
        let mut m = PictureMerge::new(4.0, 2);
        let mut out = Vec::new();
        // Sound from 2 s to 8 s in 10 ms blocks, pictures arriving 150 ms after their moment.
        let mut sent_pictures = false;
        for i in 0..600u64 {
            let first = 96_000 + i * 480;
            out.extend(m.sound(first, vec![0.25; 960]));
            if !sent_pictures && first >= 5 * 48_000 + 7200 {
                out.extend(m.picture(&page(1000, 50), &d).unwrap());
                sent_pictures = true;
            }
        }
        out.extend(m.finish());
        let (tracks, blocks) = read(&out);
        assert_eq!(tracks.video().unwrap().codec, "V_VP8");
        assert_eq!(tracks.audio().unwrap().codec, "A_PCM/FLOAT/IEEE");
        // Both start at 0, the picture with a keyframe; sound every 20 ms from there.
        assert_eq!(blocks[0], (1, 0, true));
        let sound: Vec<i64> = blocks.iter().filter(|b| b.0 == 2).map(|b| b.1).collect();
        assert_eq!(sound[0], 0);
        assert!(sound.windows(2).all(|w| w[1] - w[0] == 20), "{sound:?}");
        // The card runs slow by 100 ppm: the pictures' times follow its clock, 40 ms apart
        // within a millisecond's rounding.
        let pictures: Vec<i64> = blocks.iter().filter(|b| b.0 == 1).map(|b| b.1).collect();
        assert_eq!(pictures.len(), 50);
        assert!(
            pictures.windows(2).all(|w| (39..=41).contains(&(w[1] - w[0]))),
            "{pictures:?}"
        );
        // In time order throughout.
        assert!(blocks.windows(2).all(|w| w[0].1 <= w[1].1 + 20), "{blocks:?}");
        // The stream starts at the sample that reached the engine at 5 s of the computer's clock
        // after the path's least latency (15 ms here; a sound server's own buffer, in life).
        assert_eq!(m.stream_frames(m.start.unwrap() + 48), Some(48));
        let start_secs = m.start.unwrap() as f64 / 48_000.0 * 1.0001;
        assert!((start_secs - 4.985).abs() < 0.002, "{start_secs}");
    }

    #[test]
    fn sound_waits_for_the_pictures_no_longer_than_the_hold() {
        let d = clock(20.0);
        let mut m = PictureMerge::new(0.0, 1);
        let mut out = m.picture(&page(1000, 1), &d).unwrap();
        // The camera stalls: sound alone for 3 s goes out, held at most a second behind.
        for i in 0..300u64 {
            out.extend(m.sound(48_000 + i * 480, vec![0.0; 480]));
        }
        let (_, blocks) = read(&out);
        let last = blocks.iter().filter(|b| b.0 == 2).map(|b| b.1).max().unwrap();
        assert!((1900..=2100).contains(&last), "{last}");
    }
}
