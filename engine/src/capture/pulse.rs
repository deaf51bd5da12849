//! The recording itself on Linux: a record stream straight through PulseAudio's protocol (the
//! pure-Rust client cpal lists sources with; PipeWire serves it too). cpal's PulseAudio host asks
//! for a 10 ms fragment and caps the server's buffer at that same 10 ms, so a reader a little late
//! under load lost sound: 480 samples in one run of four with both cores busy (tests/integration/
//! sound.rs). Here fragments stay 10 ms, for latency, and the server may hold two seconds.

use std::ffi::CString;
use std::time::Duration;

use futures_executor::block_on;
use pulseaudio::protocol::{self, stream::BufferAttr, stream::StreamFlags, ChannelMap, SampleSpec};

use crate::media::audio_mka::RATE;

/// An open recording: samples go to the callback until it is dropped.
pub(super) struct Recording {
    stream: Option<pulseaudio::RecordStream>,
    _client: pulseaudio::Client,
}

impl Drop for Recording {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = block_on(stream.delete());
        }
    }
}

/// Records the source named `source`, `channels` of float at 48 kHz, handing each fragment's
/// interleaved samples to `on_samples` on the client's own thread. The stream does not move: a
/// source that goes away ends it (then the input is told lost and opened again when it returns),
/// instead of the server moving it to another microphone without a word.
pub(super) fn record(
    source: &str,
    channels: u16,
    mut on_samples: impl FnMut(&[f32]) + Send + 'static,
) -> Result<Recording, String> {
    let name = CString::new("Icecream").expect("no NUL");
    let client = pulseaudio::Client::from_env(&name).map_err(|e| e.to_string())?;
    let frame = 4 * usize::from(channels);
    let fragment = (RATE as usize / 100 * frame) as u32;
    let params = protocol::RecordStreamParams {
        sample_spec: SampleSpec {
            format: protocol::SampleFormat::Float32Le,
            channels: channels as u8,
            sample_rate: RATE,
        },
        channel_map: if channels == 1 {
            ChannelMap::mono()
        } else {
            ChannelMap::stereo()
        },
        source_name: Some(CString::new(source).map_err(|_| "its name holds a NUL".to_string())?),
        buffer_attr: BufferAttr {
            max_length: (Duration::from_secs(2).as_millis() as u32 / 10) * fragment,
            fragment_size: fragment,
            ..Default::default()
        },
        flags: StreamFlags {
            adjust_latency: true,
            no_move: true,
            ..Default::default()
        },
        ..Default::default()
    };
    // The server may split a fragment anywhere: whole frames only go on.
    let mut partial: Vec<u8> = Vec::new();
    let sink = move |bytes: &[u8]| {
        partial.extend_from_slice(bytes);
        let whole = partial.len() / frame * frame;
        let samples: Vec<f32> = partial[..whole]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        partial.drain(..whole);
        on_samples(&samples);
    };
    let stream = block_on(client.create_record_stream(params, sink)).map_err(|e| e.to_string())?;
    Ok(Recording {
        stream: Some(stream),
        _client: client,
    })
}
