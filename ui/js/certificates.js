// Servers' own certificates the person chose to trust: the "Trust this certificate" button shown
// with the error that offers one, and the list in Settings with a way to forget each.
import { call, errorText } from './ipc.js';

/**
 * A button that trusts `offer` ({host, port, sha256}) for its host and port, kept at once; then
 * onTrusted(view) gets the saved settings view. onError(text) is told why it could not be kept.
 */
export function trustButton(offer, onTrusted, onError) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'trust-certificate';
  button.textContent = 'Trust this certificate';
  button.title = `Trust the certificate with SHA-256 ${offer.sha256} for ${offer.host}:${offer.port}`;
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      onTrusted(await call('trust_certificate', { host: offer.host, port: offer.port, sha256: offer.sha256 }));
    } catch (e) {
      button.disabled = false;
      onError(errorText(e));
    }
  });
  return button;
}

/** The "Trusted certificates" list in Settings. onChanged(view) gets the view after a Forget. */
export class TrustedList {
  constructor({ onChanged, onError }) {
    Object.assign(this, { onChanged, onError });
    this.box = document.getElementById('trusted-certificates');
    this.list = document.getElementById('trusted-list');
  }

  show(trusted) {
    this.box.hidden = trusted.length === 0;
    this.list.replaceChildren(...trusted.map((t) => {
      const li = document.createElement('li');
      const what = document.createElement('span');
      what.textContent = `${t.host}:${t.port}`;
      const fp = document.createElement('code');
      fp.className = 'fingerprint';
      fp.textContent = `SHA-256 ${t.sha256}`;
      const forget = document.createElement('button');
      forget.type = 'button';
      forget.className = 'quiet';
      forget.textContent = 'Forget';
      forget.addEventListener('click', async () => {
        forget.disabled = true;
        try {
          this.onChanged(await call('forget_certificate', { host: t.host, port: t.port }));
        } catch (e) {
          forget.disabled = false;
          this.onError(errorText(e));
        }
      });
      li.append(what, fp, forget);
      return li;
    }));
  }
}
