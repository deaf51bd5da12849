//! A recorded or heard stream's packets as ffprobe reads them: what the picture-and-sound
//! journey and the capture bench check of a camera broadcast with the engine's own sound.

use std::path::Path;

/// A file's streams and packet times, as ffprobe reads them.
pub struct Packets {
    pub codecs: Vec<String>,
    /// (stream index, pts in seconds)
    packets: Vec<(usize, f64)>,
}

impl Packets {
    pub fn of(file: &Path) -> Packets {
        let probe = |args: &[&str]| {
            let out = std::process::Command::new("ffprobe")
                .args(["-v", "error", "-of", "csv=p=0"])
                .args(args)
                .arg(file)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        let codecs = probe(&["-show_entries", "stream=codec_name"])
            .lines()
            .map(|l| l.trim_end_matches(',').to_string())
            .collect();
        let packets = probe(&["-show_entries", "packet=stream_index,pts_time"])
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
            })
            .collect();
        Packets { codecs, packets }
    }

    pub fn times(&self, stream: usize) -> impl Iterator<Item = f64> + '_ {
        self.packets.iter().filter(move |p| p.0 == stream).map(|p| p.1)
    }

    /// Pictures at the camera's pace (no gap over 0.3 s: the mock camera gives ~30 a second, the
    /// page sends up to the frame rate set; `loaded`, with both cores busy: none over 3 s, the
    /// page then encodes fewer) from the first moment of sound to the last.
    pub fn pictures_are_regular_and_beside_the_sound(&self, what: &str, loaded: bool) {
        let pictures: Vec<f64> = self.times(0).collect();
        let sound: Vec<f64> = self.times(1).collect();
        let span = |t: &[f64]| (t[0], t[t.len() - 1]);
        let (p0, p1) = span(&pictures);
        let (s0, s1) = span(&sound);
        let widest = pictures.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        eprintln!(
            "{what}: {} pictures {p0:.3}–{p1:.3} s (widest gap {widest:.3} s), sound {s0:.3}–{s1:.3} s",
            pictures.len()
        );
        let (gap, rate) = if loaded { (3.0, 2.0) } else { (0.3, 10.0) };
        assert!(
            pictures.windows(2).all(|w| w[1] >= w[0]),
            "{what}: pictures in order"
        );
        assert!(widest < gap, "{what}: a gap of {widest:.3} s between pictures");
        assert!(
            (p0 - s0).abs() < 0.1,
            "{what}: picture from {p0}, sound from {s0}"
        );
        assert!(
            (p1 - s1).abs() < 0.5 + gap,
            "{what}: picture until {p1}, sound until {s1}"
        );
        let achieved = pictures.len() as f64 / (p1 - p0);
        assert!(achieved > rate, "{what}: {achieved:.1} pictures a second");
    }
}
