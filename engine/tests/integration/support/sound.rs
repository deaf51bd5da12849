//! The stereo test signal and the checks a broadcaster's ears make, sample by sample: where the
//! listener's sound sits against the source in each channel, whether any stretch of it is missing
//! or moved, and its levels.

use std::path::Path;

use icecream_engine::MountFormat;

pub const RATE: usize = 48_000;
/// Noise, then tones (left 440 Hz, right 1000 Hz) stepping through these levels, then noise.
pub const STEPS_DBFS: [f64; 4] = [-30.0, -12.0, -3.0, -20.0];
const NOISE_SECS: f64 = 2.0;
const STEP_SECS: f64 = 2.0;
pub const SIGNAL_SECS: f64 = NOISE_SECS + 4.0 * STEP_SECS + 3.0;

/// The signal as 16-bit stereo WAV (what paplay plays): no step of it repeats, so a listener's
/// copy can be placed against it exactly, and noise in each channel tells any shift.
pub fn write_signal(path: &Path) {
    let amp = |i: usize| 10f64.powf(STEPS_DBFS[i] / 20.0);
    let channel = |freq: u32, seed: u32| {
        let tone_end = NOISE_SECS + 4.0 * STEP_SECS;
        // Each channel's noise from its own seed (random()'s state starts at 0 in every slot).
        format!(
            "0*st({seed},if(eq(n,0),{},ld({seed})))+if(lt(t,{NOISE_SECS}),0.25*(2*random({seed})-1),if(lt(t,{tone_end}),\
             if(lt(t,4),{},if(lt(t,6),{},if(lt(t,8),{},{})))*sin(2*PI*{freq}*t),\
             if(lt(t,{SIGNAL_SECS}),0.25*(2*random({seed})-1),0)))",
            seed * 7919 + 1,
            amp(0),
            amp(1),
            amp(2),
            amp(3)
        )
    };
    // Commas inside a filter's arguments are escaped, else they would end it.
    let expr = format!("{}|{}", channel(440, 0), channel(1000, 1)).replace(',', "\\,");
    let expr = format!("{expr}:s={RATE}:d={SIGNAL_SECS}");
    lavfi(
        &format!("aevalsrc={expr}"),
        &["-c:a", "pcm_s16le", path.to_str().unwrap()],
    );
}

/// Any audio file as 32-bit float stereo frames at 48 kHz, as ffmpeg decodes it.
pub fn decode(file: &Path) -> Vec<[f32; 2]> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:a:0", "-ac", "2", "-ar", "48000", "-f", "f32le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
        .chunks_exact(8)
        .map(|b| {
            [
                f32::from_le_bytes(b[..4].try_into().unwrap()),
                f32::from_le_bytes(b[4..].try_into().unwrap()),
            ]
        })
        .collect()
}

fn first_above(x: &[[f32; 2]], c: usize, level: f32) -> Option<usize> {
    x.iter().position(|f| f[c].abs() > level)
}

