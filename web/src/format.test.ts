import { describe, expect, it } from 'vitest';
import { fmtPrice, fmtTime, fmtVolume, pickTimeLevel, timeTicks } from './format';

describe('formatting', () => {
  it('formats prices and volumes compactly', () => {
    expect(fmtPrice(1467.97)).toBe('1,467.97');
    expect(fmtPrice(0.012345)).toBe('0.0123');
    expect(fmtPrice(NaN)).toBe('—');
    expect(fmtVolume(3452650000)).toBe('3.45B');
    expect(fmtVolume(1234)).toBe('1.23K');
    expect(fmtVolume(12.5)).toBe('12.50');
  });
  it('formats readout times by interval', () => {
    const t = Date.UTC(2008, 0, 2, 13, 45, 7);
    expect(fmtTime(t, 86_400_000)).toBe('2008-01-02');
    expect(fmtTime(t, 60_000)).toBe('2008-01-02 13:45');
    expect(fmtTime(t, 5000)).toBe('2008-01-02 13:45:07');
  });
});

describe('time ticks', () => {
  it('picks coarser levels for wider spans', () => {
    expect(pickTimeLevel(30_000).name).toBe('1m');
    expect(pickTimeLevel(20 * 86_400_000).name).toBe('1mo');
    expect(pickTimeLevel(400 * 86_400_000).name).toBe('2y');
  });
  it('puts ticks where the calendar bucket changes, not at the left edge', () => {
    // Business days from 2019-12-27 to 2020-02-05 (no weekends: x is the index).
    const days: number[] = [];
    for (let d = Date.UTC(2019, 11, 27); d <= Date.UTC(2020, 1, 5); d += 86_400_000) {
      const wd = new Date(d).getUTCDay();
      if (wd !== 0 && wd !== 6) days.push(d);
    }
    const t = Float64Array.from(days);
    const idx = Int32Array.from(days.map((_, i) => i));
    const ticks = timeTicks(t, idx, idx.length, -1, pickTimeLevel(20 * 86_400_000));
    expect(ticks.map((x) => x.label)).toEqual(['2020', 'Feb']);
    expect(new Date(t[ticks[0].index]).toISOString().slice(0, 10)).toBe('2020-01-01');
    expect(new Date(t[ticks[1].index]).toISOString().slice(0, 10)).toBe('2020-02-03');
  });
});
