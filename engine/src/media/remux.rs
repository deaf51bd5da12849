//! The recorder's WebM into the mount's container without decoding anything: which tracks a
//! mount keeps, and whether it can carry their codecs as they are.

use super::ogg_opus::OggOpusWriter;
use super::webm_reader::{Event, Track, Tracks, WebmReader};
use super::webm_writer::WebmWriter;
use super::MediaError;
use crate::media::format::MountFormat;

/// Output for the mount, with the media time it carries (in milliseconds), if any.
#[derive(Debug)]
pub struct Piece {
    pub bytes: Vec<u8>,
    pub time_ms: Option<i64>,
}

enum Writer {
    Webm(WebmWriter),
    Ogg(OggOpusWriter),
}

pub struct Remux {
    format: MountFormat,
    reader: WebmReader,
    writer: Option<Writer>,
    /// The tracks the mount carries, as first seen.
    kept: Vec<Track>,
    scale: u64,
    events: Vec<Event>,
    wrote_media: bool,
}

const VIDEO_CODECS: [&str; 3] = ["V_VP8", "V_VP9", "V_AV1"];
const WEBM_AUDIO: [&str; 2] = ["A_OPUS", "A_VORBIS"];

/// The tracks a mount of `format` carries from `tracks`, when it can carry them without
/// transcoding; None when ffmpeg has to make them (another codec, or another container).
pub fn carried(format: MountFormat, tracks: &Tracks) -> Option<Vec<&Track>> {
    let audio = tracks.audio();
    let kept: Vec<&Track> = match format {
        MountFormat::WebmVideo => {
            let video = tracks.video();
            if video.is_some_and(|v| !VIDEO_CODECS.contains(&v.codec.as_str())) {
                return None;
            }
            video.into_iter().chain(audio).collect()
        }
        MountFormat::WebmAudio => audio.into_iter().collect(),
        MountFormat::OggOpus => audio.filter(|a| a.codec == "A_OPUS").into_iter().collect(),
        _ => return None,
    };
    let audio_ok = audio.is_none_or(|a| WEBM_AUDIO.contains(&a.codec.as_str()));
    (audio_ok && !kept.is_empty()).then_some(kept)
}

impl Remux {
    /// A remuxer for one of the formats the engine writes itself (`carried` says which).
    pub fn new(format: MountFormat) -> Remux {
        Remux {
            format,
            reader: WebmReader::new(),
            writer: None,
            kept: Vec::new(),
            scale: 1_000_000,
            events: Vec::new(),
            wrote_media: false,
        }
    }

