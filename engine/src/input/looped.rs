//! A live WebM recording played again and again as one stream: its header once, then its Clusters
//! over and over, each Cluster's Timecode moved on by the recording's length. Encoders and
//! listeners see one stream whose clock goes on, where a second copy of the file would start its
//! clock again (ffmpeg then warns of every packet, and a WebM header mid-stream is a new stream).
//!
//! `icecream try` loops its recording this way until Ctrl-C; the benchmarks and tests feed the
//! engine as long as they need with it.

use crate::media::format::{self, Container};

/// The recording's header and its Clusters, each with its Timecode (ms) and the bytes after it.
#[derive(Clone, Debug)]
pub struct Looped {
    pub header: Vec<u8>,
    clusters: Vec<(u64, Vec<u8>)>,
    /// One pass: from the first Cluster to where the one after the last would have begun.
    pub length_ms: u64,
}

/// Why a recording cannot loop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLoopable {
    #[error("it is not a WebM recording with Clusters (an MP4 recording plays once)")]
    NoClusters,
    #[error("its Clusters do not begin with their time, as a recorder's live WebM does")]
    NoTimecode,
}

impl Looped {
    /// A whole live WebM stream, as a recorder writes it (each Cluster's Timecode first).
    pub fn from_bytes(all: &[u8]) -> Result<Looped, NotLoopable> {
        let mut starts = vec![];
        let mut at = 0;
        while let Some(i) = format::input_sync_point(Container::Webm, &all[at..]) {
            starts.push(at + i);
            at += i + 4;
        }
        if starts.len() < 2 {
            return Err(NotLoopable::NoClusters);
        }
        starts.push(all.len());
        let clusters = starts
            .windows(2)
            .map(|w| {
                let c = &all[w[0]..w[1]];
                // ID (4), its size, then the Timecode element: 0xE7, a one-byte size, the value.
                let at = 4 + c[4].leading_zeros() as usize + 1;
                if c.get(at) != Some(&0xE7) {
                    return Err(NotLoopable::NoTimecode);
                }
                let len = (c[at + 1] & 0x7F) as usize;
                let value = c.get(at + 2..at + 2 + len).ok_or(NotLoopable::NoTimecode)?;
                let tc = value.iter().fold(0u64, |v, &b| v << 8 | b as u64);
                Ok((tc, c[at + 2 + len..].to_vec()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The next Cluster would have come one Cluster gap after the last.
        let gap = clusters[clusters.len() - 1]
            .0
            .saturating_sub(clusters[clusters.len() - 2].0);
        Ok(Looped {
            header: all[..starts[0]].to_vec(),
            length_ms: clusters[clusters.len() - 1].0 + gap,
            clusters,
        })
    }

    /// Cluster `n` of the endless stream and when (ms from the start) it is due.
    pub fn cluster(&self, n: usize) -> (u64, Vec<u8>) {
        let (tc, body) = &self.clusters[n % self.clusters.len()];
        let tc = tc + (n / self.clusters.len()) as u64 * self.length_ms;
        // An unknown size, so the Cluster can be any length; an eight-byte Timecode fits any value.
        let mut c = vec![
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        c.extend([0xE7, 0x88]);
        c.extend(tc.to_be_bytes());
        c.extend(body);
        (tc, c)
    }

    /// Clusters in one pass.
    pub fn len(&self) -> usize {
        self.clusters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clusters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_and_mp4_do_not_loop() {
        assert_eq!(
            Looped::from_bytes(b"ftypisom....").unwrap_err(),
            NotLoopable::NoClusters
        );
        assert_eq!(
            Looped::from_bytes(&[0u8; 1000]).unwrap_err(),
            NotLoopable::NoClusters
        );
    }
}
