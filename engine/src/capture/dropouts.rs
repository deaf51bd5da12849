//! Sound the system lost on its way in, found by the sample clock: samples arrive a little after
//! they were captured, and the least of that delay over a second is the path's own latency. When
//! samples are lost, every later one arrives that much "later" than its count says, for good; a
//! late callback, by contrast, catches up within the second, and a busy computer that keeps the
//! reader late for a while catches up once it lets go: a rise counts only when it has held for
//! five seconds. A device clock that runs slower than the computer's raises it too, but by parts
//! per million, which is followed without counting.

use std::time::Duration;

/// How long a window of arrivals is before its least delay is compared.
const WINDOW_SECS: f64 = 1.0;
/// A rise in the least delay above this is sound lost.
const LOST_ABOVE_SECS: f64 = 0.004;
/// What a device clock's drift may add per window (1000 ppm: ten times the worst crystal's).
const DRIFT_PER_WINDOW_SECS: f64 = 0.001;
/// How many windows in a row a rise must hold to be sound lost rather than a busy spell.
const HELD_WINDOWS: u32 = 5;
/// The first windows of an opened input are left out: its latency settles as it starts.
const SETTLING_WINDOWS: u32 = 2;

#[derive(Debug)]
pub struct Dropouts {
    rate: f64,
    frames: u64,
    /// The path's latency as last settled.
    base: Option<f64>,
    window_start: Option<f64>,
    window_min: f64,
    /// A rise not yet held long enough: the least delay over it, and for how many windows.
    rise: Option<(f64, u32)>,
    settling: u32,
    /// The least delay since the input (re)opened: the latency until `base` has settled.
    least_seen: f64,
    /// The first settled latency: how far `base` has moved since is the device clock's drift.
    first_base: Option<f64>,
    /// The drift followed before the input last went away.
    drift_before: f64,
    pub count: u32,
    pub lost: Duration,
}

impl Dropouts {
    pub fn new(rate: u32) -> Dropouts {
        Dropouts {
            rate: f64::from(rate),
            frames: 0,
            base: None,
            window_start: None,
            window_min: f64::INFINITY,
            rise: None,
            settling: SETTLING_WINDOWS,
            least_seen: f64::INFINITY,
            first_base: None,
            drift_before: 0.0,
            count: 0,
            lost: Duration::ZERO,
        }
    }

    /// `frames` more arrived at `at` seconds (any fixed origin); returns a dropout found now.
    pub fn arrived(&mut self, frames: usize, at: f64) -> Option<Duration> {
        self.frames += frames as u64;
        let delay = at - self.frames as f64 / self.rate;
        self.window_min = self.window_min.min(delay);
        self.least_seen = self.least_seen.min(delay);
        let start = *self.window_start.get_or_insert(at);
        if at - start < WINDOW_SECS {
            return None;
        }
        let least = std::mem::replace(&mut self.window_min, f64::INFINITY);
        self.window_start = Some(at);
        if self.settling > 0 {
            self.settling -= 1;
            return None;
        }
        let Some(base) = self.base else {
            self.base = Some(least);
            self.first_base.get_or_insert(least);
            return None;
        };
        if least - base > LOST_ABOVE_SECS {
            let (low, held) = self.rise.map_or((least, 1), |(low, n)| (low.min(least), n + 1));
            if held < HELD_WINDOWS {
                self.rise = Some((low, held));
                return None;
            }
            self.rise = None;
            self.base = Some(low);
            let gap = Duration::from_secs_f64(low - base);
            self.count += 1;
            self.lost += gap;
            return Some(gap);
        }
        self.rise = None;
        self.base = Some(least.min(base + DRIFT_PER_WINDOW_SECS));
        None
    }

    /// Where in the stream (in frames, fractional) sound captured at `at` seconds is: the
    /// computer's clock mapped onto the sample clock, its drift followed. None before any sound.
    pub fn frame_at(&self, at: f64) -> Option<f64> {
        let latency = self.base.unwrap_or(self.least_seen);
        latency.is_finite().then_some((at - latency) * self.rate)
    }

    /// How far the device's clock has moved against the computer's since the input settled, in
    /// seconds (positive: the device runs slow). Followed, not lost sound.
    pub fn drift(&self) -> f64 {
        match (self.base, self.first_base) {
            (Some(now), Some(first)) => self.drift_before + now - first - self.lost.as_secs_f64(),
            _ => self.drift_before,
        }
    }

    /// The input was away and came back: its latency is learned again, what went meanwhile was
    /// silence the broadcast sent, not a dropout.
    pub fn restart(&mut self, frames_so_far: u64) {
        *self = Dropouts {
            count: self.count,
            lost: self.lost,
            frames: frames_so_far,
            drift_before: self.drift(),
            ..Dropouts::new(self.rate as u32)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 ms blocks for `secs`, each arriving `latency` plus up to 30 ms of scheduling late.
    fn feed(d: &mut Dropouts, from: f64, secs: f64, latency: f64) -> Vec<Duration> {
        let mut found = Vec::new();
        let mut late = 0.0;
        for block in 1..=(secs * 100.0).round() as u32 {
            let t = from + f64::from(block) * 0.010;
            late = (late + 0.013) % 0.030;
            found.extend(d.arrived(480, t + latency + late));
        }
        found
    }

    #[test]
    fn late_callbacks_and_slow_drift_are_not_dropouts() {
        let mut d = Dropouts::new(48_000);
        assert!(feed(&mut d, 0.0, 30.0, 0.020).is_empty());
        // A clock 200 ppm slow: 6 ms over 30 s, followed.
        let mut found = Vec::new();
        for s in 0..30 {
            found.extend(feed(
                &mut d,
                30.0 + f64::from(s),
                1.0,
                0.020 + 0.0002 * f64::from(s),
            ));
        }
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(d.count, 0);
        // The drift is followed: 5.8 ms since the clock settled (at 3 s), within a window's step.
        assert!((d.drift() - 0.0058).abs() < 0.0015, "{}", d.drift());
        // And the computer's time maps onto the sample clock with it: the frame captured at 59.5 s
        // (the last second's blocks arrive 20 ms + 5.8 ms after their capture, and up to 30 ms late).
        let frame = d.frame_at(59.5 + 0.020 + 0.0058).unwrap() / 48_000.0;
        assert!((frame - 59.5).abs() < 0.002, "{frame}");
    }

    #[test]
    fn a_busy_spell_that_catches_up_is_not_lost_sound() {
        let mut d = Dropouts::new(48_000);
        assert!(feed(&mut d, 0.0, 5.0, 0.020).is_empty());
        // Read 30 ms late for three seconds, then on time again: nothing was lost.
        assert!(feed(&mut d, 5.0, 3.0, 0.050).is_empty());
        assert!(feed(&mut d, 8.0, 10.0, 0.020).is_empty());
        assert_eq!(d.count, 0);
    }

    #[test]
    fn lost_sound_is_counted_with_its_length() {
        let mut d = Dropouts::new(48_000);
        assert!(feed(&mut d, 0.0, 5.0, 0.020).is_empty());
        // 40 ms of samples never came: the same arrivals now carry counts 40 ms short.
        let found = feed(&mut d, 5.0, 8.0, 0.060);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((found[0].as_secs_f64() - 0.040).abs() < 0.002, "{:?}", found[0]);
        assert!(feed(&mut d, 13.0, 5.0, 0.060).is_empty());
        assert_eq!(d.count, 1);
    }
}
