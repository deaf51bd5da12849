// Which capture path a broadcast uses: the page's own WebCodecs encoders + WebM muxer, or the
// webview's MediaRecorder. Chosen by what the webview has and by a 2-second self-test of its
// recorder at start (one that gives 0 bytes is broken, as WebKitGTK's is for video on Debian 12),
// never by its name. Settings → Picture and sound can override it (kept in this webview's storage: it is
// about this computer, not the server).
import { webCodecsMissing } from './webcodecs.js';

const KEY = 'capturePath';
const SELF_TEST_MS = 2000;

/** Recorder self-test results: null until tested, then true (bytes came) or false. */
const recorderWorks = { video: null, audio: null };

export function chosenOverride() {
  return localStorage.getItem(KEY) || 'auto';
}

export function setOverride(value) {
  localStorage.setItem(KEY, value);
}

async function bytesIn(stream) {
  let bytes = 0;
  const rec = new MediaRecorder(stream);
  rec.ondataavailable = (e) => (bytes += e.data ? e.data.size : 0);
  const stopped = new Promise((resolve) => (rec.onstop = resolve));
  rec.start(250);
  await new Promise((resolve) => setTimeout(resolve, SELF_TEST_MS));
  rec.stop();
  await stopped;
  return bytes;
}

/** Records 2 s of `stream` (with and without video) and remembers whether any bytes came. */
export async function selfTest(stream) {
  if (typeof MediaRecorder === 'undefined') {
    recorderWorks.video = recorderWorks.audio = false;
    return;
  }
  const audio = new MediaStream(stream.getAudioTracks());
  const tests = [];
  // Without a microphone (the engine captures the sound) there is no sound to test it with.
  if (audio.getAudioTracks().length > 0) {
    tests.push(bytesIn(audio).then((n) => (recorderWorks.audio = n > 0), () => (recorderWorks.audio = false)));
  }
  if (stream.getVideoTracks().length > 0) {
    tests.push(bytesIn(stream).then((n) => (recorderWorks.video = n > 0), () => (recorderWorks.video = false)));
  }
  await Promise.all(tests);
}

/**
 * 'webcodecs' or 'recorder'. For video, WebCodecs first where it exists: it controls keyframes.
 * For sound alone (only where the engine cannot open a sound input, see sound.js), the recorder
 * unless its self-test gave nothing: WebCodecs' sound comes through Web Audio, which in WebKitGTK
 * drops and repeats blocks and skews the channels, while its recorder was measured clean (issue 24).
 */
export function autoPath(video) {
  if (!video && recorderWorks.audio !== false) return 'recorder';
  if (webCodecsMissing({ video }).length === 0) return 'webcodecs';
  return 'recorder';
}

export function capturePath(video) {
  const chosen = chosenOverride();
  return chosen === 'auto' ? autoPath(video) : chosen;
}

/** In plain words, what this computer's web engine can do, for Settings → Picture and sound. */
export function describe() {
  const missing = webCodecsMissing({ video: true });
  const page = missing.length === 0
    ? 'Icecream\'s page can encode the picture itself (WebCodecs)'
    : `Icecream's page cannot encode the picture here (the web engine lacks ${missing.join(', ')})`;
  const recorder = (works, what) =>
    works === null ? `has not been tried for ${what} yet` : works ? `records ${what}` : `gives no ${what} here`;
  const video = recorder(recorderWorks.video, 'video');
  const audio = recorder(recorderWorks.audio, 'sound');
  const picture = autoPath(true) === 'webcodecs' ? 'the page encodes the picture' : 'the recorder records the picture';
  const sound = autoPath(false) === 'webcodecs' ? 'the page' : 'the recorder';
  // Listeners can only start watching at a keyframe: the page puts one every 0.6 s, while a
  // recorder may ignore the interval it is asked for (Chromium's puts one every 5 s).
  const sparse = recorderWorks.video === false ? '' :
    ' With the recorder, a viewer who joins mid-broadcast may wait up to 5 s for the picture; ' +
    'with the page, under a second.';
  return `${page}; the web engine's recorder (MediaRecorder) ${video} and ${audio}. ` +
    `Automatic: ${picture}, and ${sound} records the sound wherever Icecream cannot capture it itself.${sparse}`;
}
