// Wires the panels together: settings, capture, live, share, now playing, first run.
import { call, errorText } from './ipc.js';
import { Capture, CaptureError } from './capture.js';
import { LivePanel, SHORTCUT } from './live.js';
import { SettingsDialog, broadcastShape } from './settings.js';
import { SharePanel } from './share.js';
import { NowPlayingPanel } from './nowplaying.js';
import { showNotice, clearNotice } from './notice.js';
import { selfTest } from './capture-path.js';
import { SoundInputs } from './sound.js';

const $ = (id) => document.getElementById(id);
let view = null;

const capture = new Capture({
  preview: $('preview'),
  previewOff: $('preview-off'),
  level: $('level'),
  cameraSelect: $('camera'),
  micSelect: $('microphone'),
});
const sound = new SoundInputs({
  select: $('microphone'),
  meters: [$('level'), $('level-right')],
  line: $('sound-line'),
});
const share = new SharePanel();
const nowPlaying = new NowPlayingPanel();
const audioOnly = $('audio-only');

const live = new LivePanel({
  settings: () => view,
  audioOnly: () => audioOnly.checked,
  capture,
  sound,
  onLive(info, format) {
    share.show(info);
    nowPlaying.show(format);
  },
  onEnded() {
    share.hide();
    nowPlaying.hide();
    // The meter shows the input again once the broadcast has let it go.
    if (sound.native) sound.preview();
  },
  onTrusted: (v) => setView(v),
  onSettings: (v) => setView(v),
});

const settings = new SettingsDialog({
  isLive: () => live.live,
  onSaved: (v) => {
    const before = view && JSON.stringify(broadcastShape(view).encoding);
    setView(v);
    showNotice('Settings saved.', 'info');
    // A new size or frame rate takes effect in the preview now, and so at the next Go live: the
    // camera was opened with the old one.
    if (!live.live && !audioOnly.checked && before !== JSON.stringify(broadcastShape(v).encoding)) openCapture();
  },
  onTryLocal: () => tryLocal(),
});

function setView(v) {
  view = v;
  $('first-run').hidden = v.configured;
  $('golive').disabled = !v.configured;
  $('golive').title = v.configured ? `Go live (${SHORTCUT})` : 'Enter your server in Settings first.';
}

async function tryLocal() {
  showNotice('Starting a private Icecast server on this computer…', 'info');
  try {
    setView(await call('try_local_server', { audioOnly: audioOnly.checked }));
    settings.close();
    showNotice('A private Icecast server runs on this computer and Settings point to it. Press Go live, then Watch.', 'info');
  } catch (e) {
    showNotice(errorText(e));
  }
}

async function openCapture() {
  // Sound is captured by the engine where it can open an input, with or without the camera; the
  // webview's microphone path damages it (issue 24's measurements), so it is only the fallback.
  if (audioOnly.checked) {
    capture.close();
    $('preview-off').hidden = false;
  }
  const native = await sound.open();
  if (audioOnly.checked && native) return;
  if (!native) await sound.fallBack();
  try {
    const encoding = view && broadcastShape(view).encoding;
    await capture.open({ audioOnly: audioOnly.checked, encoding, sound: !native });
  } catch (e) {
    showNotice(e instanceof CaptureError ? e.message : errorText(e));
  }
}

async function start() {
  // Controls answer from the first moment; what they need arrives just after.
  $('open-settings').addEventListener('click', async () => {
    try {
      settings.open(await call('load_settings'));
    } catch (e) {
      showNotice(errorText(e));
    }
  });
  $('try-local').addEventListener('click', () => tryLocal());
  audioOnly.checked = localStorage.getItem('audioOnly') === '1';
  document.body.classList.toggle('radio', audioOnly.checked);
  audioOnly.addEventListener('change', () => {
    localStorage.setItem('audioOnly', audioOnly.checked ? '1' : '0');
    document.body.classList.toggle('radio', audioOnly.checked);
    if (!live.live) {
      clearNotice();
      openCapture();
    }
  });
  $('camera').addEventListener('change', () => live.live || openCapture());
  $('microphone').addEventListener('change', () => {
    if (live.live) return;
    if (sound.native) sound.choose($('microphone').value);
    else openCapture();
  });
  try {
    setView(await call('load_settings'));
  } catch (e) {
    showNotice(errorText(e));
    return;
  }
  if (view.notice) showNotice(view.notice);
  document.body.dataset.ready = 'yes';
  const unsupported = Capture.supported();
  if (unsupported) {
    showNotice(unsupported);
    $('golive').disabled = true;
    return;
  }
  await openCapture();
  // What this webview's recorder can really do, found once, while nothing is live.
  if (capture.stream && !live.live) await selfTest(capture.stream).catch(() => {});
  document.body.dataset.selfTested = 'yes';
}

start();
