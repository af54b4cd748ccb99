import { describe, expect, it } from 'vitest';
import { bucketStart, parseInterval } from './interval';

describe('parseInterval', () => {
  it('parses the units', () => {
    expect(parseInterval('5s').ms).toBe(5000);
    expect(parseInterval('15m').ms).toBe(900_000);
    expect(parseInterval('1h').ms).toBe(3_600_000);
    expect(parseInterval('1d').ms).toBe(86_400_000);
    expect(parseInterval('1w').unit).toBe('w');
    expect(parseInterval('1mo').unit).toBe('mo');
    expect(parseInterval('1D').unit).toBe('d');
  });
  it('rejects junk', () => {
    expect(() => parseInterval('')).toThrow();
    expect(() => parseInterval('0d')).toThrow();
    expect(() => parseInterval('1y')).toThrow();
    expect(() => parseInterval('d')).toThrow();
  });
});

describe('bucketStart', () => {
  const t = Date.parse('2024-03-14T15:37:42.5Z');
  it('floors to UTC days, hours, minutes', () => {
    expect(bucketStart(t, parseInterval('1d'))).toBe(Date.parse('2024-03-14T00:00:00Z'));
    expect(bucketStart(t, parseInterval('1h'))).toBe(Date.parse('2024-03-14T15:00:00Z'));
    expect(bucketStart(t, parseInterval('5m'))).toBe(Date.parse('2024-03-14T15:35:00Z'));
    expect(bucketStart(t, parseInterval('5s'))).toBe(Date.parse('2024-03-14T15:37:40Z'));
  });
  it('starts weeks on Monday and months on the 1st', () => {
    expect(bucketStart(t, parseInterval('1w'))).toBe(Date.parse('2024-03-11T00:00:00Z'));
    expect(bucketStart(t, parseInterval('1mo'))).toBe(Date.parse('2024-03-01T00:00:00Z'));
    expect(bucketStart(t, parseInterval('3mo'))).toBe(Date.parse('2024-01-01T00:00:00Z'));
  });
  it('midnight belongs to its own day', () => {
    const m = Date.parse('2024-03-14T00:00:00Z');
    expect(bucketStart(m, parseInterval('1d'))).toBe(m);
    expect(bucketStart(m - 1, parseInterval('1d'))).toBe(Date.parse('2024-03-13T00:00:00Z'));
  });
});
