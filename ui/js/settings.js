// The Settings dialog: every engine setting, checked by the engine itself (its sentences appear
// beside the fields), saved by the app. The password is sent once and never shown again.
import { call, errorText } from './ipc.js';
import { chosenOverride, describe, setOverride } from './capture-path.js';
import { trustButton, TrustedList } from './certificates.js';

const SERVER = ['host', 'port', 'tls', 'mount', 'mount_per_user', 'username'];
const STREAM = ['name', 'description', 'genre', 'url', 'public'];
const RECORDING = ['enabled', 'folder'];
// The destination's own format and audio bitrate; the picture is the broadcast's.
const DESTINATION = ['format', 'audio_bitrate_kbps'];
const VIDEO = ['video_bitrate_kbps', 'width', 'height', 'fps'];
const ENCODING = [...DESTINATION, ...VIDEO];
const NUMBERS = new Set(['port', 'audio_bitrate_kbps', 'video_bitrate_kbps', 'width', 'height', 'fps']);

/**
 * What the capture must give for the destinations that are on: a camera if any carries video,
 * titles if any can show them, and audio at the highest bitrate any of them asks for.
 */
export function broadcastShape(view) {
  const on = view.settings.destinations.filter((d) => d.enabled);
  const formats = on.map((d) => view.formats.find((f) => f.id === d.format)).filter(Boolean);
  return {
    format: {
      has_video: formats.some((f) => f.has_video),
      now_playing: formats.some((f) => f.now_playing),
    },
    encoding: {
      ...view.settings.encoding,
      audio_bitrate_kbps: Math.max(...on.map((d) => d.audio_bitrate_kbps), 16),
    },
  };
}

/** How a destination is called: its name, or its server and mount (as the engine says it). */
function label(d) {
  if (d.name.trim()) return d.name.trim();
  if (!d.server.host.trim()) return 'The new destination';
  const mount = d.server.mount_per_user ? d.server.mount + d.server.username : d.server.mount;
  return d.server.host.trim() + mount;
}

function read(el) {
  if (el.type === 'checkbox') return el.checked;
  if (NUMBERS.has(el.name)) {
    // Out-of-range numbers still reach the engine, which says what is wrong with them.
    const n = Math.trunc(Number(el.value));
    return Number.isFinite(n) ? Math.min(Math.max(n, 0), 4294967295) : 0;
  }
  return el.value;
}

function write(el, value) {
  if (el.type === 'checkbox') el.checked = !!value;
  else el.value = value ?? '';
}

