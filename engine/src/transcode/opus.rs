//! libopus in the engine: the capture's PCM (float, in Matroska) in, Opus in WebM out, a packet
//! the moment its 20 ms of sound are complete. For the mounts the engine writes itself (WebM
//! audio, Ogg Opus), which then take it like a recorder's Opus: no ffmpeg, no pipe, nothing held.

use crate::media::audio_mka::{AudioTrack, MkaWriter, RATE};
use crate::media::webm_reader::{Event, WebmReader};
use crate::media::MediaError;

/// Opus's frame for music: 20 ms.
const FRAME: usize = 960;
/// The most a 20 ms packet can take (libopus's own bound for a frame).
const MAX_PACKET: usize = 4000;
/// How much a decoder needs to have seen before a point it joins at (Matroska's advice for Opus).
const SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// The encoder, the writer of its packets, and the channels it takes.
type Started = (opus::Encoder, MkaWriter, usize);

pub struct PcmToOpus {
    bitrate_kbps: u32,
    reader: WebmReader,
    events: Vec<Event>,
    encoder: Option<Started>,
    pending: Vec<f32>,
}

impl PcmToOpus {
    pub fn new(bitrate_kbps: u32) -> PcmToOpus {
        PcmToOpus {
            bitrate_kbps,
            reader: WebmReader::new(),
            events: Vec::new(),
            encoder: None,
            pending: Vec::new(),
        }
    }

    /// The next input bytes; returns the Opus stream they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, MediaError> {
        let read = self.reader.push(bytes, &mut self.events);
        let mut out = Vec::new();
        for event in std::mem::take(&mut self.events) {
            match event {
                Event::Tracks(tracks) => {
                    if self.encoder.is_some() {
                        continue;
                    }
                    let channels = tracks.audio().map_or(0, |t| t.channels) as usize;
                    let (encoder, header) = self.start(channels)?;
                    out.extend(header);
                    self.encoder = Some(encoder);
                }
                Event::Block(block) => {
                    let Some((encoder, writer, channels)) = self.encoder.as_mut() else {
                        return Err(MediaError::Damaged("a block came before the tracks"));
                    };
                    for frame in block.frames()? {
                        let samples = frame.chunks_exact(4);
                        self.pending
                            .extend(samples.map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))));
                    }
                    let whole = FRAME * *channels;
                    let mut packet = [0u8; MAX_PACKET];
                    while self.pending.len() >= whole {
                        let n = encoder
                            .encode_float(&self.pending[..whole], &mut packet)
                            .map_err(|e| MediaError::Encoder(e.to_string()))?;
                        self.pending.drain(..whole);
                        out.extend(writer.write(&packet[..n], FRAME as u64));
                    }
                }
            }
        }
        read.map(|()| out)
    }

    fn start(&self, channels: usize) -> Result<(Started, Vec<u8>), MediaError> {
        let layout = match channels {
            1 => opus::Channels::Mono,
            2 => opus::Channels::Stereo,
            _ => {
                return Err(MediaError::Damaged(
                    "the captured sound is neither mono nor stereo",
                ))
            }
        };
        let failed = |e: opus::Error| MediaError::Encoder(e.to_string());
        let mut encoder = opus::Encoder::new(RATE, layout, opus::Application::Audio).map_err(failed)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(self.bitrate_kbps as i32 * 1000))
            .map_err(failed)?;
        let pre_skip = encoder.get_lookahead().map_err(failed)? as u16;
        let track = AudioTrack {
            codec: "A_OPUS",
            codec_private: opus_head(channels as u8, pre_skip),
            channels: channels as u16,
            bit_depth: None,
            codec_delay_ns: u64::from(pre_skip) * 1_000_000_000 / u64::from(RATE),
            seek_pre_roll_ns: SEEK_PRE_ROLL_NS,
        };
        let (writer, header) = MkaWriter::new(&track);
        Ok(((encoder, writer, channels), header))
    }
}

/// The Opus identification header (RFC 7845 §5.1): channel mapping family 0, no gain.
fn opus_head(channels: u8, pre_skip: u16) -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1);
    h.push(channels);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&RATE.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes());
    h.push(0);
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::format::MountFormat;
    use crate::media::remux::carried;

    #[test]
    fn pcm_becomes_20_ms_opus_packets_that_a_webm_mount_carries() {
        let (mut w, header) = MkaWriter::new(&AudioTrack::pcm(2));
        let mut t = PcmToOpus::new(128);
        let mut opus = t.push(&header).unwrap();
        // 10 ms blocks, as the capture's system hands them: a packet every other block.
        let block: Vec<f32> = (0..480 * 2)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.5)
            .collect();
        for _ in 0..50 {
            opus.extend(t.push(&w.write_pcm(&block)).unwrap());
        }
        let (tracks, times) = crate::media::audio_mka::read_back(&opus);
        let tracks = &tracks;
        assert_eq!(tracks.audio().unwrap().codec, "A_OPUS");
        assert!(tracks
            .audio()
            .unwrap()
            .codec_private
            .starts_with(b"OpusHead\x01\x02"));
        assert!(carried(MountFormat::OggOpus, tracks).is_some());
        assert!(carried(MountFormat::WebmAudio, tracks).is_some());
        assert_eq!(times, (0..25).map(|i| i * 20).collect::<Vec<_>>());
    }
}
