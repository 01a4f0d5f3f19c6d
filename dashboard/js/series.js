// A fixed-capacity ring buffer of (t_s, value, flag) samples for live charts: pushing never
// allocates, old samples fall off the front, and `window` copies the last N seconds out in
// the column arrays uPlot draws. Pure: unit-tested with `node --test`.

export class RingSeries {
  /** capacity: samples kept (e.g. 5 min of beats at 200 bpm = 1000). */
  constructor(capacity) {
    this.capacity = capacity;
    this.t = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.flag = new Uint8Array(capacity);
    this.start = 0;
    this.length = 0;
  }

  /** Appends one sample; value may be null (stored as NaN: a break in the line). */
  push(tS, value, flag = 0) {
    const i = (this.start + this.length) % this.capacity;
    this.t[i] = tS;
    this.v[i] = value ?? NaN;
    this.flag[i] = flag;
    if (this.length < this.capacity) this.length += 1;
    else this.start = (this.start + 1) % this.capacity;
  }

  clear() { this.start = 0; this.length = 0; }

  /**
   * Samples with t >= fromS, oldest first, as {t, v, flag} arrays (v holds null for breaks).
   * Samples must have been pushed in non-decreasing t, which live and replay streams keep.
   */
  window(fromS = -Infinity) {
    let first = 0;
    while (first < this.length && this.t[(this.start + first) % this.capacity] < fromS) first += 1;
    const n = this.length - first;
    const t = new Array(n);
    const v = new Array(n);
    const flag = new Array(n);
    for (let k = 0; k < n; k += 1) {
      const i = (this.start + first + k) % this.capacity;
      t[k] = this.t[i];
      v[k] = Number.isNaN(this.v[i]) ? null : this.v[i];
      flag[k] = this.flag[i];
    }
    return { t, v, flag };
  }
}

/** A bounded list: keeps the newest `capacity` items (cue feed, markers, gaps). */
export function pushBounded(list, item, capacity) {
  list.push(item);
  if (list.length > capacity) list.splice(0, list.length - capacity);
  return list;
}
