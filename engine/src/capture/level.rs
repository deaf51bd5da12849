//! The level of what goes on air, per channel: peak and RMS in dBFS, as a broadcaster's meter
//! reads them.

/// Below this a channel reads as silent.
pub const FLOOR_DBFS: f32 = -120.0;

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Level {
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
}

fn dbfs(v: f32) -> f32 {
    if v <= 0.0 {
        FLOOR_DBFS
    } else {
        (20.0 * v.log10()).max(FLOOR_DBFS)
    }
}

/// Gathers interleaved samples until asked.
#[derive(Debug)]
pub struct Meter {
    peak: Vec<f32>,
    squares: Vec<f64>,
    frames: u64,
}

impl Meter {
    pub fn new(channels: usize) -> Meter {
        Meter {
            peak: vec![0.0; channels],
            squares: vec![0.0; channels],
            frames: 0,
        }
    }

    pub fn add(&mut self, samples: &[f32]) {
        let channels = self.peak.len();
        for frame in samples.chunks_exact(channels) {
            for (c, &s) in frame.iter().enumerate() {
                self.peak[c] = self.peak[c].max(s.abs());
                self.squares[c] += f64::from(s) * f64::from(s);
            }
        }
        self.frames += (samples.len() / channels) as u64;
    }

    /// Each channel's level since the last time, and starts again.
    pub fn take(&mut self) -> Vec<Level> {
        let frames = self.frames.max(1) as f64;
        let levels = (self.peak.iter().zip(&self.squares))
            .map(|(&p, &sq)| Level {
                peak_dbfs: dbfs(p),
                rms_dbfs: dbfs((sq / frames).sqrt() as f32),
            })
            .collect();
        self.peak.iter_mut().for_each(|p| *p = 0.0);
        self.squares.iter_mut().for_each(|s| *s = 0.0);
        self.frames = 0;
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_scale_sine_peaks_at_0_and_averages_at_minus_3() {
        let mut m = Meter::new(2);
        let samples: Vec<f32> = (0..4800)
            .flat_map(|i| {
                let s = (i as f32 * 2.0 * std::f32::consts::PI * 1000.0 / 48_000.0).sin();
                [s, 0.1 * s]
            })
            .collect();
        m.add(&samples);
        let l = m.take();
        assert!(
            l[0].peak_dbfs.abs() < 0.01 && (l[0].rms_dbfs + 3.01).abs() < 0.02,
            "{l:?}"
        );
        assert!((l[1].peak_dbfs + 20.0).abs() < 0.01, "{l:?}");
        assert_eq!(m.take()[0].peak_dbfs, FLOOR_DBFS);
    }
}
