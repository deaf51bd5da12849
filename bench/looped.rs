//! A recorder's WebM recording played as long as a benchmark needs (the engine's `input::Looped`:
//! looped Cluster by Cluster behind its one header, each Cluster's Timecode moved on by the loop's
//! length), cut the way a recorder hands it over.

use std::path::Path;

/// A recording of the shared corpus (`shared/corpus/NAME`), its chunks joined.
#[allow(dead_code)] // the browser and join benchmarks'
pub fn corpus(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(name);
    icecream_engine::input::chunk_folder(&dir)
        .expect("corpus folder")
        .iter()
        .flat_map(|e| std::fs::read(&e.path).unwrap())
        .collect()
}

/// The engine's looped recording, with what the benchmarks add: loading a chunk folder, and the
/// recording cut into blocks and recorder timeslices.
#[derive(Clone)]
pub struct Looped(icecream_engine::input::Looped);

impl std::ops::Deref for Looped {
    type Target = icecream_engine::input::Looped;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Looped {
    /// A recorder chunk folder (shared/corpus layout).
    pub fn load(dir: &Path) -> Looped {
        let entries = icecream_engine::input::chunk_folder(dir).expect("corpus folder");
        let all: Vec<u8> = entries
            .iter()
            .flat_map(|e| std::fs::read(&e.path).unwrap())
            .collect();
        Looped::from_bytes(&all)
    }

    /// A whole live WebM stream.
    pub fn from_bytes(all: &[u8]) -> Looped {
        Looped(icecream_engine::input::Looped::from_bytes(all).expect("a live WebM recording"))
    }
}

impl Looped {
    /// Cluster `n` cut into its blocks, each with its time (ms): the first piece carries the
    /// Cluster's own header. A recorder hands these over in timeslices (see `timeslices`).
    pub fn blocks(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        let (tc, c) = self.cluster(n);
        let mut pieces: Vec<(u64, Vec<u8>)> = vec![];
        let mut at = 22; // ID, unknown size, and the 8-byte Timecode element
        let mut start = 0;
        while let (Some((id, id_len)), true) = (vint(&c[at..], true), at < c.len()) {
            let (size, size_len) = vint(&c[at + id_len..], false).expect("a whole Cluster");
            let end = at + id_len + size_len + size as usize;
            if id == 0xA3 {
                let body = &c[at + id_len + size_len..];
                let (_, n) = vint(body, false).unwrap();
                let rel = i16::from_be_bytes([body[n], body[n + 1]]) as i64;
                pieces.push(((tc as i64 + rel).max(0) as u64, c[start..end].to_vec()));
                start = end;
            }
            at = end;
        }
        if let Some(last) = pieces.last_mut() {
            last.1.extend_from_slice(&c[start..]);
        }
        pieces
    }

    /// The endless stream as a recorder with a `slice_ms` timeslice hands it over: every piece of
    /// media captured in a slice, handed over when the slice ends (ms from the start), up to
    /// `until_ms`. Chunk boundaries are not Cluster boundaries, as with a real recorder.
    pub fn timeslices(&self, slice_ms: u64, until_ms: u64) -> Vec<(u64, Vec<u8>)> {
        let mut out: Vec<(u64, Vec<u8>)> = vec![(0, self.header.clone())];
        for n in 0.. {
            for (ms, piece) in self.blocks(n) {
                if ms >= until_ms {
                    return out;
                }
                let due = (ms / slice_ms + 1) * slice_ms;
                match out.last_mut() {
                    Some((d, bytes)) if *d == due || *d == 0 => {
                        *d = due;
                        bytes.extend_from_slice(&piece);
                    }
                    _ => out.push((due, piece)),
                }
            }
        }
        out
    }
}

/// Reads a live WebM stream as it arrives and tells each block's track and absolute time (ms).
#[derive(Default)]
pub struct BlockScanner {
    buf: Vec<u8>,
    cluster_ms: u64,
}

fn vint(b: &[u8], keep_marker: bool) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let start = if keep_marker {
        first as u64
    } else {
        first as u64 & (0xFF >> len)
    };
    Some((b[1..len].iter().fold(start, |v, &x| v << 8 | x as u64), len))
}

impl BlockScanner {
    pub fn feed(&mut self, data: &[u8]) -> Vec<(u64, u64)> {
        self.feed_keyed(data)
            .into_iter()
            .map(|(track, ms, _)| (track, ms))
            .collect()
    }

    /// As `feed`, with whether each block is a keyframe (a SimpleBlock's flag).
    pub fn feed_keyed(&mut self, data: &[u8]) -> Vec<(u64, u64, bool)> {
        self.feed_blocks(data)
            .into_iter()
            .map(|(track, ms, key, _)| (track, ms, key))
            .collect()
    }

    /// As `feed_keyed`, with each block's frame (its bytes after the block header; the recorders'
    /// blocks are not laced).
    pub fn feed_blocks(&mut self, data: &[u8]) -> Vec<(u64, u64, bool, Vec<u8>)> {
        const CONTAINERS: [u64; 3] = [0x1853_8067, 0x1F43_B675, 0xA0];
        self.buf.extend_from_slice(data);
        let mut out = vec![];
        let mut at = 0;
        while let Some((id, id_len)) = vint(&self.buf[at..], true) {
            let Some((size, size_len)) = vint(&self.buf[at + id_len..], false) else {
                break;
            };
            let head = id_len + size_len;
            let unknown = size == (1u64 << (7 * size_len)) - 1;
            if CONTAINERS.contains(&id) || unknown {
                at += head;
                continue;
            }
            let end = at + head + size as usize;
            if self.buf.len() < end {
                break;
            }
            let body = &self.buf[at + head..end];
            match id {
                0xE7 => self.cluster_ms = body.iter().fold(0, |v, &x| v << 8 | x as u64),
                0xA3 | 0xA1 => {
                    if let Some((track, n)) = vint(body, false) {
                        let rel = i16::from_be_bytes([body[n], body[n + 1]]) as i64;
                        let key = id == 0xA3 && body[n + 2] & 0x80 != 0;
                        let ms = (self.cluster_ms as i64 + rel).max(0) as u64;
                        out.push((track, ms, key, body[n + 3..].to_vec()));
                    }
                }
                _ => {}
            }
            at = end;
        }
        self.buf.drain(..at);
        out
    }
}
