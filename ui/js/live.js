// The Go live / Stop button, the status line and the stats: one broadcast at a time.
import { call, Channel, ChunkLane, errorText } from './ipc.js';
import { startRecorder, CaptureError } from './capture.js';
import { startWebCodecs } from './webcodecs.js';
import { capturePath } from './capture-path.js';
import { showNotice, clearNotice, noticeAction } from './notice.js';
import { trustButton } from './certificates.js';
import { broadcastShape } from './settings.js';
import { DestinationRows } from './destinations.js';

function clock(secs) {
  const p = (n) => String(n).padStart(2, '0');
  return `${p(Math.floor(secs / 3600))}:${p(Math.floor(secs / 60) % 60)}:${p(secs % 60)}`;
}

function bytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** The Go live / Stop shortcut as this computer writes it. */
export const SHORTCUT = /Mac/.test(navigator.platform) ? '⌘⇧L' : 'Ctrl+Shift+L';

export function statusText(s) {
  switch (s.state) {
    case 'idle': return 'Not live';
    case 'connecting': return 'Connecting…';
    case 'live':
      return `LIVE ${clock(s.uptime_secs)}` + (s.skipped_secs ? ` · ${s.skipped_secs} s skipped (network too slow)` : '');
    case 'reconnecting':
      return `Reconnecting — attempt ${s.attempt}` + (s.next_in_secs ? `, next in ${s.next_in_secs} s` : '') +
        (s.reason && s.reason.startsWith('waiting for the server') ? ` (${s.reason})` : '');
    case 'stopping': return 'Stopping…';
    case 'stopped': return 'Stopped';
    case 'failed': return `Stopped: ${s.reason}`;
    default: return s.state;
  }
}

/** "Show recording": the file manager opens the recording's folder with the file selected. */
function showRecordingButton() {
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'show-recording';
  button.textContent = 'Show recording';
  button.addEventListener('click', () => call('show_recording').catch((e) => showNotice(errorText(e))));
  return button;
}

