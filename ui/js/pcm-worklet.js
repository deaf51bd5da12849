// Runs on the audio thread: hands the microphone's samples to the page in 20 ms batches (planar
// Float32), for the WebCodecs path's Opus encoder.
class PcmTap extends AudioWorkletProcessor {
  constructor() {
    super();
    this.batch = Math.round(sampleRate / 50);
    this.channels = null;
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0) return true;
    if (!this.channels) this.channels = input.map(() => new Float32Array(this.batch));
    let offset = 0;
    const frames = input[0].length;
    while (offset < frames) {
      const n = Math.min(frames - offset, this.batch - this.filled);
      input.forEach((ch, i) => this.channels[i].set(ch.subarray(offset, offset + n), this.filled));
      this.filled += n;
      offset += n;
      if (this.filled === this.batch) {
        const planar = new Float32Array(this.batch * this.channels.length);
        this.channels.forEach((ch, i) => planar.set(ch, i * this.batch));
        this.port.postMessage({ planar, channels: this.channels.length, frames: this.batch, at: currentTime }, [planar.buffer]);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('pcm-tap', PcmTap);
