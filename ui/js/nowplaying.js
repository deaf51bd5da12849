// The now-playing title, for mounts whose listeners can see one (MP3, AAC, Ogg).
import { call, errorText } from './ipc.js';

export class NowPlayingPanel {
  constructor() {
    this.form = document.getElementById('now-playing');
    this.result = document.getElementById('np-result');
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
  }

  show(format) {
    this.form.hidden = !format.now_playing;
    this.result.textContent = '';
    // A new broadcast has no title yet: the last one's would look as if listeners saw it.
    document.getElementById('np-title').value = '';
  }

  hide() {
    this.form.hidden = true;
  }

  async send() {
    const title = document.getElementById('np-title').value.trim();
    if (!title) {
      this.result.textContent = 'Type a title first.';
      return;
    }
    this.result.textContent = 'Sending…';
    try {
      const shown = await call('set_now_playing', { title });
      this.result.textContent = shown.advice || `Listeners now see: ${shown.title}`;
    } catch (e) {
      this.result.textContent = errorText(e);
    }
  }
}
