//! Ogg Opus from the Opus packets of a WebM stream: OpusHead and OpusTags pages first, then one
//! page per packet, so a listener is one packet (20 ms) behind rather than a 200 ms page. Pages
//! themselves (CRC, lacing, flags) are the `ogg` crate's.

use std::time::{SystemTime, UNIX_EPOCH};

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::webm_reader::{Block, Track};
use super::MediaError;

/// How far apart the pages of one batch go out. Icecast 2.4.4's source loop hands on one Ogg
/// page each time the source socket wakes it: pages that arrive in one read wait, all but the
/// first, for the next write, a recorder chunk (250 ms) later. Measured: p95 251 ms when a batch's
/// pages go out together (bench/RESULTS.md, latency).
pub const PAGE_GAP: std::time::Duration = std::time::Duration::from_millis(3);

pub struct OggOpusWriter {
    pages: PacketWriter<'static, Vec<u8>>,
    serial: u32,
    /// Samples at 48 kHz through the last packet written (pre-skip included, as RFC 7845 counts).
    granule: u64,
    track: u64,
}

impl OggOpusWriter {
    /// A writer for the Opus `track`; returns it with the stream's two header pages.
    pub fn new(track: &Track) -> (OggOpusWriter, Vec<u8>) {
        let serial = new_serial();
        let mut w = OggOpusWriter {
            pages: PacketWriter::new(Vec::new()),
            serial,
            granule: 0,
            track: track.number,
        };
        w.page(opus_head(track));
        w.page(opus_tags());
        let header = w.take();
        (w, header)
    }

    /// Writes the block's packets (if it is of our track), each on its own page.
    pub fn write(&mut self, block: &Block, out: &mut Vec<u8>) -> Result<bool, MediaError> {
        if block.track != self.track {
            return Ok(false);
        }
        for packet in block.frames()? {
            let samples =
                opus_samples(packet).ok_or(MediaError::Damaged("an Opus packet could not be read"))?;
            self.granule += samples as u64;
            self.page(packet.to_vec());
        }
        out.extend(self.take());
        Ok(true)
    }

    fn page(&mut self, packet: Vec<u8>) {
        self.pages
            .write_packet(packet, self.serial, PacketWriteEndInfo::EndPage, self.granule)
            .expect("writing to memory does not fail");
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.pages.inner_mut())
    }
}

/// A new serial per broadcast, so players never take two broadcasts for one stream (the same one
/// in unit tests, which compare whole outputs).
fn new_serial() -> u32 {
    if cfg!(test) {
        return 0x1CEC_4EA3;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ d.as_secs() as u32)
        .unwrap_or(1)
}

/// Matroska keeps the OpusHead as the track's CodecPrivate; a muxer that left it out gets one
/// made from the track's channel count and codec delay.
fn opus_head(track: &Track) -> Vec<u8> {
    if track.codec_private.starts_with(b"OpusHead") && track.codec_private.len() >= 19 {
        return track.codec_private.clone();
    }
    let pre_skip = (track.codec_delay_ns * 48_000 / 1_000_000_000) as u16;
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(track.channels.clamp(1, 2) as u8);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0u16.to_le_bytes());
    head.push(0);
    head
}

fn opus_tags() -> Vec<u8> {
    let vendor = crate::USER_AGENT.as_bytes();
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    tags
}

/// How many 48 kHz samples an Opus packet decodes to, from its TOC byte (RFC 6716, 3.1).
pub fn opus_samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize],
        12..=15 => [480, 960][(config % 2) as usize],
        _ => [120, 240, 480, 960][(config % 4) as usize],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => (*packet.get(1)? & 0x3F) as u32,
    };
    let samples = frame * frames;
    (frames > 0 && samples <= 5760).then_some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_samples_from_the_toc() {
        // CELT fullband 20 ms, one frame (what browsers send).
        assert_eq!(opus_samples(&[0xFC, 0, 0]), Some(960));
        // SILK narrowband 60 ms, two frames.
        assert_eq!(opus_samples(&[0x19]), Some(5760));
        // Code 3: the count is in the next byte; 0 frames or over 120 ms is not a packet.
        assert_eq!(opus_samples(&[0xFB, 0x03]), Some(2880));
        assert_eq!(opus_samples(&[0xFB, 0x00]), None);
        assert_eq!(opus_samples(&[0x1B, 0x03]), None);
        assert_eq!(opus_samples(&[]), None);
    }
}
