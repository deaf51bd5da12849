<script>
/* Icecream: play the live moment. Read through Media Source the player is fed each byte as it
   comes and moves to the newest moment; left alone it starts seconds in the past. Without Media
   Source, or where the server does not let pages read the stream, the player plays it directly. */
(function () {
  var el = document.currentScript.previousElementSibling, url = __URL__, known = __TYPE__;
  var source = el.querySelector('source');
  if (!window.MediaSource || !window.fetch || !source) return;
  // A type the browser's Media Source refuses (Firefox and MP3) is played directly at once,
  // without opening the stream a first time for nothing.
  if (known && !MediaSource.isTypeSupported(known)) return;
  var plain = function () {
    if (source.parentNode) return;
    el.removeAttribute('src');
    el.appendChild(source);
    el.load();
  };
  el.removeChild(source);
  fetch(url, { cache: 'no-store' }).then(function (r) {
    if (!r.ok || !r.body) throw new Error('no stream');
    var reader = r.body.getReader(), ms = new MediaSource(), queue = [], sb = null, head = '';
    var giveUp = function () { reader.cancel(); plain(); };
    var next = function () {
      if (!sb || sb.updating || !queue.length) return;
      try { sb.appendBuffer(queue.shift()); } catch (e) { giveUp(); }
    };
    var edge = function () {
      var b = sb.buffered;
      if (!b.length) return next();
      var end = b.end(b.length - 1), t = el.currentTime, behind = end - t;
      // Far behind (the start, a stall's backlog): move there. A little: play 10 % faster until
      // caught up, as a move costs a video player a moment's stop.
      if (t < b.start(0) || ((!el.paused || !el.played.length) && behind > 1)) el.currentTime = end - 0.25;
      else el.playbackRate = behind > 0.45 ? 1.1 : behind < 0.3 ? 1 : el.playbackRate;
      if (t - b.start(0) > 60) return sb.remove(b.start(0), t - 30);
      next();
    };
    var codecs = function () {
      var v = /V_VP9/.test(head) ? 'vp9' : /V_VP8/.test(head) ? 'vp8' : '';
      var a = /A_OPUS/.test(head) ? 'opus' : /A_VORBIS/.test(head) ? 'vorbis' : '';
      return (v ? 'video' : 'audio') + '/webm; codecs="' + [v, a].filter(Boolean).join(',') + '"';
    };
    var pump = function () {
      reader.read().then(function (c) {
        if (c.done) { if (ms.readyState === 'open' && sb && !sb.updating) ms.endOfStream(); return; }
        queue.push(c.value);
        if (!sb) {
          // A WebM stream's own Tracks say its codecs; they are complete where the first Cluster
          // begins. MP3 and AAC say nothing more than their type.
          var type = known;
          if (!type) {
            head += String.fromCharCode.apply(null, c.value.subarray(0, 16384));
            if (head.indexOf('\x1f\x43\xb6\x75') < 0) return pump();
            type = codecs();
          }
          if (!MediaSource.isTypeSupported(type)) return giveUp();
          sb = ms.addSourceBuffer(type);
          sb.addEventListener('updateend', edge);
          sb.addEventListener('error', giveUp);
        }
        next();
        pump();
      }, plain);
    };
    ms.addEventListener('sourceopen', pump, { once: true });
    el.src = URL.createObjectURL(ms);
  }).catch(plain);
})();
</script>
