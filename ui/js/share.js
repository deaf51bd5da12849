// Share (listen URL, embed code) and Watch (the live mount, as listeners get it), while live.

function copy(id, button) {
  const field = document.getElementById(id);
  const done = () => {
    button.textContent = 'Copied';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(done, () => {
      field.select();
      if (document.execCommand('copy')) done();
    });
  } else {
    field.select();
    if (document.execCommand('copy')) done();
  }
}

export class SharePanel {
  constructor() {
    this.box = document.getElementById('share');
    this.watchBox = document.getElementById('watch');
    this.watchButton = document.getElementById('watch-toggle');
    this.share = null;
    for (const b of this.box.querySelectorAll('[data-copy]')) {
      b.addEventListener('click', () => copy(b.dataset.copy, b));
    }
    this.watchButton.addEventListener('click', () => (this.watchBox.hidden ? this.watch() : this.unwatch()));
  }

  show(share) {
    this.share = share;
    document.getElementById('share-url').value = share.listen_url;
    document.getElementById('share-embed').value = share.embed_html;
    // What a listener in a browser hears against live (bench/RESULTS.md, "live edge").
    document.getElementById('share-live').textContent = share.plays_live
      ? 'It plays the live moment, under a second behind, where your server lets web pages read the stream (it sends Access-Control-Allow-Origin; the one on this computer does) and the browser can (all play WebM this way; Firefox plays MP3 directly). Elsewhere it plays a few seconds behind.'
      : 'Browsers play this format a few seconds behind live (they start at the oldest sound the server keeps for newcomers). A WebM mount plays under a second behind.';
    this.box.hidden = false;
  }

  hide() {
    this.unwatch();
    this.box.hidden = true;
  }

  watch() {
    const player = document.createElement(this.share.has_video ? 'video' : 'audio');
    player.id = 'watch-player';
    player.controls = true;
    player.autoplay = true;
    // Muted at first: the broadcaster's own speakers would otherwise feed back into the mic.
    player.muted = true;
    player.src = this.share.listen_url + (this.share.listen_url.includes('?') ? '&' : '?') + 't=' + Date.now();
    this.watchBox.replaceChildren(player);
    this.watchBox.hidden = false;
    this.watchButton.textContent = 'Stop watching';
  }

  unwatch() {
    const player = this.watchBox.querySelector('video, audio');
    if (player) {
      player.pause();
      player.removeAttribute('src');
      player.load();
    }
    this.watchBox.replaceChildren();
    this.watchBox.hidden = true;
    this.watchButton.textContent = 'Watch';
  }
}
