// The WebCodecs path: the page encodes camera (VP8) and, where the engine cannot capture sound,
// microphone (Opus) itself and muxes a live WebM stream (mediabunny, vendored), for webviews whose
// MediaRecorder cannot record video (Debian 12's WebKitGTK). Its chunks go to the engine exactly
// like recorder chunks; pictures alone are put beside the engine's own sound there.
import {
  Output, WebMOutputFormat, StreamTarget, VideoSampleSource, AudioSampleSource, VideoSample, AudioSample,
} from '../vendor/mediabunny/mediabunny.min.mjs';

const SAMPLE_RATE = 48000;
// Small writes are gathered and handed on together: fewer IPC calls, at most this much later.
const FLUSH_MS = 100;

export function webCodecsMissing({ video }) {
  const needed = ['AudioEncoder', 'AudioData', 'AudioWorkletNode'].concat(video ? ['VideoEncoder', 'VideoFrame'] : []);
  const missing = needed.filter((name) => typeof window[name] === 'undefined');
  if (video && !('requestVideoFrameCallback' in HTMLVideoElement.prototype)) missing.push('requestVideoFrameCallback');
  return missing;
}

/**
 * Encodes `stream` and calls onChunk(Uint8Array) with the WebM bytes, in order (it may return a
 * promise: the encoder then waits). Returns { stop(): Promise, mimeType }.
 */
/**
 * What the running WebCodecs path has done: for the capture benchmark (bench/capture.rs), and for
 * the end-to-end check that the broadcast and the recording end with the last captured moment.
 */
export const captureStats = { frames: 0, copyMs: 0, encodeMs: 0, width: 0, height: 0, since: 0, audioSeconds: 0, audioAhead: 0 };
window.icecreamCaptureStats = () => ({ ...captureStats, seconds: (performance.now() - captureStats.since) / 1000 });

