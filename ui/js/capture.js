// Camera, microphone, preview, level meter, and the recorder that turns them into chunks.
// What the webview cannot do is said in plain words, with what to do instead.

const VIDEO_TYPES = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/webm', 'video/mp4'];
const AUDIO_TYPES = ['audio/webm;codecs=opus', 'audio/webm', 'audio/mp4', ''];
// WebKitGTK on Debian 12 hands out empty video chunks forever: after this many, say so.
const EMPTY_CHUNKS_BEFORE_GIVING_UP = 4;

export class CaptureError extends Error {}

/** A sentence for a getUserMedia failure. */
export function captureErrorText(err, wantedVideo) {
  switch (err && err.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'Icecream was not allowed to use the ' + (wantedVideo ? 'camera or microphone' : 'microphone') +
        '. Allow it in your system\'s privacy settings' + (wantedVideo ? ', or turn on Audio only (radio) to use the microphone alone.' : '.');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return wantedVideo
        ? 'No camera was found. Turn on Audio only (radio) to broadcast your microphone, or connect a camera.'
        : 'No microphone was found. Connect one and try again.';
    case 'NotReadableError':
    case 'AbortError':
      return 'The camera or microphone is busy or not working. Close other programs that use it and try again.';
    default:
      return 'The camera or microphone could not be started' + (err && err.message ? ' (' + err.message + ')' : '') + '.';
  }
}

export class Capture {
  constructor({ preview, previewOff, level, cameraSelect, micSelect }) {
    Object.assign(this, { preview, previewOff, level, cameraSelect, micSelect });
    this.stream = null;
    this.audioContext = null;
    this.meterTimer = null;
  }

  static supported() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return 'This computer\'s web engine cannot use a camera or microphone, so Icecream cannot broadcast from it. Update the system\'s WebKitGTK/WebView2, or use the icecream command line with a recording.';
    }
    if (typeof MediaRecorder === 'undefined') {
      return 'This computer\'s web engine cannot record (MediaRecorder is missing), so Icecream cannot broadcast from it. Update the system\'s WebKitGTK/WebView2.';
    }
    return null;
  }

  /**
   * Opens camera (unless audio only) and microphone (unless the engine captures the sound:
   * `sound` false), shows the preview and the level.
   */
  async open({ audioOnly, encoding, sound = true }) {
    this.close();
    const camera = this.cameraSelect.value;
    const mic = this.micSelect.value;
    // The size and rate from Settings, as far as the camera can.
    const video = encoding
      ? { width: { ideal: encoding.width }, height: { ideal: encoding.height }, frameRate: { ideal: encoding.fps } }
      : {};
    if (camera) video.deviceId = { exact: camera };
    // 48 kHz asked for: WebKitGTK otherwise captures at 44.1 kHz through PulseAudio's poorest
    // resampler, and its recorder gives no bytes at all from a source reporting a rate of 0.
    const audio = { sampleRate: 48000 };
    if (mic) audio.deviceId = { exact: mic };
    const constraints = {
      audio: sound ? audio : false,
      video: audioOnly ? false : video,
    };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      throw new CaptureError(captureErrorText(err, !audioOnly));
    }
    this.preview.srcObject = audioOnly ? null : this.stream;
    this.previewOff.hidden = !audioOnly;
    this.startMeter();
    await this.listDevices(sound);
    return this.stream;
  }

  close() {
    if (this.meterTimer) clearInterval(this.meterTimer);
    this.meterTimer = null;
    if (this.audioContext) this.audioContext.close().catch(() => {});
    this.audioContext = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.preview.srcObject = null;
    this.level.value = 0;
  }

  /** Fills the choosers (the microphone's only when the web engine captures the sound). */
  async listDevices(sound = true) {
    const devices = await navigator.mediaDevices.enumerateDevices();
    fill(this.cameraSelect, devices.filter((d) => d.kind === 'videoinput'), 'Camera');
    if (sound) fill(this.micSelect, devices.filter((d) => d.kind === 'audioinput'), 'Microphone');
  }

  startMeter() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx || this.stream.getAudioTracks().length === 0) return;
    this.audioContext = new Ctx();
    const source = this.audioContext.createMediaStreamSource(this.stream);
    const analyser = this.audioContext.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    // A timer rather than animation frames: the meter keeps moving while the window is hidden.
    this.meterTimer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s));
      this.level.value = Math.min(1, peak);
    }, 100);
  }
}

function fill(select, devices, noun) {
  const chosen = select.value;
  select.replaceChildren(...devices.map((d, i) => {
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `${noun} ${i + 1}`;
    return o;
  }));
  if (devices.some((d) => d.deviceId === chosen)) select.value = chosen;
  select.disabled = devices.length === 0;
}

/**
 * Records `stream` (video and audio, or audio alone) and hands each chunk's bytes to `onChunk`, in
 * order. `onError` gets a sentence when recording cannot work. Returns { stop(): Promise, mimeType }.
 */
export function startRecorder(stream, { video, onChunk, onError }) {
  const tracks = video ? stream.getTracks() : stream.getAudioTracks();
  if (tracks.length === 0) throw new CaptureError('No microphone is open, so there is nothing to broadcast.');
  const types = video ? VIDEO_TYPES : AUDIO_TYPES;
  const mimeType = types.find((t) => t === '' || MediaRecorder.isTypeSupported(t));
  if (mimeType === undefined) {
    throw new CaptureError('This computer\'s web engine cannot record video in a format Icecream can send. Turn on Audio only (radio) and choose an audio format in Settings → Destinations.');
  }
  // Chromium's recorder puts a keyframe only every 5 s, so a listener joining mid-stream waits up
  // to 5 s for a picture (bench/join.rs); where the webview knows this option (Chromium 119+,
  // WebView2), it asks for one every 0.6 s as the WebCodecs path does. Others ignore it.
  const options = { videoKeyFrameIntervalDuration: 600 };
  if (mimeType) options.mimeType = mimeType;
  const recorder = new MediaRecorder(new MediaStream(tracks), options);
  let empty = 0;
  let failed = false;
  let chain = Promise.resolve();
  recorder.ondataavailable = (e) => {
    if (failed) return;
    if (!e.data || e.data.size === 0) {
      if (++empty >= EMPTY_CHUNKS_BEFORE_GIVING_UP && video) {
        failed = true;
        onError('This computer\'s web engine gives no video from its recorder. Turn on Audio only (radio) and choose an audio format in Settings → Destinations to broadcast your microphone.');
      }
      return;
    }
    empty = 0;
    // Chunks are read and handed on strictly in order.
    chain = chain.then(async () => onChunk(new Uint8Array(await e.data.arrayBuffer())));
  };
  recorder.onerror = (e) => {
    failed = true;
    onError('The recorder stopped with an error' + (e.error && e.error.message ? ': ' + e.error.message : '') + '.');
  };
  recorder.start(250);
  return {
    mimeType: recorder.mimeType || mimeType,
    /** Its time 0, in milliseconds since 1970 by this page's clock (the recorder's clock starts now). */
    origin: performance.timeOrigin + performance.now(),
    /** Stops recording; resolves once the last chunk has been handed on. */
    stop() {
      return new Promise((resolve) => {
        if (recorder.state === 'inactive') return chain.then(resolve, resolve);
        recorder.addEventListener('stop', () => setTimeout(() => chain.then(resolve, resolve), 0), { once: true });
        recorder.stop();
      });
    },
  };
}
