/** Number and time formatting, and calendar-aligned time ticks for an index-based x axis. */
import { utcFormat } from 'd3-time-format';

export function fmtPrice(x: number, ref = x): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(ref);
  const d = a >= 1000 ? 2 : a >= 1 ? 2 : a >= 0.01 ? 4 : 6;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export function fmtVolume(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e12) return (v / 1e12).toFixed(2) + 'T';
  if (a >= 1e9) return (v / 1e9).toFixed(2) + 'B';
  if (a >= 1e6) return (v / 1e6).toFixed(2) + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(2) + 'K';
  return a >= 100 ? v.toFixed(0) : v.toFixed(2);
}

const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;

export interface TimeLevel {
  name: string;
  /** Typical length in ms, used to pick a level for the current zoom. */
  span: number;
  /** Bucket key: a tick goes where the key changes between neighbouring candles. */
  key(t: number): number;
  label(t: number): string;
}

const fYear = utcFormat('%Y');
const fMonth = utcFormat('%b');
const fDay = utcFormat('%b %d');
const fTime = utcFormat('%H:%M');
const fSec = utcFormat('%H:%M:%S');
const fFull = utcFormat('%Y-%m-%d');
const fFullTime = utcFormat('%Y-%m-%d %H:%M');
const fFullSec = utcFormat('%Y-%m-%d %H:%M:%S');

const monthIndex = (t: number) => {
  const d = new Date(t);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
};
const isMidnight = (t: number) => t % DAY === 0;

function fixed(name: string, ms: number, sec = false): TimeLevel {
  return {
    name,
    span: ms,
    key: (t) => Math.floor(t / ms),
    label: (t) => (isMidnight(t) ? fDay(new Date(t)) : (sec ? fSec : fTime)(new Date(t))),
  };
}

function months(n: number): TimeLevel {
  return {
    name: `${n}mo`,
    span: n * 30.4 * DAY,
    key: (t) => Math.floor(monthIndex(t) / n),
    label: (t) => (new Date(t).getUTCMonth() === 0 ? fYear(new Date(t)) : fMonth(new Date(t))),
  };
}

function years(n: number): TimeLevel {
  return {
    name: `${n}y`,
    span: n * 365.25 * DAY,
    key: (t) => Math.floor(new Date(t).getUTCFullYear() / n),
    label: (t) => fYear(new Date(t)),
  };
}

export const TIME_LEVELS: TimeLevel[] = [
  fixed('1s', 1000, true),
  fixed('5s', 5000, true),
  fixed('15s', 15000, true),
  fixed('1m', MIN),
  fixed('5m', 5 * MIN),
  fixed('15m', 15 * MIN),
  fixed('30m', 30 * MIN),
  fixed('1h', HOUR),
  fixed('3h', 3 * HOUR),
  fixed('6h', 6 * HOUR),
  fixed('12h', 12 * HOUR),
  { name: '1d', span: DAY, key: (t) => Math.floor(t / DAY), label: (t) => (new Date(t).getUTCDate() === 1 ? fMonth(new Date(t)) : fDay(new Date(t))) },
  { name: '1w', span: 7 * DAY, key: (t) => Math.floor((t - 4 * DAY) / (7 * DAY)), label: (t) => fDay(new Date(t)) },
  months(1),
  months(3),
  months(6),
  years(1),
  years(2),
  years(5),
  years(10),
  years(25),
  years(100),
];

/** The finest level whose buckets are at least `msPerLabel` long. */
export function pickTimeLevel(msPerLabel: number): TimeLevel {
  for (const lv of TIME_LEVELS) if (lv.span >= msPerLabel) return lv;
  return TIME_LEVELS[TIME_LEVELS.length - 1];
}

/** Full timestamp for the readout, at a precision suited to the candle interval. */
export function fmtTime(t: number, intervalMs: number): string {
  const d = new Date(t);
  if (intervalMs >= DAY) return fFull(d);
  if (intervalMs >= MIN) return fFullTime(d);
  return fFullSec(d);
}

export interface Tick {
  index: number;
  label: string;
}

/**
 * Ticks where the calendar bucket changes between consecutive candidate candles.
 * `candidates` are candle indices in ascending order (the visible candles, or the first
 * candle of each pixel column); `prevIndex` is the candle just before the first candidate
 * (-1 if none), so the left edge only gets a tick at a real boundary.
 */
export function timeTicks(
  t: Float64Array,
  candidates: ArrayLike<number>,
  count: number,
  prevIndex: number,
  level: TimeLevel,
): Tick[] {
  const out: Tick[] = [];
  let prevKey = prevIndex >= 0 ? level.key(t[prevIndex]) : NaN;
  for (let k = 0; k < count; k++) {
    const i = candidates[k];
    if (i < 0) continue;
    const key = level.key(t[i]);
    if (key !== prevKey) {
      if (prevKey === prevKey) out.push({ index: i, label: level.label(t[i]) });
      prevKey = key;
    }
  }
  return out;
}
