//! Ogg packets out of a stream read as it arrives, for the benchmarks that time each one.

/// Reads an Ogg stream as it arrives and gives each whole packet's bytes.
#[derive(Default)]
pub struct OggPackets {
    buf: Vec<u8>,
    partial: Vec<u8>,
}

impl OggPackets {
    pub fn feed(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(data);
        let mut out = vec![];
        let mut at = 0;
        while self.buf.len() - at >= 27 && self.buf[at..].starts_with(b"OggS") {
            let b = &self.buf[at..];
            let segments = b[26] as usize;
            let Some(lacing) = b.get(27..27 + segments) else {
                break;
            };
            let body: usize = lacing.iter().map(|&l| l as usize).sum();
            if b.len() < 27 + segments + body {
                break;
            }
            let mut pos = 27 + segments;
            for &l in lacing {
                self.partial.extend_from_slice(&b[pos..pos + l as usize]);
                pos += l as usize;
                if l < 255 {
                    out.push(std::mem::take(&mut self.partial));
                }
            }
            at += pos;
        }
        self.buf.drain(..at);
        out
    }
}
