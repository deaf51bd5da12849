// The app's commands, in one place. Chunks go as raw bytes (an ArrayBuffer body), never as JSON.
const core = window.__TAURI__.core;

export const Channel = core.Channel;

export function call(command, args) {
  return core.invoke(command, args);
}

const SOCKET_OPEN_MS = 3000;

/**
 * The way one broadcast's chunks go to the engine, in order, as raw bytes. Over the chunk socket
 * (src-tauri/chunk_socket.rs) where it opens: the next chunk goes without waiting for the last
 * one's answer, so a chunk costs ~0.4 ms instead of a 1–2 ms call (bench/RESULTS.md). Else one
 * `push_chunk` call at a time, the request's raw body. push() resolves once the engine took the
 * chunk, or rejects with its sentence.
 */
export class ChunkLane {
  /** `socket`: the command that says where the socket is (the IPC benchmark has its own). */
  static async open(socket = 'chunk_socket') {
    const lane = new ChunkLane();
    try {
      const ws = new WebSocket(await core.invoke(socket));
      ws.binaryType = 'arraybuffer';
      await new Promise((opened, failed) => {
        ws.onopen = opened;
        ws.onerror = failed;
        setTimeout(failed, SOCKET_OPEN_MS);
      });
      ws.onmessage = (e) => lane.answered(e.data);
      ws.onclose = () => lane.closed();
      lane.socket = ws;
    } catch (e) {
      // Calls carry the same bytes, only slower.
    }
    return lane;
  }

  constructor() {
    this.socket = null;
    this.waiting = [];
    this.last = Promise.resolve();
  }

  /** The path the chunks take, for the status line's details and the tests. */
  get via() {
    return this.socket ? 'socket' : 'calls';
  }

  push(bytes) {
    const socket = this.socket;
    const taken = socket
      ? new Promise((ok, fail) => {
          this.waiting.push({ ok, fail });
          socket.send(bytes);
        })
      : this.last.catch(() => {}).then(() => core.invoke('push_chunk', bytes));
    this.last = taken;
    return taken;
  }

  /** "+N": the next N chunks were taken; anything else: why the next one was not. */
  answered(text) {
    if (text.startsWith('+')) {
      for (const w of this.waiting.splice(0, Number(text.slice(1)))) w.ok();
    } else {
      const w = this.waiting.shift();
      if (w) w.fail(text);
    }
  }

  closed() {
    this.socket = null;
    for (const w of this.waiting.splice(0)) {
      w.fail('The link to the broadcast engine closed before this part of the recording reached it.');
    }
  }

  /** Resolves once every chunk pushed so far has been answered. */
  drain() {
    return this.last.then(() => {}, () => {});
  }

  close() {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
  }
}

/** The plain sentence of a command's error (the engine writes them for people). */
export function errorText(e) {
  if (typeof e === 'string') return e;
  if (e && typeof e.message === 'string') return e.message;
  return 'Something went wrong that Icecream did not expect: ' + String(e);
}