export class SettingsDialog {
  /** onSaved(view) is told of every successful save; isLive() says whether a broadcast runs. */
  constructor({ onSaved, isLive, onTryLocal }) {
    Object.assign(this, { onSaved, isLive, onTryLocal });
    this.dialog = document.getElementById('settings');
    this.form = document.getElementById('settings-form');
    this.message = document.getElementById('settings-message');
    this.results = document.getElementById('test-results');
    this.view = null;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.save();
    });
    document.getElementById('cancel-settings').addEventListener('click', () => this.dialog.close());
    document.getElementById('test-connection').addEventListener('click', () => this.test());
    document.getElementById('try-local-settings').addEventListener('click', () => this.onTryLocal());
    document.getElementById('choose-folder').addEventListener('click', () => this.chooseFolder());
    document.getElementById('add-destination').addEventListener('click', () => this.addDestination());
    document.getElementById('remove-destination').addEventListener('click', () => this.removeDestination());
    this.field('destination_name').addEventListener('input', () => {
      this.keepDestination();
      this.showDestinations();
    });
    this.field('destination_enabled').addEventListener('change', () => {
      this.keepDestination();
      this.showDestinations();
    });
    this.field('mount').addEventListener('input', () => this.checkMountEnding());
    this.field('format').addEventListener('change', () => this.checkMountEnding());
    for (const button of this.form.querySelectorAll('.sections button')) {
      button.addEventListener('click', () => this.showSection(button.dataset.show));
    }
    document.getElementById('open-log-folder').addEventListener('click', () =>
      call('open_log_folder').catch((e) => this.fail(e)));
    this.trusted = new TrustedList({
      onChanged: (view) => this.certificatesChanged(view),
      onError: (text) => this.fail({ message: text }),
    });
  }

  /** The saved certificates changed: keep what the form holds, take the new list. */
  certificatesChanged(view) {
    this.view.settings.trusted_certificates = view.settings.trusted_certificates;
    this.trusted.show(view.settings.trusted_certificates);
  }

  field(name) {
    return this.form.elements.namedItem(name);
  }

  /** One section at a time: the dialog fits a window instead of scrolling through everything. */
  showSection(name) {
    for (const section of this.form.querySelectorAll('[data-section]')) section.hidden = section.dataset.section !== name;
    for (const button of this.form.querySelectorAll('.sections button')) {
      button.setAttribute('aria-pressed', String(button.dataset.show === name));
    }
  }

  /** The section a field is in. */
  sectionOf(name) {
    const input = this.field(name);
    const section = input && input.closest && input.closest('[data-section]');
    return section ? section.dataset.section : null;
  }

  /** A mount whose ending says another format than it will carry: players that go by it fail. */
  checkMountEnding() {
    const hint = document.getElementById('mount-hint');
    const format = this.view && this.view.formats.find((f) => f.id === this.field('format').value);
    const mount = this.field('mount').value.trim();
    const ending = (mount.match(/\.([A-Za-z0-9]+)$/) || [])[1];
    // Endings of one family name the same container: .ogg, .oga and .opus are all Ogg.
    const family = (e) => (['ogg', 'oga', 'opus'].includes(e) ? 'ogg' : e);
    const known = new Set(this.view ? this.view.formats.map((f) => family(f.extension)) : []);
    const clash = format && ending && known.has(family(ending.toLowerCase())) &&
      family(ending.toLowerCase()) !== family(format.extension);
    hint.textContent = clash
      ? `This mount ends in .${ending} but will carry ${format.label}: players that go by the name may refuse it. ` +
        `Name it ${mount.slice(0, -ending.length)}${format.extension}?`
      : '';
  }

  open(view) {
    this.view = view;
    const select = this.field('format');
    select.replaceChildren(...view.formats.map((f) => new Option(f.label, f.id)));
    const s = view.settings;
    // The form edits one destination at a time; the list above it picks which.
    this.dests = structuredClone(s.destinations);
    this.passwords = this.dests.map(() => '');
    this.savedPassword = new Map(s.destinations.map((d, i) => [d.id, !!view.has_password[i]]));
    this.problems = [];
    this.current = 0;
    this.loadDestination();
    for (const k of STREAM) write(this.field(k), s.stream[k]);
    for (const k of VIDEO) write(this.field(k), s.encoding[k]);
    for (const k of RECORDING) write(this.field(k), s.recording[k]);
    this.field('capture').value = chosenOverride();
    document.getElementById('capture-hint').textContent = describe();
    document.getElementById('password-kept').textContent = view.password_kept;
    const live = this.isLive();
    const locked = [...SERVER, ...ENCODING, ...RECORDING, 'password', 'capture', 'destination_name', 'destination_enabled'];
    for (const k of locked) this.field(k).disabled = live;
    for (const id of ['add-destination', 'remove-destination']) document.getElementById(id).disabled = live;
    document.getElementById('choose-folder').disabled = live;
    this.showSection('destinations');
    this.showProblems([]);
    this.trusted.show(s.trusted_certificates || []);
    this.results.replaceChildren();
    // Information, not an error: not in red.
    this.message.className = live ? 'form-message info' : 'form-message';
    this.message.textContent = live
      ? 'You are live: server, mount, format, size, frame rate and bitrates can change after you stop.'
      : '';
    if (!this.dialog.open) this.dialog.showModal();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** The form's fields into the destination they show. */
  keepDestination() {
    const d = this.dests[this.current];
    for (const k of SERVER) d.server[k] = read(this.field(k));
    for (const k of DESTINATION) d[k] = read(this.field(k));
    d.name = this.field('destination_name').value;
    d.enabled = this.field('destination_enabled').checked;
    this.passwords[this.current] = this.field('password').value;
  }

  /** The current destination into the form's fields. */
  loadDestination() {
    const d = this.dests[this.current];
    for (const k of SERVER) write(this.field(k), d.server[k]);
    for (const k of DESTINATION) write(this.field(k), d[k]);
    this.field('destination_name').value = d.name;
    this.field('destination_enabled').checked = d.enabled;
    const pw = this.field('password');
    pw.value = this.passwords[this.current];
    pw.placeholder = this.savedPassword.get(d.id) ? 'Saved (leave empty to keep it)' : '';
    document.getElementById('remove-destination').hidden = this.dests.length < 2;
    this.showDestinations();
    this.showProblems(this.problems);
    this.checkMountEnding();
  }

  /** The list of destinations: which one the form shows, which are off, which have problems. */
  showDestinations() {
    const list = document.getElementById('destination-list');
    list.replaceChildren(...this.dests.map((d, i) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.index = i;
      b.textContent = label(d) + (d.enabled ? '' : ' (off)');
      b.setAttribute('aria-pressed', String(i === this.current));
      b.classList.toggle('off', !d.enabled);
      b.classList.toggle('bad', this.problems.some((p) => p.destination === i));
      b.addEventListener('click', () => this.select(i));
      li.append(b);
      return li;
    }));
  }

  select(i) {
    this.keepDestination();
    this.current = i;
    this.loadDestination();
  }

  /** A new destination, starting from the one shown (same server port and username, say). */
  addDestination() {
    this.keepDestination();
    const d = structuredClone(this.dests[this.current]);
    d.id = crypto.randomUUID().slice(0, 8);
    d.name = '';
    d.enabled = true;
    d.server.host = '';
    d.server.mount = '/live';
    this.dests.push(d);
    this.passwords.push('');
    this.select(this.dests.length - 1);
    this.field('destination_name').focus();
  }

  removeDestination() {
    if (this.dests.length < 2) return;
    this.dests.splice(this.current, 1);
    this.passwords.splice(this.current, 1);
    this.problems = [];
    this.current = Math.max(0, this.current - 1);
    this.loadDestination();
  }

  collect() {
    this.keepDestination();
    const s = structuredClone(this.view.settings);
    s.destinations = structuredClone(this.dests);
    for (const k of STREAM) s.stream[k] = read(this.field(k));
    for (const k of VIDEO) s.encoding[k] = read(this.field(k));
    for (const k of RECORDING) s.recording[k] = read(this.field(k));
    return { settings: s, passwords: this.passwords.map((p) => (p === '' ? null : p)) };
  }

  showProblems(problems) {
    this.problems = problems;
    if (this.dests) this.showDestinations();
    for (const el of this.form.querySelectorAll('.problem')) el.textContent = '';
    for (const el of this.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    // The form shows one destination; the others' problems are in the message below, and their
    // names in the list are marked.
    for (const p of problems.filter((p) => p.destination == null || p.destination === this.current)) {
      const slot = this.form.querySelector(`.problem[data-for="${p.field}"]`);
      if (slot) slot.textContent = p.message;
      const input = this.field(p.field);
      if (input) input.setAttribute('aria-invalid', 'true');
    }
    // Each section with a problem is marked, and the first one is shown.
    const bad = new Set(problems.map((p) => this.sectionOf(p.field)).filter(Boolean));
    for (const button of this.form.querySelectorAll('.sections button')) {
      button.classList.toggle('bad', bad.has(button.dataset.show));
    }
    const first = [...this.form.querySelectorAll('.sections button')].find((b) => bad.has(b.dataset.show));
    if (first) this.showSection(first.dataset.show);
  }

  fail(e) {
    this.showProblems(e.problems || []);
    this.message.className = 'form-message';
    this.message.textContent = errorText(e);
  }

  async save() {
    this.message.textContent = 'Saving…';
    try {
      const view = await call('save_settings', this.collect());
      if (!this.isLive()) setOverride(this.field('capture').value);
      this.close();
      this.onSaved(view);
    } catch (e) {
      this.fail(e);
    }
  }

  /** The system's folder dialog; the choice goes into the field, saved with the rest. */
  async chooseFolder() {
    const format = this.view.formats.find((f) => f.id === this.field('format').value);
    try {
      const folder = await call('choose_recordings_folder', {
        current: this.field('folder').value,
        audioOnly: !!format && !format.has_video,
      });
      if (folder !== null) this.field('folder').value = folder;
    } catch (e) {
      this.fail(e);
    }
  }

  async test() {
    this.results.replaceChildren();
    this.message.className = 'form-message ok';
    this.message.textContent = 'Testing the connection…';
    const button = document.getElementById('test-connection');
    button.disabled = true;
    try {
      const checks = await call('test_connection', this.collect());
      this.showProblems([]);
      this.results.replaceChildren(...checks.map((c) => {
        const li = document.createElement('li');
        li.className = c.ok === true ? 'ok' : c.ok === false ? 'bad' : '';
        li.textContent = c.message;
        if (c.certificate) {
          li.append(trustButton(c.certificate, (view) => {
            this.certificatesChanged(view);
            this.test();
          }, (text) => this.fail({ message: text })));
        }
        return li;
      }));
      const good = checks.every((c) => c.ok !== false);
      this.message.className = good ? 'form-message ok' : 'form-message';
      this.message.textContent = good ? 'The server accepts this broadcast.' : 'The server does not accept this broadcast yet.';
    } catch (e) {
      this.fail(e);
    } finally {
      button.disabled = false;
    }
  }
}