/// Where `src[at..at + len]` of channel `c` sits in `heard` (as an offset of heard against src),
/// searched within `around ± reach` for the best normalised correlation.
fn place(
    src: &[[f32; 2]],
    heard: &[[f32; 2]],
    c: usize,
    at: usize,
    len: usize,
    around: i64,
    reach: i64,
) -> (i64, f64) {
    let mut best = (around, f64::MIN);
    for lag in around - reach..=around + reach {
        let Some(start) = usize::try_from(at as i64 + lag).ok() else {
            continue;
        };
        let Some(h) = heard.get(start..start + len) else {
            continue;
        };
        let (mut xy, mut xx, mut yy) = (0f64, 0f64, 0f64);
        for (s, h) in src[at..at + len].iter().zip(h) {
            let (x, y) = (f64::from(s[c]), f64::from(h[c]));
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
        let r = xy / (xx * yy).sqrt().max(1e-12);
        if r > best.1 {
            best = (lag, r);
        }
    }
    best
}

fn rms(x: &[[f32; 2]], c: usize) -> f64 {
    (x.iter().map(|f| f64::from(f[c]).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

/// What a listener's copy of the signal shows against the source.
#[derive(Debug)]
pub struct Heard {
    /// The offset of each channel at the start and at the end: all four the same means the
    /// channels are together and nothing was skipped or inserted in between.
    pub lags: [[i64; 2]; 2],
    /// How alike the listener's noise is to the source's, per channel, at the start.
    pub likeness: [f64; 2],
    /// Stretches of 2.5 ms where the listener had less than half the source's level.
    pub gaps: Vec<(usize, f64)>,
    /// Each level step's difference from the source, in dB, per channel.
    pub step_db: Vec<[f64; 2]>,
    /// Samples that differ from the source (0 for a lossless mount), over `compared` frames.
    pub differ: usize,
    pub compared: usize,
    /// The listener's level against the source's in the noise, per band of `BANDS_HZ`, in dB
    /// (both channels together).
    pub bands_db: Vec<f64>,
}

/// Where the bandwidth is looked at: the middle of each band, ±250 Hz around it.
pub const BANDS_HZ: [f64; 7] = [1000.0, 5000.0, 10_000.0, 15_000.0, 17_000.0, 19_000.0, 19_750.0];

/// The power around `hz` in `x`'s channel `c`: the mean of DFT bins every 50 Hz over ±250 Hz,
/// each over 20 ms windows (a Hann window), summed over the windows.
fn band_power(x: &[[f32; 2]], c: usize, hz: f64) -> f64 {
    let n = RATE / 50;
    let hann: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n as f64).cos())
        .collect();
    let mut total = 0.0;
    for w in x.chunks_exact(n) {
        for k in -5..=5 {
            let f = hz + 50.0 * f64::from(k);
            let (mut re, mut im) = (0.0, 0.0);
            for (i, s) in w.iter().enumerate() {
                let a = 2.0 * std::f64::consts::PI * f * i as f64 / RATE as f64;
                let v = f64::from(s[c]) * hann[i];
                re += v * a.cos();
                im -= v * a.sin();
            }
            total += re * re + im * im;
        }
    }
    total
}

/// The listener's level against the source's per band, over the first noise (0.2 s to 1.8 s).
fn bands(src: &[[f32; 2]], aligned: &[[f32; 2]]) -> Vec<f64> {
    let (from, to) = (RATE / 5, RATE * 9 / 5);
    BANDS_HZ
        .iter()
        .map(|&hz| {
            let (s, h): (f64, f64) = (0..2)
                .map(|c| {
                    (
                        band_power(&src[from..to], c, hz),
                        band_power(&aligned[from..to], c, hz),
                    )
                })
                .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
            10.0 * (h / s).log10()
        })
        .collect()
}

pub fn compare(src: &[[f32; 2]], heard: &[[f32; 2]]) -> Heard {
    let onset = |x: &[[f32; 2]]| first_above(x, 0, 0.05).expect("the signal is there");
    let coarse = onset(heard) as i64 - onset(src) as i64;
    let len = RATE / 5;
    let start = RATE / 2;
    let end = (NOISE_SECS + 4.0 * STEP_SECS + 1.0) as usize * RATE;
    let mut lags = [[0; 2]; 2];
    let mut likeness = [0.0; 2];
    for c in 0..2 {
        let (lag, r) = place(src, heard, c, start, len, coarse, 600);
        lags[0][c] = lag;
        likeness[c] = r;
        lags[1][c] = place(src, heard, c, end, len, lag, 600).0;
    }
    let lag = lags[0][0];
    let at = |i: usize| usize::try_from(i as i64 + lag).ok();
    let total = (SIGNAL_SECS * RATE as f64) as usize;
    let aligned: Vec<[f32; 2]> = (0..total)
        .map(|i| at(i).and_then(|j| heard.get(j)).copied().unwrap_or([0.0; 2]))
        .collect();
    let window = RATE / 400;
    let mut gaps = Vec::new();
    // A lossy codec smears a sudden rise over its frame (MP3's attack from digital silence came
    // 7-8 dB short in its first 10 ms, some runs): the 20 ms after each step of the signal are
    // left to the level checks, and a lossless mount is compared sample by sample anyway.
    let after_step = |i: usize| {
        let t = i as f64 / RATE as f64;
        let since = if t < NOISE_SECS {
            t
        } else {
            (t - NOISE_SECS) % STEP_SECS
        };
        since < 0.020
    };
    for (w, (s, h)) in src[..total]
        .chunks(window)
        .zip(aligned.chunks(window))
        .enumerate()
    {
        if after_step(w * window) {
            continue;
        }
        for c in 0..2 {
            let (rs, rh) = (rms(s, c), rms(h, c));
            if rs > 0.01 && rh < rs / 2.0 {
                gaps.push((w * window, 20.0 * (rh / rs).max(1e-9).log10()));
            }
        }
    }
    let step_db = (0..STEPS_DBFS.len())
        .map(|i| {
            let from = ((NOISE_SECS + STEP_SECS * i as f64 + 0.25) * RATE as f64) as usize;
            let to = from + (1.5 * RATE as f64) as usize;
            [0, 1].map(|c| 20.0 * (rms(&aligned[from..to], c) / rms(&src[from..to], c)).log10())
        })
        .collect();
    let differ = src[..total].iter().zip(&aligned).filter(|(s, h)| s != h).count();
    Heard {
        lags,
        likeness,
        gaps,
        step_db,
        differ,
        compared: total,
        bands_db: bands(src, &aligned),
    }
}

/// What a broadcaster's ears ask of a listener's copy of the signal in `format`: channels
/// together, nothing skipped or inserted, no gap, each step's level, the band, and Ogg FLAC exact.
pub fn check(format: MountFormat, heard: &Heard) {
    let [start, end] = heard.lags;
    assert_eq!(
        start[0], start[1],
        "{format:?}: left and right together: {heard:?}"
    );
    assert_eq!(
        start, end,
        "{format:?}: nothing skipped or inserted between start and end: {heard:?}"
    );
    // Lossy codecs keep noise's spectrum rather than its waveform: still plainly the same noise.
    assert!(heard.likeness.iter().all(|&r| r > 0.5), "{format:?}: {heard:?}");
    assert!(
        heard.gaps.is_empty(),
        "{format:?}: gaps (frame, dB): {:?}",
        &heard.gaps[..heard.gaps.len().min(10)]
    );
    // MP3 at 128 kbps is 0.44 dB low in every step: LAME's own (ffmpeg alone gives the same).
    for (i, step) in heard.step_db.iter().enumerate() {
        assert!(
            step.iter().all(|db| db.abs() <= 0.5),
            "{format:?}: the {} dBFS step is {step:?} dB off",
            STEPS_DBFS[i]
        );
    }
    // Opus keeps the whole band to 20 kHz (the webview's path lost 6.9 dB there). LAME at 128 kbps
    // cuts above about 16 kHz and thins the noise below it (15 kHz came 0.9 dB low): MP3's bands
    // are looked at up to 10 kHz.
    let top = match format {
        MountFormat::Mp3 => 10_000.0,
        _ => f64::INFINITY,
    };
    for (hz, db) in BANDS_HZ.iter().zip(&heard.bands_db) {
        assert!(
            *hz > top || db.abs() <= 1.0,
            "{format:?}: {db:.2} dB at {hz} Hz: {:?}",
            heard.bands_db
        );
    }
    if format == MountFormat::OggFlac {
        assert_eq!(
            heard.differ, 0,
            "{format:?}: every sample as played, of {}",
            heard.compared
        );
    }
}

/// ffmpeg turning a lavfi source ("sine=frequency=440:duration=4") into what `out` says (its
/// codec and format, then a file or "-"); what it wrote to stdout.
pub fn lavfi(source: &str, out: &[&str]) -> Vec<u8> {
    let done = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", source])
        .args(out)
        .output()
        .unwrap();
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    done.stdout
}

/// Both cores busy beside the broadcast, as a video call or a game keeps them; stopped on drop.
pub struct Load(std::process::Child);

impl Load {
    pub fn both_cores() -> Load {
        Load(
            std::process::Command::new("stress-ng")
                .args(["--cpu", "2", "--timeout", "120s", "--quiet"])
                .spawn()
                .expect("stress-ng is installed (see .ci/install-deps)"),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
