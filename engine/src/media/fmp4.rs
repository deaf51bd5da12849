//! Repairs fragmented MP4 from WebKit's MediaRecorder on the way to ffmpeg.
//!
//! WebKitGTK (2.50, Debian 12) ends a recording with a chunk that carries its fragment header
//! (`moof`) twice, byte for byte, before one data block (`mdat`). ffmpeg then reads the second
//! header as data and the last second fails to decode ("channel element … is not allocated").
//! Keeping only the last `moof` before each `mdat` makes every fragment decode. Everything else
//! passes through untouched, box by box, in order.

/// A top-level box is held back only until it is complete; media boxes are ~16 KiB per second.
#[derive(Debug, Default)]
pub struct Fmp4Repair {
    buf: Vec<u8>,
    pending_moof: Option<Vec<u8>>,
    /// How many repeated fragment headers were dropped.
    pub dropped: u32,
    /// Past a box we cannot size (size 0 = "to the end"), the rest passes through as is.
    passthrough: bool,
}

impl Fmp4Repair {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the stream; returns what can go on to ffmpeg now.
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if self.passthrough {
            return data.to_vec();
        }
        self.buf.extend_from_slice(data);
        let mut out = Vec::with_capacity(self.buf.len());
        let mut at = 0;
        while let Some((kind, size)) = box_header(&self.buf[at..]) {
            if size == 0 {
                // A box that runs to the end of the stream: nothing after it can be repaired.
                self.passthrough = true;
                out.extend(self.pending_moof.take().unwrap_or_default());
                out.extend_from_slice(&self.buf[at..]);
                at = self.buf.len();
                break;
            }
            if self.buf.len() - at < size {
                break;
            }
            let whole = &self.buf[at..at + size];
            match &kind {
                b"moof" => {
                    if self.pending_moof.replace(whole.to_vec()).is_some() {
                        self.dropped += 1;
                    }
                }
                _ => {
                    out.extend(self.pending_moof.take().unwrap_or_default());
                    out.extend_from_slice(whole);
                }
            }
            at += size;
        }
        self.buf.drain(..at);
        out
    }

    /// The end of the stream: whatever is held goes out as it is.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = self.pending_moof.take().unwrap_or_default();
        out.append(&mut self.buf);
        out
    }
}

/// The type and whole size of the box starting at `b`, once its header is there. Size 0 means
/// "to the end of the stream"; sizes too small to be real are treated the same way.
fn box_header(b: &[u8]) -> Option<([u8; 4], usize)> {
    if b.len() < 8 {
        return None;
    }
    let kind = [b[4], b[5], b[6], b[7]];
    let size32 = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
    let size = match size32 {
        1 => {
            if b.len() < 16 {
                return None;
            }
            u64::from_be_bytes(b[8..16].try_into().expect("8 bytes"))
        }
        s => s,
    };
    if size < 8 {
        return Some((kind, 0));
    }
    Some((kind, usize::try_from(size).unwrap_or(usize::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn drops_a_repeated_fragment_header_even_when_split_across_pushes() {
        let moov = mp4_box(b"moov", &[1; 20]);
        let moof = mp4_box(b"moof", &[2; 30]);
        let mdat = mp4_box(b"mdat", &[3; 100]);
        let input = [
            moov.clone(),
            moof.clone(),
            mdat.clone(),
            moof.clone(),
            moof.clone(),
            mdat.clone(),
        ]
        .concat();
        let mut r = Fmp4Repair::new();
        let mut out = Vec::new();
        for piece in input.chunks(7) {
            out.extend(r.push(piece));
        }
        out.extend(r.finish());
        assert_eq!(out, [moov, moof.clone(), mdat.clone(), moof, mdat].concat());
        assert_eq!(r.dropped, 1);
    }

    #[test]
    fn a_clean_stream_passes_unchanged() {
        let input = [
            mp4_box(b"ftyp", b"iso5"),
            mp4_box(b"moof", &[1; 9]),
            mp4_box(b"mdat", &[0; 50]),
        ]
        .concat();
        let mut r = Fmp4Repair::new();
        let mut out = r.push(&input);
        out.extend(r.finish());
        assert_eq!(out, input);
        assert_eq!(r.dropped, 0);
    }
}
