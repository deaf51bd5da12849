// The main window's row per destination while live: its name, its own state and stats, and a Stop
// that ends only its stream. Shown when the broadcast goes to more than one destination.
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
    this.stop = document.createElement('button');
    this.stop.type = 'button';
    this.stop.className = 'stop-destination';
    this.stop.textContent = 'Stop';
    this.stop.addEventListener('click', () => {
      this.stop.disabled = true;
      call('stop_destination', { index }).catch((e) => {
        this.stop.disabled = false;
        showNotice(errorText(e));
      });
    });
    this.li.append(this.name, this.stop, this.state, this.stats);
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
    if (onAir && d.state !== 'stopping') this.stop.disabled = false;
  }
}
