// The app's commands, in one place. Chunks go as raw bytes (an ArrayBuffer body), never as JSON.
const core = window.__TAURI__.core;

export const Channel = core.Channel;

export function call(command, args) {
  return core.invoke(command, args);
}

/** One recorder chunk to the broadcast, as the request's raw body. */
export function pushChunk(bytes) {
  return core.invoke('push_chunk', bytes);
}

/** The plain sentence of a command's error (the engine writes them for people). */
export function errorText(e) {
  if (typeof e === 'string') return e;
  if (e && typeof e.message === 'string') return e.message;
  return 'Something went wrong that Icecream did not expect: ' + String(e);
}
