/**
 * Columnar candle storage: one typed array per field, sized with spare capacity so that
 * live appends do not reallocate every time. Index i is the candle's x position
 * (trading-chart style: no gaps for weekends or holidays).
 */
import type { BarRow, BarsResponse } from './types';

export class Series {
  t: Float64Array;
  o: Float64Array;
  h: Float64Array;
  l: Float64Array;
  c: Float64Array;
  v: Float64Array;
  /** Per-candle source, as an index into `sources`. */
  src: Uint8Array;
  sources: string[] = [];
  length = 0;
  /** Bumped on every change, so views can tell that a redraw is due. */
  version = 0;

  constructor(capacity = 1024) {
    const n = Math.max(16, capacity);
    this.t = new Float64Array(n);
    this.o = new Float64Array(n);
    this.h = new Float64Array(n);
    this.l = new Float64Array(n);
    this.c = new Float64Array(n);
    this.v = new Float64Array(n);
    this.src = new Uint8Array(n);
  }

  get capacity(): number {
    return this.t.length;
  }

  sourceCode(name: string): number {
    let k = this.sources.indexOf(name);
    if (k < 0) {
      if (this.sources.length >= 255) return 255;
      k = this.sources.push(name) - 1;
    }
    return k;
  }

  private grow(min: number): void {
    const n = Math.max(min, Math.ceil(this.capacity * 1.5) + 16);
    const f = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.t = f(this.t);
    this.o = f(this.o);
    this.h = f(this.h);
    this.l = f(this.l);
    this.c = f(this.c);
    this.v = f(this.v);
    const s = new Uint8Array(n);
    s.set(this.src.subarray(0, this.length));
    this.src = s;
  }

  push(t: number, o: number, h: number, l: number, c: number, v: number, source = ''): number {
    if (this.length >= this.capacity) this.grow(this.length + 1);
    const i = this.length++;
    this.t[i] = t;
    this.o[i] = o;
    this.h[i] = h;
    this.l[i] = l;
    this.c[i] = c;
    this.v[i] = v;
    this.src[i] = this.sourceCode(source);
    this.version++;
    return i;
  }

  /** Distinct sources present, in order of first appearance. */
  presentSources(): string[] {
    const seen = new Uint8Array(256);
    const out: string[] = [];
    for (let i = 0; i < this.length; i++) {
      const k = this.src[i];
      if (!seen[k]) {
        seen[k] = 1;
        out.push(this.sources[k] ?? 'unknown');
      }
    }
    return out;
  }
}

/** Parse an ISO-8601 timestamp to epoch ms (UTC when no offset is given). NaN if invalid. */
export function parseTs(s: string): number {
  if (typeof s !== 'string') return NaN;
  // A bare date or a date-time without an offset is taken as UTC, never local time.
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(s);
  const isDateOnly = /^\d{4}-\d\d-\d\d$/.test(s);
  return Date.parse(hasZone || isDateOnly ? s : s + 'Z');
}

function num(x: unknown): number {
  return typeof x === 'number' ? x : x == null ? NaN : Number(x);
}

export interface ParseResult {
  series: Series;
  /** Rows dropped because a field was missing or not a finite number. */
  dropped: number;
}

/**
 * Turn a /api/v1/bars response into a Series. Rows are expected ascending by ts_event; if not,
 * they are sorted. Rows sharing a ts_event keep the highest revision (the last one on ties).
 */
export function parseBars(resp: BarsResponse): ParseResult {
  if (!resp || !Array.isArray(resp.bars)) throw new Error('malformed bars response: no "bars" array');
  const rows = resp.bars;
  const n = rows.length;
  const series = new Series(n + 256);
  let dropped = 0;
  let sorted = true;
  let prevT = -Infinity;
  const ts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = parseTs(rows[i].ts_event);
    ts[i] = t;
    if (t < prevT) sorted = false;
    if (t === t) prevT = t;
  }
  let order: ArrayLike<number> | null = null;
  let lastRev = -Infinity;
  if (!sorted) {
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => ts[a] - ts[b] || a - b);
    order = idx;
  }
  for (let k = 0; k < n; k++) {
    const i = order ? order[k] : k;
    const r: BarRow = rows[i];
    const t = ts[i];
    const o = num(r.open), h = num(r.high), l = num(r.low), c = num(r.close);
    const vRaw = num(r.volume);
    const v = vRaw === vRaw ? vRaw : 0;
    if (!(Number.isFinite(t) && Number.isFinite(o) && Number.isFinite(h) && Number.isFinite(l) && Number.isFinite(c))) {
      dropped++;
      continue;
    }
    const rev = Number.isFinite(num(r.revision)) ? num(r.revision) : 0;
    const last = series.length - 1;
    if (last >= 0 && series.t[last] === t) {
      // Duplicate timestamp: the higher revision wins (the later row on ties).
      if (rev < lastRev) continue;
      lastRev = rev;
      series.o[last] = o;
      series.h[last] = Math.max(h, o, c);
      series.l[last] = Math.min(l, o, c);
      series.c[last] = c;
      series.v[last] = v;
      series.src[last] = series.sourceCode(String(r.source ?? ''));
      continue;
    }
    lastRev = rev;
    series.push(t, o, Math.max(h, o, c), Math.min(l, o, c), c, v, String(r.source ?? ''));
  }
  return { series, dropped };
}
