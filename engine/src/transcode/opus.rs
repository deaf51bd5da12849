//! libopus in the engine: the capture's PCM (float, in Matroska, alone or beside the page's
//! picture) in, Opus out in the same stream, a packet the moment its 20 ms of sound are complete.
//! For the mounts the engine writes itself (WebM video and audio, Ogg Opus), which then take it
//! like a recorder's Opus: no ffmpeg, no pipe, nothing held.

use crate::media::audio_mka::{AudioTrack, RATE};
use crate::media::live_matroska::LiveMatroska;
use crate::media::webm_reader::{Event, Tracks, WebmReader};
use crate::media::MediaError;

/// Opus's frame for music: 20 ms.
const FRAME: usize = 960;
/// The most a 20 ms packet can take (libopus's own bound for a frame).
const MAX_PACKET: usize = 4000;
/// How much a decoder needs to have seen before a point it joins at (Matroska's advice for Opus).
const SEEK_PRE_ROLL_NS: u64 = 80_000_000;

/// What encodes and writes the stream once its header is known.
struct Started {
    encoder: opus::Encoder,
    out: LiveMatroska,
    channels: usize,
    /// The captured sound's track, whose PCM becomes Opus; the others go on as they are.
    sound: u64,
    /// The first sound block's time (ms), and the frames encoded since: the packets' clock.
    base_ms: Option<i64>,
    encoded: u64,
}

pub struct PcmToOpus {
    bitrate_kbps: u32,
    reader: WebmReader,
    events: Vec<Event>,
    started: Option<Started>,
    pending: Vec<f32>,
}

impl PcmToOpus {
    pub fn new(bitrate_kbps: u32) -> PcmToOpus {
        PcmToOpus {
            bitrate_kbps,
            reader: WebmReader::new(),
            events: Vec::new(),
            started: None,
            pending: Vec::new(),
        }
    }

    /// The next input bytes (the engine's own Matroska, in milliseconds: the capture's sound,
    /// alone or beside the page's picture); returns the stream they complete, the picture's
    /// blocks as they came and the sound as Opus.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, MediaError> {
        let read = self.reader.push(bytes, &mut self.events);
        let mut out = Vec::new();
        for event in std::mem::take(&mut self.events) {
            match event {
                Event::Tracks(tracks) => {
                    // A picture stream started again goes on under the first header.
                    if self.started.is_none() {
                        let (started, header) = self.start(&tracks)?;
                        out.extend(header);
                        self.started = Some(started);
                    }
                }
                Event::Block(block) => {
                    let Some(s) = self.started.as_mut() else {
                        return Err(MediaError::Damaged("a block came before the tracks"));
                    };
                    if block.track != s.sound {
                        out.extend(s.out.write(
                            block.track,
                            block.time,
                            block.keyframe,
                            &block.frames()?.concat(),
                        ));
                        continue;
                    }
                    let base = *s.base_ms.get_or_insert(block.time);
                    for frame in block.frames()? {
                        let samples = frame.chunks_exact(4);
                        self.pending
                            .extend(samples.map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))));
                    }
                    let whole = FRAME * s.channels;
                    let mut packet = [0u8; MAX_PACKET];
                    while self.pending.len() >= whole {
                        let n = s
                            .encoder
                            .encode_float(&self.pending[..whole], &mut packet)
                            .map_err(|e| MediaError::Encoder(e.to_string()))?;
                        self.pending.drain(..whole);
                        let time = base + (s.encoded * 1000 / u64::from(RATE)) as i64;
                        s.encoded += FRAME as u64;
                        out.extend(s.out.write(s.sound, time, true, &packet[..n]));
                    }
                }
            }
        }
        read.map(|()| out)
    }

    fn start(&self, tracks: &Tracks) -> Result<(Started, Vec<u8>), MediaError> {
        let Some(sound) = tracks.audio() else {
            return Err(MediaError::Damaged("the captured stream has no sound"));
        };
        let channels = sound.channels as usize;
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
        let opus = AudioTrack {
            codec: "A_OPUS",
            codec_private: opus_head(channels as u8, pre_skip),
            channels: channels as u16,
            bit_depth: None,
            codec_delay_ns: u64::from(pre_skip) * 1_000_000_000 / u64::from(RATE),
            seek_pre_roll_ns: SEEK_PRE_ROLL_NS,
        };
        let entries: Vec<Vec<u8>> = (tracks.list.iter())
            .map(|t| match t.number == sound.number {
                true => opus.entry(t.number),
                false => t.entry.clone(),
            })
            .collect();
        let (out, header) = LiveMatroska::new(&entries, tracks.video().map(|v| v.number));
        let started = Started {
            encoder,
            out,
            channels,
            sound: sound.number,
            base_ms: None,
            encoded: 0,
        };
        Ok((started, header))
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
    use crate::media::audio_mka::MkaWriter;
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

    #[test]
    fn the_picture_beside_the_sound_goes_on_as_it_came_and_the_sound_becomes_opus() {
        let video = vec![
            0xD7, 0x81, 0x01, 0x83, 0x81, 0x01, 0x86, 0x85, b'V', b'_', b'V', b'P', b'8',
        ];
        let sound = AudioTrack::pcm(1).entry(2);
        let (mut w, mut input) = LiveMatroska::new(&[video, sound], Some(1));
        for i in 0..25i64 {
            if i % 2 == 0 {
                input.extend(w.write(1, i * 20, i % 10 == 0, &[i as u8; 3]));
            }
            let pcm: Vec<u8> = (0..960)
                .flat_map(|n| ((n as f32 * 0.03).sin() * 0.3).to_le_bytes())
                .collect();
            input.extend(w.write(2, i * 20, true, &pcm));
        }
        let mut t = PcmToOpus::new(96);
        let out = t.push(&input).unwrap();
        let mut events = Vec::new();
        WebmReader::new().push(&out, &mut events).unwrap();
        let Event::Tracks(tracks) = &events[0] else {
            panic!("a header first")
        };
        assert_eq!(tracks.video().unwrap().codec, "V_VP8");
        assert_eq!(tracks.audio().unwrap().codec, "A_OPUS");
        assert_eq!(carried(MountFormat::WebmVideo, tracks).map(|k| k.len()), Some(2));
        let blocks: Vec<_> = events[1..]
            .iter()
            .map(|e| match e {
                Event::Block(b) => (b.track, b.time, b.frames().unwrap()[0].to_vec()),
                Event::Tracks(_) => panic!("one header"),
            })
            .collect();
        let pictures: Vec<_> = blocks
            .iter()
            .filter(|b| b.0 == 1)
            .map(|b| (b.1, b.2.clone()))
            .collect();
        assert_eq!(
            pictures,
            (0..25)
                .step_by(2)
                .map(|i| (i * 20, vec![i as u8; 3]))
                .collect::<Vec<_>>()
        );
        let sound: Vec<i64> = blocks.iter().filter(|b| b.0 == 2).map(|b| b.1).collect();
        assert_eq!(sound, (0..25).map(|i| i * 20).collect::<Vec<_>>());
    }
}
