/**
 * Per-pixel-column aggregation for zoomed-out views: every device-pixel column gets one
 * candle (first open, max high, min low, last close, summed volume) of the candles whose
 * centre falls in it. The work is one pass over the visible candles, whatever the zoom.
 */

export interface OHLCV {
  readonly length: number;
  readonly o: Float64Array;
  readonly h: Float64Array;
  readonly l: Float64Array;
  readonly c: Float64Array;
  readonly v: Float64Array;
}

export class Columns {
  o: Float64Array;
  h: Float64Array;
  l: Float64Array;
  c: Float64Array;
  v: Float64Array;
  /** Index of the first candle in each column; -1 for an empty column. */
  first: Int32Array;
  count: Int32Array;
  n = 0;
  /** Extents over the non-empty columns. */
  minLow = Infinity;
  maxHigh = -Infinity;
  maxVol = 0;

  constructor(capacity = 0) {
    this.o = new Float64Array(capacity);
    this.h = new Float64Array(capacity);
    this.l = new Float64Array(capacity);
    this.c = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.first = new Int32Array(capacity);
    this.count = new Int32Array(capacity);
  }

  ensure(n: number): void {
    if (this.o.length >= n) return;
    const m = Math.max(n, 256);
    this.o = new Float64Array(m);
    this.h = new Float64Array(m);
    this.l = new Float64Array(m);
    this.c = new Float64Array(m);
    this.v = new Float64Array(m);
    this.first = new Int32Array(m);
    this.count = new Int32Array(m);
  }
}

/**
 * Candle i spans index interval [i, i+1); its centre i+0.5 is drawn at x = (i + 0.5 - lo) * k,
 * with k = ncols / (hi - lo) pixels per candle. Column x holds the candles with
 * floor((i + 0.5 - lo) * k) === x.
 */
export function aggregateColumns(s: OHLCV, lo: number, hi: number, ncols: number, out: Columns): Columns {
  ncols = Math.max(0, Math.floor(ncols));
  out.ensure(ncols);
  out.n = ncols;
  out.minLow = Infinity;
  out.maxHigh = -Infinity;
  out.maxVol = 0;
  const span = hi - lo;
  if (!(span > 0) || ncols === 0) {
    out.count.fill(0, 0, ncols);
    out.first.fill(-1, 0, ncols);
    return out;
  }
  const k = ncols / span;
  const inv = span / ncols;
  const n = s.length;
  const O = s.o, H = s.h, L = s.l, C = s.c, V = s.v;
  const oO = out.o, oH = out.h, oL = out.l, oC = out.c, oV = out.v, oF = out.first, oN = out.count;
  let minLow = Infinity, maxHigh = -Infinity, maxVol = 0;
  // First candle whose column is >= 0: i + 0.5 - lo >= 0.
  let i = Math.max(0, Math.ceil(lo - 0.5));
  for (let x = 0; x < ncols; x++) {
    // Candles in column x satisfy (i + 0.5 - lo) * k < x + 1  <=>  i < lo - 0.5 + (x + 1) / k.
    const end = Math.min(n, Math.ceil(lo - 0.5 + (x + 1) * inv));
    // Guard against float drift at the boundary.
    let e = end;
    while (e > i && Math.floor((e - 1 + 0.5 - lo) * k) > x) e--;
    while (e < n && Math.floor((e + 0.5 - lo) * k) <= x) e++;
    if (e <= i) {
      oN[x] = 0;
      oF[x] = -1;
      continue;
    }
    let hh = H[i], ll = L[i], vv = V[i];
    for (let j = i + 1; j < e; j++) {
      const hj = H[j];
      if (hj > hh) hh = hj;
      const lj = L[j];
      if (lj < ll) ll = lj;
      vv += V[j];
    }
    oO[x] = O[i];
    oC[x] = C[e - 1];
    oH[x] = hh;
    oL[x] = ll;
    oV[x] = vv;
    oF[x] = i;
    oN[x] = e - i;
    if (ll < minLow) minLow = ll;
    if (hh > maxHigh) maxHigh = hh;
    if (vv > maxVol) maxVol = vv;
    i = e;
  }
  out.minLow = minLow;
  out.maxHigh = maxHigh;
  out.maxVol = maxVol;
  return out;
}
