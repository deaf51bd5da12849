//! One audio track as live Matroska: a SimpleBlock per block the moment it is given, Clusters of
//! unknown size so that nothing waits for a Cluster to be complete, times from the sample count.
//! The engine's capture writes its 32-bit float PCM this way (ffmpeg reads it for the mounts it
//! encodes, every sample as captured; the recording keeps it whole), and its Opus encoder the
//! packets it makes of that PCM (which the WebM and Ogg Opus writers then take like a recorder's).

use super::ebml;
use super::live_matroska::LiveMatroska;

/// Sound is captured and sent at this rate whatever the device's own.
pub const RATE: u32 = 48_000;

/// What the one track carries.
#[derive(Clone, Debug)]
pub struct AudioTrack {
    pub codec: &'static str,
    pub codec_private: Vec<u8>,
    pub channels: u16,
    /// PCM's sample size; None for a codec.
    pub bit_depth: Option<u64>,
    /// Opus's pre-skip, and how much a decoder must see before a point it starts at.
    pub codec_delay_ns: u64,
    pub seek_pre_roll_ns: u64,
}

impl AudioTrack {
    /// The capture's samples: 32-bit float, interleaved.
    pub fn pcm(channels: u16) -> AudioTrack {
        AudioTrack {
            codec: "A_PCM/FLOAT/IEEE",
            codec_private: Vec::new(),
            channels,
            bit_depth: Some(32),
            codec_delay_ns: 0,
            seek_pre_roll_ns: 0,
        }
    }
}

/// Writes the header once, then each block the moment it is given.
#[derive(Debug)]
pub struct MkaWriter {
    /// Frames written so far: the sample count is the stream's clock.
    frames: u64,
    channels: u16,
    out: LiveMatroska,
}

impl MkaWriter {
    /// A writer for `track`; returns it with the stream's header.
    pub fn new(track: &AudioTrack) -> (MkaWriter, Vec<u8>) {
        let (out, header) = LiveMatroska::new(&[track.entry(1)], None);
        let writer = MkaWriter {
            frames: 0,
            channels: track.channels,
            out,
        };
        (writer, header)
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// One block of interleaved float samples (a whole number of frames), for a PCM track.
    pub fn write_pcm(&mut self, samples: &[f32]) -> Vec<u8> {
        let frames = samples.len() / usize::from(self.channels.max(1));
        self.write(&pcm_bytes(samples), frames as u64)
    }

    /// One block that holds `frames` frames of sound.
    pub fn write(&mut self, payload: &[u8], frames: u64) -> Vec<u8> {
        let ms = (self.frames * 1000 / u64::from(RATE)) as i64;
        self.frames += frames;
        // Every audio block is a keyframe.
        self.out.write(1, ms, true, payload)
    }
}

/// Float samples as Matroska's A_PCM/FLOAT/IEEE carries them: little-endian.
pub fn pcm_bytes(samples: &[f32]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(samples.len() * 4);
    for s in samples {
        payload.extend_from_slice(&s.to_le_bytes());
    }
    payload
}

impl AudioTrack {
    /// Its TrackEntry body, as track `number`.
    pub fn entry(&self, number: u64) -> Vec<u8> {
        let mut audio = Vec::new();
        ebml::write_element(&mut audio, 0xB5, &f64::from(RATE).to_be_bytes());
        ebml::write_uint(&mut audio, 0x9F, u64::from(self.channels));
        if let Some(depth) = self.bit_depth {
            ebml::write_uint(&mut audio, 0x6264, depth);
        }
        let mut entry = Vec::new();
        ebml::write_uint(&mut entry, 0xD7, number);
        ebml::write_uint(&mut entry, 0x73C5, number);
        ebml::write_uint(&mut entry, 0x83, 2);
        ebml::write_element(&mut entry, 0x86, self.codec.as_bytes());
        if !self.codec_private.is_empty() {
            ebml::write_element(&mut entry, 0x63A2, &self.codec_private);
        }
        if self.codec_delay_ns > 0 {
            ebml::write_uint(&mut entry, 0x56AA, self.codec_delay_ns);
        }
        if self.seek_pre_roll_ns > 0 {
            ebml::write_uint(&mut entry, 0x56BB, self.seek_pre_roll_ns);
        }
        ebml::write_element(&mut entry, 0xE1, &audio);
        entry
    }
}

/// A stream's one header and its blocks' times, for the tests of what writes one.
#[cfg(test)]
pub(crate) fn read_back(bytes: &[u8]) -> (super::webm_reader::Tracks, Vec<i64>) {
    let (tracks, blocks) = super::webm_reader::read_whole(bytes);
    (tracks, blocks.iter().map(|b| b.time).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_as_one_pcm_track_with_times_from_the_sample_count() {
        let (mut w, mut bytes) = MkaWriter::new(&AudioTrack::pcm(2));
        let block: Vec<f32> = (0..960 * 2).map(|i| i as f32 / 4096.0).collect();
        for _ in 0..60 {
            bytes.extend(w.write_pcm(&block));
        }
        assert_eq!(w.frames(), 60 * 960);
        let (tracks, times) = read_back(&bytes);
        assert_eq!(tracks.list.len(), 1);
        assert_eq!(
            (tracks.list[0].codec.as_str(), tracks.list[0].channels),
            ("A_PCM/FLOAT/IEEE", 2)
        );
        assert_eq!(times, (0..60).map(|i| i * 20).collect::<Vec<_>>());
    }
}
