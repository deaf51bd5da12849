//! The engine's own capture as a stream the session takes like a recorder's: 32-bit float PCM in
//! Matroska, one SimpleBlock per block of samples, Clusters of unknown size so that nothing waits
//! for a Cluster to be complete. ffmpeg reads it for the mounts it encodes, every sample as it was
//! captured (an Ogg FLAC listener gets them back exactly), and the recording keeps it whole.

use super::ebml;
use super::webm_reader::{
    CLUSTER, EBML_HEADER, INFO, SEGMENT, SIMPLE_BLOCK, TIMECODE, TIMECODE_SCALE, TRACKS, TRACK_ENTRY,
};

/// Sound is captured and sent at this rate whatever the device's own.
pub const RATE: u32 = 48_000;

const CLUSTER_MS: u64 = 1000;

/// Writes the header once, then each block of samples the moment it is given.
#[derive(Debug)]
pub struct PcmWriter {
    channels: u16,
    /// Frames written so far: the sample count is the stream's clock.
    frames: u64,
    cluster_ms: Option<u64>,
}

impl PcmWriter {
    /// A writer for `channels` interleaved channels; returns it with the stream's header.
    pub fn new(channels: u16) -> (PcmWriter, Vec<u8>) {
        let writer = PcmWriter {
            channels,
            frames: 0,
            cluster_ms: None,
        };
        (writer, header(channels))
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// One block of interleaved samples (a whole number of frames) as Matroska.
    pub fn write(&mut self, samples: &[f32]) -> Vec<u8> {
        let ms = self.frames * 1000 / u64::from(RATE);
        let mut out = Vec::with_capacity(samples.len() * 4 + 32);
        let cluster = match self.cluster_ms {
            Some(c) if ms - c < CLUSTER_MS => c,
            _ => {
                ebml::write_id(&mut out, CLUSTER);
                out.extend_from_slice(&ebml::UNKNOWN_SIZE);
                ebml::write_uint(&mut out, TIMECODE, ms);
                self.cluster_ms = Some(ms);
                ms
            }
        };
        let mut body = Vec::with_capacity(samples.len() * 4 + 4);
        // Track 1, its time from the Cluster's, a keyframe (every PCM block is one).
        body.push(0x81);
        body.extend_from_slice(&((ms - cluster) as i16).to_be_bytes());
        body.push(0x80);
        for s in samples {
            body.extend_from_slice(&s.to_le_bytes());
        }
        ebml::write_element(&mut out, SIMPLE_BLOCK, &body);
        self.frames += (samples.len() / usize::from(self.channels.max(1))) as u64;
        out
    }
}

fn header(channels: u16) -> Vec<u8> {
    let mut ebml_header = Vec::new();
    for (id, v) in [(0x4286, 1), (0x42F7, 1), (0x42F2, 4), (0x42F3, 8)] {
        ebml::write_uint(&mut ebml_header, id, v);
    }
    ebml::write_element(&mut ebml_header, 0x4282, b"matroska");
    ebml::write_uint(&mut ebml_header, 0x4287, 4);
    ebml::write_uint(&mut ebml_header, 0x4285, 2);

    let mut info = Vec::new();
    ebml::write_uint(&mut info, TIMECODE_SCALE, 1_000_000);
    ebml::write_element(&mut info, 0x4D80, b"Icecream");
    ebml::write_element(&mut info, 0x5741, b"Icecream");

    let mut audio = Vec::new();
    ebml::write_element(&mut audio, 0xB5, &f64::from(RATE).to_be_bytes());
    ebml::write_uint(&mut audio, 0x9F, u64::from(channels));
    ebml::write_uint(&mut audio, 0x6264, 32);
    let mut entry = Vec::new();
    ebml::write_uint(&mut entry, 0xD7, 1);
    ebml::write_uint(&mut entry, 0x73C5, 1);
    ebml::write_uint(&mut entry, 0x83, 2);
    ebml::write_element(&mut entry, 0x86, b"A_PCM/FLOAT/IEEE");
    ebml::write_element(&mut entry, 0xE1, &audio);
    let mut tracks = Vec::new();
    ebml::write_element(&mut tracks, TRACK_ENTRY, &entry);

    let mut out = Vec::new();
    ebml::write_element(&mut out, EBML_HEADER, &ebml_header);
    ebml::write_id(&mut out, SEGMENT);
    out.extend_from_slice(&ebml::UNKNOWN_SIZE);
    ebml::write_element(&mut out, INFO, &info);
    ebml::write_element(&mut out, TRACKS, &tracks);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::webm_reader::{Event, WebmReader};

    #[test]
    fn reads_back_as_one_pcm_track_with_times_from_the_sample_count() {
        let (mut w, mut bytes) = PcmWriter::new(2);
        let block: Vec<f32> = (0..960 * 2).map(|i| i as f32 / 4096.0).collect();
        for _ in 0..60 {
            bytes.extend(w.write(&block));
        }
        assert_eq!(w.frames(), 60 * 960);
        let mut events = Vec::new();
        WebmReader::new().push(&bytes, &mut events).unwrap();
        let Event::Tracks(tracks) = &events[0] else {
            panic!("tracks first")
        };
        assert_eq!(tracks.list.len(), 1);
        assert_eq!(
            (tracks.list[0].codec.as_str(), tracks.list[0].channels),
            ("A_PCM/FLOAT/IEEE", 2)
        );
        let times: Vec<i64> = events[1..]
            .iter()
            .map(|e| match e {
                Event::Block(b) => b.time,
                Event::Tracks(_) => panic!("one header"),
            })
            .collect();
        assert_eq!(times, (0..60).map(|i| i * 20).collect::<Vec<_>>());
    }
}
