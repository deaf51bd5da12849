//! The recording itself on Linux, through libpulse's simple API (PipeWire serves it too). cpal's
//! PulseAudio host asks for a 10 ms fragment and caps the server's buffer at that same 10 ms, so a
//! reader a little late under load lost sound (480 samples in one run of four with both cores
//! busy, tests/integration/sound.rs); the pure-Rust client under it zeroes a 1 MiB buffer at each
//! read, which was half of the capture's CPU (perf, bench/sound.rs). Here fragments are 10 ms, the
//! server may hold two seconds, and a blocking read on the recording's own thread takes each one.
//! 20 ms fragments (one Opus frame) cost a tenth less CPU and cut a click's way to a listener from
//! 31 to 21 ms, but with both cores loaded the server then handed them on 10 ms later for good
//! once, which the sample clock cannot tell from 10 ms lost: the fidelity test, whose sound came
//! whole, failed on the claimed dropout. Kept at 10 ms until the dropout count can subtract the
//! server's own reported latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use libpulse_binding::def::BufferAttr;
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::Direction;
use libpulse_simple_binding::Simple;

use crate::media::audio_mka::RATE;

/// An open recording: samples go to the callback until it is dropped.
pub(super) struct Recording {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Recording {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Records the source named `source`, `channels` of float at 48 kHz, handing each fragment's
/// interleaved samples to `on_samples`. A read that fails ends the recording: the input's
/// watch then finds it silent and opens it again.
pub(super) fn record(
    source: &str,
    channels: u16,
    mut on_samples: impl FnMut(&[f32]) + Send + 'static,
) -> Result<Recording, String> {
    let spec = Spec {
        format: Format::F32le,
        channels: channels as u8,
        rate: RATE,
    };
    let fragment = RATE / 100 * 4 * u32::from(channels);
    let attr = BufferAttr {
        maxlength: 200 * fragment,
        tlength: u32::MAX,
        prebuf: u32::MAX,
        minreq: u32::MAX,
        fragsize: fragment,
    };
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let source = source.to_string();
    let thread = std::thread::Builder::new()
        .name("sound recording".into())
        .spawn({
            let stop = stop.clone();
            move || {
                let opened = Simple::new(
                    None,
                    "Icecream",
                    Direction::Record,
                    Some(&source),
                    "Broadcast",
                    &spec,
                    None,
                    Some(&attr),
                );
                let simple = match opened {
                    Ok(s) => {
                        let _ = opened_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let reason = e
                            .to_string()
                            .unwrap_or_else(|| format!("sound server error {}", e.0));
                        let _ = opened_tx.send(Err(reason));
                        return;
                    }
                };
                let mut bytes = vec![0u8; fragment as usize];
                let mut samples = vec![0f32; bytes.len() / 4];
                while !stop.load(Ordering::Relaxed) {
                    if simple.read(&mut bytes).is_err() {
                        return;
                    }
                    for (s, b) in samples.iter_mut().zip(bytes.chunks_exact(4)) {
                        *s = f32::from_le_bytes(b.try_into().expect("4 bytes"));
                    }
                    on_samples(&samples);
                }
            }
        })
        .map_err(|e| crate::plain_io_reason(&e))?;
    let recording = Recording {
        stop,
        thread: Some(thread),
    };
    match opened_rx.recv() {
        Ok(Ok(())) => Ok(recording),
        Ok(Err(reason)) => Err(reason),
        Err(_) => Err("its thread ended before it opened".into()),
    }
}