export class LivePanel {
  /**
   * app: { settings(): view, audioOnly(): bool, capture: Capture, sound: SoundInputs,
   *        onLive(share, format), onEnded(), onTrusted(view), onSettings(view) }
   */
  constructor(app) {
    this.app = app;
    this.button = document.getElementById('golive');
    this.statusEl = document.getElementById('status');
    this.recorder = null;
    this.live = false;
    this.failedPush = false;
    this.button.addEventListener('click', () => (this.live ? this.stop() : this.goLive()));
    // Ctrl+Shift+L (⌘⇧L on a Mac) goes live and stops, from anywhere in the window but Settings.
    document.addEventListener('keydown', (e) => {
      const settingsOpen = document.getElementById('settings').open;
      if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === 'l' && !settingsOpen) {
        e.preventDefault();
        if (!this.button.disabled) this.button.click();
      }
    });
    this.rows = new DestinationRows({ statusText, bytes });
    this.show({ state: 'idle' });
  }

  show(s) {
    // With several destinations the header says how many are on air: "LIVE 00:12:34 · 2 of 3".
    const several = (s.destinations || []).length > 1;
    const onAir = several ? s.destinations.filter((d) => d.state === 'live').length : 0;
    this.statusEl.textContent = statusText(s) + (several ? ` · ${onAir} of ${s.destinations.length}` : '');
    this.rows.show(s);
    this.statusEl.dataset.state = s.state;
    const active = ['connecting', 'live', 'reconnecting', 'stopping'].includes(s.state);
    // The last broadcast's figures stay after Stop, until the next Go live.
    const keep = !active && this.hadFigures && ['stopped', 'failed'].includes(s.state);
    if (active ? s.bytes_sent !== undefined : !keep) this.figures(s, active);
    // While live: the local copy is being saved, and how big it is.
    const rec = document.getElementById('rec');
    rec.hidden = !(active && s.recording);
    if (!rec.hidden) document.getElementById('rec-size').textContent = bytes(s.recording_bytes || 0);
    this.statusEl.title = ['reconnecting', 'failed'].includes(s.state) ? s.reason : '';
    // The broadcast goes on without its local copy; the person must know that once.
    if (s.recording_problem && s.recording_problem !== this.recordingProblem) {
      this.recordingProblem = s.recording_problem;
      showNotice(s.recording_problem, 'warning');
    }
    if (s.state === 'failed' && this.live) {
      this.ended();
      if (s.certificate) this.offerTrust(s);
    }
    // Every destination was stopped from its row: the broadcast is over.
    if (s.state === 'stopped' && this.live && !this.stopping) this.ended();
  }

  /** Sent, bitrate and listeners; dashes when there is no broadcast to count. */
  figures(s, active) {
    this.hadFigures = active;
    document.getElementById('stat-bytes').textContent = active ? bytes(s.bytes_sent) : '—';
    document.getElementById('stat-bitrate').textContent = active ? `${Math.round(s.bitrate_kbps)} kbps` : '—';
    // Unknown counts are a dash, never a guess: not read yet, or a server without a status page
    // (Liquidsoap's harbor, say), which the engine stops asking.
    const listeners = document.getElementById('stat-listeners');
    listeners.textContent = active && s.listeners != null ? String(s.listeners) : '—';
    const notReported = active && s.listeners_not_reported && s.listeners == null;
    listeners.title = notReported ? 'This server does not report how many listen.' : '';
    if (notReported) {
      const why = document.createElement('small');
      why.className = 'not-reported';
      why.textContent = 'not reported by this server';
      listeners.append(why);
    }
  }

  /** The server's own certificate stopped the broadcast: the person may trust it and go again. */
  offerTrust(s) {
    const { host, port } = s.certificate;
    showNotice(s.reason);
    noticeAction(trustButton(s.certificate, (view) => {
      this.app.onTrusted(view);
      showNotice(`The certificate of ${host}:${port} is trusted from now on (Settings lists it). Press Go live again.`, 'info');
    }, (text) => showNotice(text)));
  }

  setLive(live) {
    this.live = live;
    this.button.textContent = live ? 'Stop' : 'Go live';
    this.button.title = `${live ? 'Stop' : 'Go live'} (${SHORTCUT})`;
    this.button.classList.toggle('live', live);
  }

  async goLive() {
    clearNotice();
    this.rows.clear();
    this.recordingProblem = null;
    const view = this.app.settings();
    const { format, encoding } = broadcastShape(view);
    if (format.has_video && this.app.audioOnly()) {
      this.offerRadio();
      return;
    }
    this.button.disabled = true;
    // Sound alone, captured by the engine: with Audio only on, or with the camera on and only
    // sound formats to send.
    if (this.app.sound.native && (this.app.audioOnly() || !format.has_video)) {
      await this.goLiveNative(format);
      this.button.disabled = false;
      return;
    }
    try {
      let stream = this.app.capture.stream;
      if (!stream) stream = await this.app.capture.open({ audioOnly: this.app.audioOnly(), encoding });
      const channel = new Channel();
      channel.onmessage = (s) => this.show(s);
      this.failedPush = false;
      // Chunks recorded while the connection is made wait, then go in order.
      let ready;
      let queue = new Promise((resolve) => (ready = resolve));
      const send = async (chunk) => {
        if (this.failedPush || !this.lane) return;
        try {
          await this.lane.push(chunk);
        } catch (e) {
          this.failedPush = true;
          // The status line carries the broadcast's own reason; this is only for other refusals.
          if (!String(errorText(e)).startsWith('The broadcast has ended')) showNotice(errorText(e));
        }
      };
      if (format.has_video && stream.getVideoTracks().length === 0) {
        throw new CaptureError('This mount format needs a camera, but Audio only (radio) is on. Choose an audio format in Settings → Destinations, or turn Audio only off.');
      }
      this.lane = await ChunkLane.open();
      window.icecreamChunkLane = this.lane.via;
      const how = {
        video: format.has_video,
        encoding,
        // Handed on at once, not after the last chunk's answer: the lane keeps them in order.
        onChunk: (chunk) => (queue = queue.then(() => {
          send(chunk);
        })),
        onError: (message) => {
          showNotice(message);
          this.stop();
        },
      };
      // The engine captures the sound (the camera was opened without the microphone): the page
      // sends its pictures alone, and the engine puts them beside its sound.
      const nativeSound = this.app.sound.native && stream.getAudioTracks().length === 0;
      const path = capturePath(format.has_video);
      this.recorder = path === 'webcodecs' ? await startWebCodecs(stream, { ...how, sound: !nativeSound }) : startRecorder(stream, how);
      this.setLive(true);
      this.show({ state: 'connecting', bytes_sent: 0, bitrate_kbps: 0 });
      let share;
      try {
        share = await call('go_live', {
          status: channel,
          nativeSound,
          sound: nativeSound ? this.app.sound.channel() : new Channel(),
          pictureOrigin: nativeSound ? this.recorder.origin : null,
        });
      } catch (e) {
        this.failedPush = true;
        ready();
        await this.finishChunks();
        this.setLive(false);
        this.show({ state: 'failed', reason: errorText(e) });
        return;
      }
      ready();
      this.app.onLive(share, format);
    } catch (e) {
      await this.finishChunks();
      this.setLive(false);
      this.show({ state: 'idle' });
      showNotice(e instanceof CaptureError ? e.message : errorText(e));
    } finally {
      this.button.disabled = false;
    }
  }

  /**
   * Audio only, and a destination's format needs a camera: radio in one step. The person picks the
   * sound format; it replaces the video one (the mount's ending with it), and the broadcast starts.
   */
  offerRadio() {
    showNotice('Audio only (radio) is on, and the broadcast\'s format needs a camera. Send the sound alone as:', 'info');
    const formats = [['ogg-opus', 'Ogg Opus (the best sound)'], ['mp3', 'MP3 (plays everywhere)']];
    for (const [id, label] of formats) {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.format = id;
      button.textContent = label;
      button.addEventListener('click', async () => {
        try {
          this.app.onSettings(await call('use_sound_format', { format: id }));
        } catch (e) {
          showNotice(errorText(e));
          return;
        }
        clearNotice();
        this.goLive();
      });
      noticeAction(button);
    }
  }

  /** Sound alone, captured by the engine: the page records nothing and shows what it reports. */
  async goLiveNative(format) {
    const channel = new Channel();
    channel.onmessage = (s) => this.show(s);
    this.setLive(true);
    this.show({ state: 'connecting', bytes_sent: 0, bitrate_kbps: 0 });
    try {
      const share = await call('go_live', { status: channel, nativeSound: true, sound: this.app.sound.channel() });
      this.app.onLive(share, format);
    } catch (e) {
      this.setLive(false);
      this.show({ state: 'failed', reason: errorText(e) });
      this.app.onEnded();
    }
  }

  /** Stops the recorder and waits until the engine has answered for every chunk it made. */
  async finishChunks() {
    const rec = this.recorder;
    this.recorder = null;
    if (rec) await rec.stop();
    const lane = this.lane;
    this.lane = null;
    if (lane) {
      await lane.drain();
      lane.close();
    }
  }

  /** The session ended by itself (its reason is in the status line): stop recording. */
  async ended() {
    this.setLive(false);
    await this.finishChunks();
    await call('stop').catch(() => {});
    this.app.onEnded();
  }

  async stop() {
    if (!this.live) return;
    this.stopping = true;
    this.button.disabled = true;
    this.show({ state: 'stopping' });
    try {
      // Every recorded byte reaches the server before the connection closes.
      await this.finishChunks();
      const stopped = await call('stop');
      this.show({ state: 'stopped' });
      showNotice(stopped.message, 'info');
      if (stopped.recorded) noticeAction(showRecordingButton());
    } catch (e) {
      this.show({ state: 'failed', reason: errorText(e) });
    } finally {
      this.stopping = false;
      this.setLive(false);
      this.button.disabled = false;
      this.app.onEnded();
    }
  }
}
