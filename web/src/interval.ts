/** Bar interval arithmetic ("5s", "1m", "15m", "1h", "1d", "1w", "1mo"), all in UTC. */

const DAY = 86_400_000;
/** 1970-01-05 (a Monday), so weekly buckets start on Mondays. */
const MONDAY_OFFSET = 4 * DAY;

export interface Interval {
  text: string;
  unit: 's' | 'm' | 'h' | 'd' | 'w' | 'mo';
  n: number;
  /** Nominal length in ms (a month counts 30 days; only used for ordering). */
  ms: number;
}

const UNIT_MS: Record<Interval['unit'], number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: DAY,
  w: 7 * DAY,
  mo: 30 * DAY,
};

export function parseInterval(text: string): Interval {
  const m = /^\s*(\d+)\s*(mo|s|m|h|d|w)\s*$/i.exec(text);
  if (!m) throw new Error(`bad interval: ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  if (!(n > 0)) throw new Error(`bad interval: ${JSON.stringify(text)}`);
  const unit = m[2].toLowerCase() as Interval['unit'];
  return { text, unit, n, ms: n * UNIT_MS[unit] };
}

/** Start (epoch ms, UTC) of the bucket of `iv` that contains `t`. */
export function bucketStart(t: number, iv: Interval): number {
  if (iv.unit === 'mo') {
    const d = new Date(t);
    const months = d.getUTCFullYear() * 12 + d.getUTCMonth();
    const b = months - (((months % iv.n) + iv.n) % iv.n);
    return Date.UTC(Math.floor(b / 12), b % 12, 1);
  }
  if (iv.unit === 'w') {
    return Math.floor((t - MONDAY_OFFSET) / iv.ms) * iv.ms + MONDAY_OFFSET;
  }
  return Math.floor(t / iv.ms) * iv.ms;
}
