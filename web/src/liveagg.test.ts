import { describe, expect, it } from 'vitest';
import { parseInterval } from './interval';
import { LiveAggregator } from './liveagg';
import { parseBars } from './series';
import type { LiveBar } from './types';

const D = parseInterval('1d');

function history() {
  return parseBars({
    symbol: 'BTC-USD', interval: '1d',
    bars: [
      { ts_event: '2026-11-24T00:00:00Z', open: 100, high: 110, low: 95, close: 105, volume: 1000, source: 'simulated' },
      { ts_event: '2026-11-25T00:00:00Z', open: 105, high: 108, low: 101, close: 107, volume: 500, source: 'simulated' },
    ],
  }).series;
}

const live = (ts: string, o: number, h: number, l: number, c: number, v: number, interval = '5s'): LiveBar => ({
  instrument_id: 'BTC-USD', asset_class: 'crypto', interval, ts_event: ts, open: o, high: h, low: l, close: c, volume: v, source: 'simulated',
});

describe('LiveAggregator', () => {
  it('folds a sub-interval bar of the same UTC day into the last candle', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    expect(agg.apply(live('2026-11-25T14:00:05Z', 107, 112, 100, 111, 3))).toBe('updated');
    expect(s.length).toBe(2);
    expect(s.o[1]).toBe(105); // the day's open stays
    expect(s.h[1]).toBe(112);
    expect(s.l[1]).toBe(100);
    expect(s.c[1]).toBe(111);
    expect(s.v[1]).toBe(503);
    // A narrower bar later in the day: high/low unchanged, close moves, volume adds.
    expect(agg.apply(live('2026-11-25T14:00:10Z', 111, 111.5, 110, 110.5, 2))).toBe('updated');
    expect(s.h[1]).toBe(112);
    expect(s.l[1]).toBe(100);
    expect(s.c[1]).toBe(110.5);
    expect(s.v[1]).toBe(505);
    expect(agg.applied).toBe(2);
  });

  it('appends a new candle at the bucket start for a later day', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    expect(agg.apply(live('2026-11-26T00:00:05Z', 107, 108, 106, 107.5, 4))).toBe('appended');
    expect(s.length).toBe(3);
    expect(s.t[2]).toBe(Date.UTC(2026, 10, 26));
    expect([s.o[2], s.h[2], s.l[2], s.c[2], s.v[2]]).toEqual([107, 108, 106, 107.5, 4]);
    // Next sub-bar the same day updates the appended candle.
    expect(agg.apply(live('2026-11-26T00:00:10Z', 107.5, 109, 107, 108.5, 1))).toBe('updated');
    expect([s.o[2], s.h[2], s.l[2], s.c[2], s.v[2]]).toEqual([107, 109, 106, 108.5, 5]);
  });

  it('ignores bars older than the last candle and malformed bars', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    expect(agg.apply(live('2026-11-24T23:59:55Z', 1, 1000, 0.5, 1, 99))).toBe('ignored');
    expect(agg.apply({ ...live('2026-11-25T10:00:00Z', 1, 1, 1, 1, 1), close: NaN })).toBe('ignored');
    expect(agg.apply(live('garbage', 1, 1, 1, 1, 1))).toBe('ignored');
    expect(s.h[0]).toBe(110);
    expect(s.c[1]).toBe(107);
    expect(agg.applied).toBe(0);
    expect(agg.ignored).toBe(3);
  });

  it('replaces rather than double-counts a re-sent sub-bar', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    agg.apply(live('2026-11-25T14:00:05Z', 107, 108, 106, 107, 3));
    agg.apply(live('2026-11-25T14:00:05Z', 107, 108, 106, 107.2, 4)); // revision of the same 5s bar
    expect(s.v[1]).toBe(504);
    expect(s.c[1]).toBe(107.2);
  });

  it('keeps the latest close and earliest open when sub-bars arrive out of order', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    agg.apply(live('2026-11-26T00:00:10Z', 200, 201, 199, 200.5, 1)); // appended
    agg.apply(live('2026-11-26T00:00:05Z', 198, 200, 197, 199, 1)); // earlier: new open, close unchanged
    expect(s.o[2]).toBe(198);
    expect(s.c[2]).toBe(200.5);
    expect(s.l[2]).toBe(197);
    expect(s.v[2]).toBe(2);
  });

  it('treats a bar of the chart interval as the whole candle and ignores coarser bars', () => {
    const s = history();
    const agg = new LiveAggregator(s, D);
    expect(agg.apply(live('2026-11-25T00:00:00Z', 105, 120, 90, 115, 2000, '1d'))).toBe('updated');
    expect([s.o[1], s.h[1], s.l[1], s.c[1], s.v[1]]).toEqual([105, 120, 90, 115, 2000]);
    expect(agg.apply(live('2026-11-25T00:00:00Z', 1, 1, 1, 1, 1, '1w'))).toBe('ignored');
  });

  it('aggregates minute bars into hourly candles', () => {
    const s = parseBars({ symbol: 'X', interval: '1h', bars: [] }).series;
    const agg = new LiveAggregator(s, parseInterval('1h'));
    expect(agg.apply(live('2026-01-01T10:01:00Z', 1, 2, 0.5, 1.5, 1, '1m'))).toBe('appended');
    expect(agg.apply(live('2026-01-01T10:59:00Z', 1.5, 3, 1, 2.5, 1, '1m'))).toBe('updated');
    expect(agg.apply(live('2026-01-01T11:00:00Z', 2.5, 2.6, 2.4, 2.45, 1, '1m'))).toBe('appended');
    expect(s.length).toBe(2);
    expect(s.t[0]).toBe(Date.UTC(2026, 0, 1, 10));
    expect([s.o[0], s.h[0], s.l[0], s.c[0], s.v[0]]).toEqual([1, 3, 0.5, 2.5, 2]);
  });
});
