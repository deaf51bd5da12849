// The computer's own sound inputs, for a sound-only broadcast: the engine opens and meters the
// chosen input, and the page shows its levels (peak per channel, what goes on air) and what went
// wrong on the way in. Where the engine cannot open one, the page's recorder takes the sound and
// the line under the meter says why.
import { call, Channel, errorText } from './ipc.js';

/** The meters' bottom, in dBFS: quieter reads as empty. */
const FLOOR_DB = -60;
/** Where a broadcaster's meter turns amber and red: −18 and −6 dBFS, on the meters' scale. */
const AMBER = (-18 - FLOOR_DB) / -FLOOR_DB;
const RED = (-6 - FLOOR_DB) / -FLOOR_DB;

const db = (v) => `${v <= -120 ? '−∞' : v.toFixed(1).replace('-', '−')} dBFS`;

export class SoundInputs {
  constructor({ select, meters, line }) {
    Object.assign(this, { select, meters, line });
    /** True while the engine captures sound-only broadcasts; false: the page's recorder does. */
    this.native = false;
  }

  /** Lists the inputs and opens the chosen one for the meter; false when the engine cannot. */
  async open() {
    let list;
    try {
      list = await call('sound_inputs');
    } catch (e) {
      list = { unavailable: errorText(e) };
    }
    if (list.unavailable) {
      this.native = false;
      this.say(`The web engine captures the sound instead (less cleanly): ${list.unavailable}`);
      return false;
    }
    this.native = true;
    this.system = list.system;
    const fallback = list.inputs.find((d) => d.is_default);
    const options = [option('', `System default${fallback ? ` (${fallback.name})` : ''}`)]
      .concat(list.inputs.map((d) => option(d.id, d.name)));
    this.select.replaceChildren(...options);
    this.select.value = list.inputs.some((d) => d.id === list.chosen) ? list.chosen : '';
    this.select.disabled = false;
    await this.preview();
    return true;
  }

  /** A channel that shows the input's levels and losses as the engine reports them. */
  channel() {
    const channel = new Channel();
    channel.onmessage = (s) => this.show(s);
    return channel;
  }

  async preview() {
    try {
      const device = await call('sound_preview', { levels: this.channel() });
      this.say(`${device.name}, ${device.channels === 1 ? 'mono' : 'stereo'}, captured by ${this.system || 'the app'}.`);
    } catch (e) {
      this.show(null);
      this.say(errorText(e));
    }
  }

  /** The chooser changed: kept in settings, then metered. */
  async choose(id) {
    try {
      await call('choose_sound_input', { id: id || null });
    } catch (e) {
      this.say(errorText(e));
      return;
    }
    await this.preview();
  }

  /**
   * The engine cannot capture here: the web engine's microphone and meter take over, and the line
   * keeps saying why (open() wrote it), so the person knows the sound is captured less cleanly.
   */
  async fallBack() {
    // An input opened for the meter earlier (before the sound server went away) is let go.
    await call('sound_preview_stop').catch(() => {});
    this.native = false;
    this.show(null);
    // The web engine's meter is linear (capture.js).
    for (const meter of this.meters) Object.assign(meter, { low: 0.6, high: 0.85 });
  }

  show(s) {
    // The engine's last word, for the capture benchmark (its clock drift, bench/capture.rs).
    window.icecreamSoundStatus = () => s;
    const levels = (s && s.levels) || [];
    this.meters.forEach((meter, i) => {
      const level = levels[i];
      if (s) Object.assign(meter, { low: AMBER, high: RED });
      meter.hidden = i > 0 && !level;
      meter.value = level ? Math.max(0, (level.peak_dbfs - FLOOR_DB) / -FLOOR_DB) : 0;
      meter.title = level ? `Peak ${db(level.peak_dbfs)}, RMS ${db(level.rms_dbfs)}` : '';
      meter.dataset.peakDbfs = level ? level.peak_dbfs.toFixed(1) : '';
    });
    if (!s) return;
    const lost = s.dropouts > 0 ? `${s.dropouts} dropout${s.dropouts === 1 ? '' : 's'}, ${s.lost.secs * 1000 + Math.round(s.lost.nanos / 1e6)} ms lost` : '';
    if (s.away) this.say(`The sound input went away (${s.away}); listeners hear silence until it is back.`, 'warning');
    else if (lost) this.say(`${s.device}: ${lost} on the way in.`, 'warning');
    else if (this.line.dataset.kind === 'warning') this.say(`${s.device}: sound is back.`);
  }

  say(text, kind = 'info') {
    this.line.textContent = text;
    this.line.dataset.kind = kind;
    this.line.hidden = !text;
  }
}

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text;
  return o;
}
