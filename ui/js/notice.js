// The message under Go live: one at a time, errors in red, information in blue.
const box = () => document.getElementById('notice');

export function showNotice(message, kind = 'error') {
  const el = box();
  el.textContent = message;
  el.className = 'notice ' + kind;
  el.hidden = false;
}

export function clearNotice() {
  const el = box();
  el.hidden = true;
  el.textContent = '';
}

/** Adds a control to the message on show (a way to act on it). */
export function noticeAction(control) {
  box().append(control);
}