export async function startWebCodecs(stream, { video, sound = true, encoding, onChunk, onError }) {
  const t0 = performance.now();
  Object.assign(captureStats, { frames: 0, copyMs: 0, encodeMs: 0, since: t0, audioSeconds: 0, audioAhead: 0 });
  let pending = [];
  let chain = Promise.resolve();
  const flush = () => {
    if (pending.length === 0) return chain;
    const parts = pending;
    pending = [];
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    chain = chain.then(() => onChunk(bytes));
    return chain;
  };
  const timer = setInterval(flush, FLUSH_MS);
  const writable = new WritableStream({
    write(chunk) {
      pending.push(chunk.data.slice());
    },
  });
  const output = new Output({
    format: new WebMOutputFormat({ appendOnly: true, minimumClusterDuration: 1 }),
    target: new StreamTarget(writable),
  });

  let stopped = false;
  let failed = false;
  const fail = (what, e) => {
    if (failed || stopped) return;
    failed = true;
    onError(`The ${what} encoder stopped: ${e && e.message ? e.message : e}.`);
  };

  let videoSource = null;
  let videoEl = null;
  if (video) {
    videoSource = new VideoSampleSource({
      codec: 'vp8',
      bitrate: encoding.video_bitrate_kbps * 1000,
      // Keyframes under a second apart: a listener joining mid-stream sees a picture at once.
      keyFrameInterval: 0.6,
      latencyMode: 'realtime',
    });
    output.addVideoTrack(videoSource, { frameRate: encoding.fps });
  }
  // Without sound: the engine captures it and puts these pictures beside it (native sound).
  const audioSource = sound ? new AudioSampleSource({
    codec: 'opus',
    bitrate: encoding.audio_bitrate_kbps * 1000,
  }) : null;
  if (audioSource) output.addAudioTrack(audioSource);
  await output.start();

  // Audio: an AudioWorklet taps the microphone at 48 kHz; timestamps count samples from the
  // moment the first batch was captured, so the audio clock never drifts from its own samples.
  const tapped = sound ? await tapSound(stream) : null;
  let audioStart = null;
  let firstVideoAt = null;
  let audioFrames = 0;
  let audioChain = Promise.resolve();
  if (tapped) tapped.tap.port.onmessage = ({ data }) => {
    if (stopped || failed) return;
    if (audioStart === null) {
      audioStart = (performance.now() - t0) / 1000 - data.frames / SAMPLE_RATE - (tapped.ctx.baseLatency || 0);
      audioStart = Math.max(0, audioStart);
    }
    // The camera starts later than the microphone (up to 2 s): the stream starts with the first
    // picture, and the audio timeline starts there too, so that audio and video start together for
    // every listener and player. From then on, the audio clock is its own sample count.
    if (video && firstVideoAt === null) return;
    if (audioFrames === 0 && video) audioStart = firstVideoAt;
    const timestamp = audioStart + audioFrames / SAMPLE_RATE;
    audioFrames += data.frames;
    captureStats.audioSeconds = audioFrames / SAMPLE_RATE;
    // How far the sound's own clock (its sample count) runs ahead of the clock the pictures are
    // stamped with; a change over a long broadcast is A/V drift (bench/capture.rs drift).
    captureStats.audioAhead = audioStart + audioFrames / SAMPLE_RATE - (performance.now() - t0) / 1000;
    const sample = new AudioSample({
      data: data.planar,
      format: 'f32-planar',
      numberOfChannels: data.channels,
      sampleRate: SAMPLE_RATE,
      timestamp,
    });
    audioChain = audioChain
      .then(() => audioSource.add(sample))
      .catch((e) => fail('audio', e))
      .finally(() => sample.close());
  };

  // Video: each camera frame, copied out of GPU memory first (WebKitGTK's encoder fails on
  // GPU-backed frames), stamped with its capture time on the same clock as the audio.
  let videoChain = Promise.resolve();
  if (video) {
    videoEl = document.createElement('video');
    videoEl.muted = true;
    videoEl.playsInline = true;
    videoEl.srcObject = new MediaStream(stream.getVideoTracks());
    await videoEl.play();
    const interval = 1000 / encoding.fps;
    let last = -Infinity;
    let busy = false;
    let lastTick = -1;
    let lastKeyMs = -1;
    const onFrame = (now) => {
      if (stopped || failed) return;
      // One clock for every frame: the callback's own time (capture times are not always given).
      const at = now;
      if (!busy && at - last >= interval * 0.9) {
        last = at;
        // Frame times on the frame-rate grid, strictly increasing: WebKit's encoder rounds times
        // to its frame rate, so two frames closer than one tick would get one time.
        const tick = Math.max(Math.round(((at - t0) * encoding.fps) / 1000), lastTick + 1);
        lastTick = tick;
        const ms = Math.round((tick * 1000) / encoding.fps);
        if (firstVideoAt === null) firstVideoAt = ms / 1000;
        busy = true;
        videoChain = videoChain
          .then(async () => {
            const frame = new VideoFrame(videoEl, { timestamp: ms * 1000 });
            const copyStart = performance.now();
            let copy;
            try {
              const buffer = new Uint8Array(frame.allocationSize());
              const layout = await frame.copyTo(buffer);
              copy = new VideoFrame(buffer, {
                format: frame.format,
                codedWidth: frame.codedWidth,
                codedHeight: frame.codedHeight,
                displayWidth: frame.displayWidth,
                displayHeight: frame.displayHeight,
                timestamp: frame.timestamp,
                layout,
              });
            } finally {
              frame.close();
            }
            const encodeStart = performance.now();
            captureStats.copyMs += encodeStart - copyStart;
            captureStats.width = copy.codedWidth;
            captureStats.height = copy.codedHeight;
            const sample = new VideoSample(copy);
            // A keyframe every 0.6 s or so: frames come irregularly (a busy machine skips some; the
            // camera stalls for a few hundred ms as it warms up), and the next keyframe must still
            // come within a second of the last. At 0.75 s a 280 ms gap was seen to break that.
            const keyFrame = lastKeyMs < 0 || ms - lastKeyMs >= 600;
            if (keyFrame) lastKeyMs = ms;
            try {
              await videoSource.add(sample, { keyFrame });
              captureStats.encodeMs += performance.now() - encodeStart;
              captureStats.frames += 1;
            } finally {
              sample.close();
              copy.close();
            }
          })
          .catch((e) => fail('video', e))
          .finally(() => (busy = false));
      }
      videoEl.requestVideoFrameCallback(onFrame);
    };
    videoEl.requestVideoFrameCallback(onFrame);
  }

  return {
    mimeType: !sound ? 'video/webm;codecs=vp8' : video ? 'video/webm;codecs=vp8,opus' : 'audio/webm;codecs=opus',
    /** The pictures' time 0, in milliseconds since 1970 by this page's clock. */
    origin: performance.timeOrigin + t0,
    /** Flushes both encoders and the muxer; resolves once the last bytes have been handed on. */
    async stop() {
      stopped = true;
      await Promise.allSettled([audioChain, videoChain]);
      try {
        await output.finalize();
      } catch (e) {
        // A failed encoder leaves nothing to finalize; what was sent stays sent.
      }
      clearInterval(timer);
      await flush();
      if (tapped) {
        tapped.mic.disconnect();
        tapped.tap.port.onmessage = null;
        await tapped.ctx.close().catch(() => {});
      }
      if (videoEl) videoEl.srcObject = null;
    },
  };
}

/** The microphone's samples through an AudioWorklet at 48 kHz (posted to the tap's port). */
async function tapSound(stream) {
  const ctx = new AudioContext({ sampleRate: SAMPLE_RATE });
  await ctx.audioWorklet.addModule(new URL('./pcm-worklet.js', import.meta.url));
  const mic = ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
  const tap = new AudioWorkletNode(ctx, 'pcm-tap', { numberOfOutputs: 1 });
  const silent = ctx.createGain();
  silent.gain.value = 0;
  mic.connect(tap).connect(silent).connect(ctx.destination);
  return { ctx, mic, tap };
}
