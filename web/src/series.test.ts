import { describe, expect, it } from 'vitest';
import { Series, parseBars, parseTs } from './series';
import type { BarRow } from './types';

const row = (ts: string, o: number, h: number, l: number, c: number, v: number, extra: Partial<BarRow> = {}): BarRow => ({
  ts_event: ts, open: o, high: h, low: l, close: c, volume: v, source: 'shipped', revision: 0, ...extra,
});

describe('parseTs', () => {
  it('reads UTC ISO timestamps and treats zone-less ones as UTC', () => {
    expect(parseTs('2008-01-02T00:00:00Z')).toBe(Date.UTC(2008, 0, 2));
    expect(parseTs('2008-01-02T00:00:00')).toBe(Date.UTC(2008, 0, 2));
    expect(parseTs('2008-01-02')).toBe(Date.UTC(2008, 0, 2));
    expect(parseTs('2008-01-02T01:00:00+01:00')).toBe(Date.UTC(2008, 0, 2));
    expect(parseTs('nope')).toBeNaN();
  });
});

describe('parseBars', () => {
  it('builds columnar arrays in order', () => {
    const { series, dropped } = parseBars({
      symbol: 'SPX', interval: '1d',
      bars: [row('2008-01-02T00:00:00Z', 1467.97, 1471.77, 1442.07, 1447.16, 3452650000), row('2008-01-03T00:00:00Z', 1447.55, 1456.8, 1443.73, 1447.16, 3429500000)],
    });
    expect(dropped).toBe(0);
    expect(series.length).toBe(2);
    expect(series.t[0]).toBe(Date.UTC(2008, 0, 2));
    expect(series.o[0]).toBe(1467.97);
    expect(series.h[1]).toBe(1456.8);
    expect(series.l[1]).toBe(1443.73);
    expect(series.c[1]).toBe(1447.16);
    expect(series.v[0]).toBe(3452650000);
    expect(series.presentSources()).toEqual(['shipped']);
    expect(series.t).toBeInstanceOf(Float64Array);
  });
  it('sorts unsorted rows, drops malformed ones, keeps the highest revision', () => {
    const { series, dropped } = parseBars({
      symbol: 'X', interval: '1d',
      bars: [
        row('2020-01-03T00:00:00Z', 3, 3, 3, 3, 3),
        row('2020-01-01T00:00:00Z', 1, 1, 1, 1, 1),
        row('2020-01-02T00:00:00Z', 2, 2, 2, 2, 2, { revision: 1 }),
        row('2020-01-02T00:00:00Z', 9, 9, 9, 9, 9, { revision: 0 }),
        row('bad', 1, 1, 1, 1, 1),
        { ...row('2020-01-04T00:00:00Z', 1, 1, 1, 1, 1), close: null as unknown as number },
      ],
    });
    expect(dropped).toBe(2);
    expect(Array.from(series.c.subarray(0, series.length))).toEqual([1, 2, 3]);
  });
  it('treats a missing volume as 0 and widens high/low to cover open/close', () => {
    const { series } = parseBars({ symbol: 'X', interval: '1d', bars: [{ ...row('2020-01-01T00:00:00Z', 10, 9, 11, 12, 0), volume: null as unknown as number }] });
    expect(series.v[0]).toBe(0);
    expect(series.h[0]).toBe(12);
    expect(series.l[0]).toBe(10);
  });
  it('rejects a body without bars', () => {
    expect(() => parseBars({} as never)).toThrow();
  });
});

describe('Series', () => {
  it('grows past its capacity and tracks sources', () => {
    const s = new Series(16);
    for (let i = 0; i < 100; i++) s.push(i, i, i, i, i, i, i < 50 ? 'shipped' : 'simulated');
    expect(s.length).toBe(100);
    expect(s.capacity).toBeGreaterThanOrEqual(100);
    expect(s.c[99]).toBe(99);
    expect(s.presentSources()).toEqual(['shipped', 'simulated']);
  });
});