    /// Takes the next input bytes; returns the mount's bytes they complete, a piece per block.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Piece>, MediaError> {
        let read = self.reader.push(bytes, &mut self.events);
        let mut pieces = Vec::new();
        for event in std::mem::take(&mut self.events) {
            match event {
                Event::Tracks(tracks) => {
                    if let Some(header) = self.start(&tracks)? {
                        pieces.push(Piece {
                            bytes: header,
                            time_ms: None,
                        });
                    }
                }
                Event::Block(block) => {
                    let mut bytes = Vec::new();
                    let time = match self.writer.as_mut() {
                        None => return Err(MediaError::Damaged("a block came before the tracks")),
                        Some(Writer::Webm(w)) => w.write(&block, &mut bytes),
                        Some(Writer::Ogg(w)) => w.write(&block, &mut bytes)?.then_some(block.time),
                    };
                    if let Some(t) = time {
                        self.wrote_media = true;
                        pieces.push(Piece {
                            bytes,
                            time_ms: Some(t * self.scale as i64 / 1_000_000),
                        });
                    }
                }
            }
        }
        read.map(|()| pieces)
    }

    /// As `push`, for output that goes straight to the server: a batch of WebM is ended so that
    /// Icecast passes all of it on at once (`WebmWriter::end_batch`). Without that, the end of
    /// each batch reached listeners only with the next one, a recorder chunk (250 ms) later:
    /// p95 251 ms (bench/RESULTS.md, latency).
    pub fn push_live(&mut self, bytes: &[u8]) -> Result<Vec<Piece>, MediaError> {
        let mut pieces = self.push(bytes)?;
        if let (Some(Writer::Webm(w)), Some(last)) = (self.writer.as_mut(), pieces.last_mut()) {
            w.end_batch(&mut last.bytes);
        }
        Ok(pieces)
    }

    /// How long to wait between the pieces of one batch before sending the next (Ogg: see
    /// `ogg_opus::PAGE_GAP`); None: send them together.
    pub fn piece_gap(&self) -> Option<std::time::Duration> {
        (self.format == MountFormat::OggOpus).then_some(super::ogg_opus::PAGE_GAP)
    }

    /// A new encoder took over mid-element: what is half read of the old one's output is dropped,
    /// and the new one's header must describe the same tracks.
    pub fn input_restarted(&mut self) {
        self.reader.restart();
    }

    /// The input has ended: a stream that never got to its media was no stream.
    pub fn finish(&self) -> Result<(), MediaError> {
        match (&self.writer, self.wrote_media) {
            (None, _) => Err(MediaError::NotMedia),
            (Some(_), false) => Err(MediaError::NoMedia),
            _ => Ok(()),
        }
    }

    /// The first header makes the writer (and the mount's header); a later one must carry on the
    /// same tracks.
    fn start(&mut self, tracks: &Tracks) -> Result<Option<Vec<u8>>, MediaError> {
        let Some(Writer::Webm(_) | Writer::Ogg(_)) = &self.writer else {
            let kept = carried(self.format, tracks).ok_or_else(|| {
                MediaError::TracksChanged("its codecs are not ones this mount can carry".into())
            })?;
            self.scale = tracks.scale;
            self.kept = kept.iter().map(|t| (*t).clone()).collect();
            let (writer, header) = match self.format {
                MountFormat::OggOpus => {
                    let (w, h) = OggOpusWriter::new(kept[0]);
                    (Writer::Ogg(w), h)
                }
                _ => {
                    let (w, h) = WebmWriter::new(tracks, &kept);
                    (Writer::Webm(w), h)
                }
            };
            self.writer = Some(writer);
            return Ok(Some(header));
        };
        let again = carried(self.format, tracks).unwrap_or_default();
        let same = tracks.scale == self.scale
            && again.len() == self.kept.len()
            && again.iter().zip(&self.kept).all(|(a, b)| a.same_as(b));
        if !same {
            let was: Vec<_> = self.kept.iter().map(|t| t.codec.as_str()).collect();
            let now: Vec<_> = tracks.list.iter().map(|t| t.codec.as_str()).collect();
            return Err(MediaError::TracksChanged(format!(
                "{} before, {} now",
                was.join(" + "),
                now.join(" + ")
            )));
        }
        if let Some(Writer::Webm(w)) = &mut self.writer {
            w.input_restarted();
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::webm_reader::{Block, WebmReader};

    fn corpus(name: &str) -> Vec<u8> {
        let dir = format!("{}/../../shared/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
        crate::input::chunk_folder(std::path::Path::new(&dir))
            .unwrap()
            .iter()
            .flat_map(|e| std::fs::read(&e.path).unwrap())
            .collect()
    }

    /// The output of the whole stream, given in pieces of the sizes `cut` picks.
    fn remuxed(
        format: MountFormat,
        input: &[u8],
        mut cut: impl FnMut() -> usize,
    ) -> Result<Vec<u8>, MediaError> {
        let mut r = Remux::new(format);
        let mut out = Vec::new();
        let mut at = 0;
        while at < input.len() {
            let end = (at + cut().max(1)).min(input.len());
            for p in r.push(&input[at..end])? {
                out.extend(p.bytes);
            }
            at = end;
        }
        r.finish()?;
        Ok(out)
    }

    /// A small deterministic generator, so a failure can be run again.
    fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn blocks(webm: &[u8]) -> (Vec<Block>, usize) {
        let mut reader = WebmReader::new();
        let mut events = Vec::new();
        reader.push(webm, &mut events).unwrap();
        let mut tracks = 0;
        let blocks = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Block(b) => Some(b),
                Event::Tracks(t) => {
                    tracks = t.list.len();
                    None
                }
            })
            .collect();
        (blocks, tracks)
    }

    /// Each track's entry as the stream's Tracks give it.
    fn entries(webm: &[u8]) -> Vec<Vec<u8>> {
        let mut events = Vec::new();
        WebmReader::new().push(webm, &mut events).unwrap();
        events
            .into_iter()
            .find_map(|e| match e {
                Event::Tracks(t) => Some(t.list.into_iter().map(|t| t.entry).collect()),
                Event::Block(_) => None,
            })
            .expect("a Tracks element")
    }

    #[test]
    fn the_recorders_untrue_alpha_mode_is_not_sent_on() {
        // Chromium's recorder says AlphaMode 1 of a camera's video; WebKit refuses to play that.
        let has_alpha_mode = |entry: &Vec<u8>| {
            crate::media::ebml::children(entry)
                .filter(|(id, _)| *id == 0xE0)
                .any(|(_, video)| crate::media::ebml::children(video).any(|(id, _)| id == 0x53C0))
        };
        let input = corpus("webm-vp8-opus-250ms");
        assert!(entries(&input).iter().any(has_alpha_mode), "the corpus has it");
        let out = remuxed(MountFormat::WebmVideo, &input, || usize::MAX).unwrap();
        let sent = entries(&out);
        assert_eq!(sent.len(), 2);
        assert!(
            !sent.iter().any(has_alpha_mode),
            "the mount's Tracks say no AlphaMode"
        );
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_stream() {
        for (name, format) in [
            ("webm-vp8-opus-250ms", MountFormat::WebmVideo),
            ("webm-opus-audio-250ms", MountFormat::WebmAudio),
            ("webm-opus-audio-250ms", MountFormat::OggOpus),
        ] {
            let input = corpus(name);
            let whole = remuxed(format, &input, || usize::MAX).unwrap();
            let byte_by_byte = remuxed(format, &input, || 1).unwrap();
            assert!(whole == byte_by_byte, "{name} → {format:?}, one byte at a time");
            let mut rng = xorshift(0x1CE_C8EA);
            for round in 0..300 {
                // Small pieces, large ones, and everything between.
                let max = [7, 300, 5000, 70_000][round % 4];
                let split = remuxed(format, &input, || (rng() % max) as usize).unwrap();
                assert!(whole == split, "{name} → {format:?}, round {round}");
            }
        }
    }

    #[test]
    fn live_batches_end_so_that_the_server_passes_them_on_and_keep_every_block() {
        for (name, format) in [
            ("webm-opus-audio-250ms", MountFormat::WebmAudio),
            ("webm-vp8-opus-250ms", MountFormat::WebmVideo),
        ] {
            let input = corpus(name);
            let mut r = Remux::new(format);
            let mut live = Vec::new();
            for chunk in input.chunks(3000) {
                let pieces = r.push_live(chunk).unwrap();
                if let Some(last) = pieces.last() {
                    let tail = &last.bytes[last.bytes.len().saturating_sub(20)..];
                    let ends = match format {
                        // The next Cluster, opened: ID, unknown size, Timecode.
                        MountFormat::WebmAudio => tail.windows(4).any(|w| w == [0x1F, 0x43, 0xB6, 0x75]),
                        _ => tail.ends_with(&super::super::webm_writer::HELD_BACK_GUARD),
                    };
                    assert!(ends, "{name}: a batch ends with {tail:x?}");
                }
                live.extend(pieces.into_iter().flat_map(|p| p.bytes));
            }
            let mut plain = Vec::new();
            for p in Remux::new(format).push(&input).unwrap() {
                plain.extend(p.bytes);
            }
            let times = |b: &[u8]| blocks(b).0.iter().map(|b| (b.track, b.time)).collect::<Vec<_>>();
            assert_eq!(
                times(&live),
                times(&plain),
                "{name}: the same blocks at the same times"
            );
        }
        // Ogg pages are whole when sent: nothing is added.
        let input = corpus("webm-opus-audio-250ms");
        let (mut a, mut b) = (Remux::new(MountFormat::OggOpus), Remux::new(MountFormat::OggOpus));
        let joined = |pieces: Vec<Piece>| pieces.into_iter().flat_map(|p| p.bytes).collect::<Vec<u8>>();
        assert!(joined(a.push_live(&input).unwrap()) == joined(b.push(&input).unwrap()));
    }

    #[test]
    fn every_video_cluster_starts_with_a_keyframe_and_keeps_every_frame() {
        let input = corpus("webm-vp8-opus-250ms");
        let out = remuxed(MountFormat::WebmVideo, &input, || 4096).unwrap();
        let (in_blocks, _) = blocks(&input);
        let (out_blocks, tracks) = blocks(&out);
        assert_eq!(tracks, 2);
        // Frames before the first picture are not written; everything after is, in order.
        let first_key = in_blocks.iter().position(|b| b.track == 1 && b.keyframe).unwrap();
        let kept: Vec<_> = in_blocks[first_key..].iter().map(|b| (b.track, b.time)).collect();
        let wrote: Vec<_> = out_blocks.iter().map(|b| (b.track, b.time)).collect();
        assert!(wrote.ends_with(&kept), "every frame from the first keyframe on");
        // Clusters: the Cluster ID, an unknown size, then the first block of each is a keyframe.
        let cluster = [
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xE7,
        ];
        let starts: Vec<usize> = (0..out.len() - cluster.len())
            .filter(|&i| out[i..].starts_with(&cluster))
            .collect();
        let video = crate::media::format::webm_video_track(&out[..starts[0]]).unwrap();
        let keyed = starts
            .iter()
            .filter(|&&s| crate::media::format::webm_keyframe_cluster(&out[s..], video) == Some(0))
            .count();
        let audio_only_before_first_picture = starts.iter().filter(|&&s| s < starts[0] + 1).count();
        assert!(starts.len() >= 4, "{} clusters", starts.len());
        assert_eq!(
            keyed + audio_only_before_first_picture - 1,
            starts.len().max(keyed)
        );
        assert_eq!(
            out_blocks
                .iter()
                .filter(|b| b.track == video && b.keyframe)
                .count(),
            keyed,
            "a Cluster at every keyframe and only there"
        );
    }

    #[test]
    fn truncated_and_random_input_ends_in_a_plain_sentence() {
        let input = corpus("webm-opus-audio-250ms");
        let whole = remuxed(MountFormat::WebmAudio, &input, || usize::MAX).unwrap();
        let mut rng = xorshift(7);
        for _ in 0..400 {
            let cut = (rng() % (input.len() as u64)) as usize;
            match remuxed(MountFormat::WebmAudio, &input[..cut], || 997) {
                // Cut after media began: what came out is the start of the whole stream.
                Ok(out) => assert!(whole.starts_with(&out), "cut at {cut}"),
                Err(e) => assert_eq!(e, MediaError::NotMedia, "cut at {cut}"),
            }
        }
        for seed in 1..200u64 {
            let mut rng = xorshift(seed);
            let noise: Vec<u8> = (0..4096).map(|_| rng() as u8).collect();
            assert_eq!(
                remuxed(MountFormat::WebmVideo, &noise, || 100),
                Err(MediaError::NotMedia)
            );
            // The real header, then garbage: a plain sentence, never a panic.
            let header_then_noise = [&input[..200], &noise].concat();
            if let Err(e) = remuxed(MountFormat::OggOpus, &header_then_noise, || 100) {
                assert!(!e.to_string().contains("Damaged("), "{e}");
            }
        }
    }

    #[test]
    fn a_stream_that_changes_codec_mid_way_is_refused_in_words() {
        let video = corpus("webm-vp8-opus-250ms");
        let audio = corpus("webm-opus-audio-250ms");
        let mut r = Remux::new(MountFormat::WebmVideo);
        r.push(&video).unwrap();
        let err = r.push(&audio).unwrap_err();
        assert!(
            err.to_string()
                .contains("changed its tracks in the middle of the broadcast"),
            "{err}"
        );
        // The same tracks again (a recorder that started over) carry on, on one timeline.
        let mut r = Remux::new(MountFormat::WebmAudio);
        let first: Vec<u8> = r
            .push(&audio)
            .unwrap()
            .into_iter()
            .flat_map(|p| p.bytes)
            .collect();
        let again = r.push(&audio).unwrap();
        assert!(again.iter().all(|p| p.time_ms.is_some()), "no second header");
        let (a, _) = blocks(&first);
        let (b, _) = blocks(&[first.clone(), again.into_iter().flat_map(|p| p.bytes).collect()].concat());
        assert!(b.len() > a.len());
        assert!(
            b.windows(2).all(|w| w[1].time >= w[0].time),
            "time never goes back"
        );
    }
}
