import { describe, expect, it } from 'vitest';
import { aggregateColumns, Columns } from './aggregate';
import { syntheticSeries } from './synthetic';

function arrays(n: number) {
  const mk = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
  return { length: n, o: mk((i) => i), h: mk((i) => i + 10), l: mk((i) => i - 10), c: mk((i) => i + 1), v: mk(() => 1) };
}

describe('aggregateColumns', () => {
  it('gives each pixel column first open, max high, min low, last close, summed volume', () => {
    const s = arrays(100);
    const out = aggregateColumns(s, 0, 100, 10, new Columns());
    expect(out.n).toBe(10);
    for (let x = 0; x < 10; x++) {
      expect(out.count[x]).toBe(10);
      expect(out.first[x]).toBe(x * 10);
      expect(out.o[x]).toBe(x * 10);
      expect(out.c[x]).toBe(x * 10 + 9 + 1);
      expect(out.h[x]).toBe(x * 10 + 9 + 10);
      expect(out.l[x]).toBe(x * 10 - 10);
      expect(out.v[x]).toBe(10);
    }
    expect(out.minLow).toBe(-10);
    expect(out.maxHigh).toBe(109);
    expect(out.maxVol).toBe(10);
  });

  it('covers every visible candle exactly once, at fractional zoom and offset', () => {
    const s = arrays(1000);
    for (const [lo, hi, cols] of [[0, 1000, 333], [-50.3, 700.7, 257], [123.45, 987.6, 100], [990, 1100, 64]] as const) {
      const out = aggregateColumns(s, lo, hi, cols, new Columns());
      let total = 0, vol = 0, prevEnd = -1;
      for (let x = 0; x < out.n; x++) {
        if (!out.count[x]) {
          expect(out.first[x]).toBe(-1);
          continue;
        }
        if (prevEnd >= 0) expect(out.first[x]).toBe(prevEnd);
        prevEnd = out.first[x] + out.count[x];
        total += out.count[x];
        vol += out.v[x];
        // Each candle in the column has its centre inside that column.
        const k = cols / (hi - lo);
        for (let i = out.first[x]; i < prevEnd; i++) expect(Math.floor((i + 0.5 - lo) * k)).toBe(x);
      }
      const firstVisible = Math.max(0, Math.ceil(lo - 0.5));
      const lastVisible = Math.min(999, Math.ceil(hi - 0.5) - 1);
      expect(total).toBe(lastVisible - firstVisible + 1);
      expect(vol).toBe(total);
    }
  });

  it('leaves empty columns when zoomed in past one candle per column', () => {
    const s = arrays(10);
    const out = aggregateColumns(s, 0, 10, 40, new Columns());
    const filled = Array.from(out.count.subarray(0, 40)).filter((c) => c > 0).length;
    expect(filled).toBe(10);
  });

  it('handles an empty view', () => {
    const out = aggregateColumns(arrays(10), 5, 5, 100, new Columns());
    expect(Array.from(out.count.subarray(0, 100)).every((c) => c === 0)).toBe(true);
  });

  it('matches a brute-force reduction over a million synthetic candles', () => {
    const s = syntheticSeries(1_000_000);
    const out = aggregateColumns(s, 0, 1_000_000, 1200, new Columns());
    let hi = -Infinity, lo = Infinity;
    for (let i = 0; i < s.length; i++) {
      if (s.h[i] > hi) hi = s.h[i];
      if (s.l[i] < lo) lo = s.l[i];
    }
    expect(out.maxHigh).toBe(hi);
    expect(out.minLow).toBe(lo);
    let n = 0;
    for (let x = 0; x < out.n; x++) n += out.count[x];
    expect(n).toBe(1_000_000);
  });
});
