// The main window's row per destination while live: its name, its own state and stats, a Stop that
// ends only its stream and a Start that sends to it again once it has stopped or failed. Shown
// when the broadcast goes to more than one destination.
import { call, errorText } from './ipc.js';
import { showNotice } from './notice.js';

export class DestinationRows {
  /** statusText(s) says a state in words; bytes(n) a byte count. */
  constructor({ statusText, bytes }) {
    Object.assign(this, { statusText, bytes });
    this.list = document.getElementById('destination-rows');
    this.rows = new Map();
  }

  /** The broadcast's status: one row per destination, updated in place. */
  show(s) {
    const destinations = s.destinations || [];
    const ended = ['idle', 'stopped', 'failed'].includes(s.state) && destinations.length === 0;
    if (ended) this.clear();
    this.list.hidden = destinations.length < 2;
    for (const d of destinations) this.row(d).update(d, s.state);
  }

  clear() {
    this.rows.clear();
    this.list.replaceChildren();
    this.list.hidden = true;
  }

  row(d) {
    let row = this.rows.get(d.index);
    if (!row) {
      row = new Row(d.index, this);
      this.rows.set(d.index, row);
      this.list.append(row.li);
    }
    return row;
  }
}

class Row {
  constructor(index, rows) {
    this.rows = rows;
    this.li = document.createElement('li');
    this.li.dataset.index = index;
    this.name = document.createElement('strong');
    this.state = document.createElement('span');
    this.state.className = 'row-state';
    this.stats = document.createElement('small');
    this.stop = this.button('stop-destination', 'Stop', 'stop_destination', index);
    this.start = this.button('start-destination', 'Start', 'start_destination', index);
    this.li.append(this.name, this.stop, this.start, this.state, this.stats);
  }

  /** A button that calls `command` for this destination; its error is shown as a notice. */
  button(className, label, command, index) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = className;
    b.textContent = label;
    b.addEventListener('click', () => {
      b.disabled = true;
      call(command, { index }).catch((e) => {
        b.disabled = false;
        showNotice(errorText(e));
      });
    });
    return b;
  }

  update(d, overall) {
    this.li.dataset.state = d.state;
    this.name.textContent = d.name;
    this.name.title = d.listen_url;
    this.state.textContent = this.rows.statusText(d);
    this.state.title = d.reason || '';
    const listeners = d.listeners == null ? '—' : String(d.listeners);
    this.stats.textContent = `${this.rows.bytes(d.bytes_sent)} · ${Math.round(d.bitrate_kbps)} kbps · ${listeners} listening`;
    const onAir = ['connecting', 'live', 'reconnecting'].includes(d.state) && overall !== 'stopping';
    this.stop.hidden = !onAir;
    this.stop.title = `Stop sending to ${d.name}; the other destinations stay live`;
    if (onAir) this.stop.disabled = false;
    // Started again only while the broadcast goes on elsewhere.
    const ended = ['stopped', 'failed'].includes(d.state);
    this.start.hidden = !(ended && ['live', 'reconnecting'].includes(overall));
    this.start.title = `Send to ${d.name} again; listeners there get the broadcast from now on`;
    if (!this.start.hidden) this.start.disabled = false;
  }
}
