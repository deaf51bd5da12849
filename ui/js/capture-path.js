// Which capture path a broadcast uses: the page's own WebCodecs encoders + WebM muxer, or the
// webview's MediaRecorder. Chosen by what the webview has, never by its name; Settings → Advanced
// can override it (kept in this webview's storage: it is about this computer, not the server).
import { webCodecsMissing } from './webcodecs.js';

const KEY = 'capturePath';

export function chosenOverride() {
  return localStorage.getItem(KEY) || 'auto';
}

export function setOverride(value) {
  localStorage.setItem(KEY, value);
}

/** 'webcodecs' or 'recorder'. WebCodecs first where it exists: it controls keyframes. */
export function autoPath(video) {
  return webCodecsMissing({ video }).length === 0 ? 'webcodecs' : 'recorder';
}

export function capturePath(video) {
  const chosen = chosenOverride();
  return chosen === 'auto' ? autoPath(video) : chosen;
}
