/**
 * Folds live bars (often of a shorter interval, e.g. "5s") into the chart's candles
 * (e.g. "1d"): a bar in the last candle's bucket updates it, a later bucket appends a
 * candle, an older one is ignored.
 */
import { bucketStart, parseInterval, type Interval } from './interval';
import { Series, parseTs } from './series';
import type { LiveBar } from './types';

export type ApplyResult = 'updated' | 'appended' | 'ignored';

interface SubBar {
  v: number;
}

export class LiveAggregator {
  /** Bucket start of the candle the state below refers to (the last candle). */
  private bucket = NaN;
  /** Sub-bars already folded into the last candle, by `${interval}@${ts}`: re-sent bars replace, not add. */
  private subs = new Map<string, SubBar>();
  /** Earliest / latest sub-bar start folded into the last candle (-Inf/+Inf: candle came from history). */
  private firstSub = -Infinity;
  private lastSub = -Infinity;
  private intervalCache = new Map<string, Interval | null>();
  applied = 0;
  ignored = 0;

  constructor(
    readonly series: Series,
    readonly interval: Interval,
  ) {}

  private liveInterval(text: unknown): Interval | null {
    if (typeof text !== 'string') return null;
    let iv = this.intervalCache.get(text);
    if (iv === undefined) {
      try {
        iv = parseInterval(text);
      } catch {
        iv = null;
      }
      this.intervalCache.set(text, iv);
    }
    return iv;
  }

  apply(bar: LiveBar): ApplyResult {
    const s = this.series;
    const t = parseTs(bar.ts_event);
    const o = Number(bar.open), h = Number(bar.high), l = Number(bar.low), c = Number(bar.close);
    const v = Number.isFinite(Number(bar.volume)) ? Number(bar.volume) : 0;
    if (![t, o, h, l, c].every(Number.isFinite)) return this.ignore();
    const iv = this.liveInterval(bar.interval);
    // A live bar coarser than the chart cannot be split into its candles.
    if (iv && iv.ms > this.interval.ms) return this.ignore();
    const sameInterval = iv !== null && iv.unit === this.interval.unit && iv.n === this.interval.n;
    const b = bucketStart(t, this.interval);
    const source = String(bar.source ?? '');
    const n = s.length;

    if (n === 0 || b > bucketStart(s.t[n - 1], this.interval)) {
      s.push(b, o, Math.max(h, o, c), Math.min(l, o, c), c, v, source);
      this.bucket = b;
      this.subs.clear();
      this.subs.set(`${bar.interval}@${t}`, { v });
      this.firstSub = t;
      this.lastSub = t;
      this.applied++;
      return 'appended';
    }
    const i = n - 1;
    const lastBucket = bucketStart(s.t[i], this.interval);
    if (b < lastBucket) return this.ignore();

    if (this.bucket !== lastBucket) {
      // First live bar for a candle that came from history.
      this.bucket = lastBucket;
      this.subs.clear();
      this.firstSub = -Infinity;
      this.lastSub = -Infinity;
    }

    if (sameInterval) {
      // A bar of the chart's own interval is the whole candle (a revision of it): replace.
      s.o[i] = o;
      s.h[i] = Math.max(h, o, c);
      s.l[i] = Math.min(l, o, c);
      s.c[i] = c;
      s.v[i] = v;
    } else {
      s.h[i] = Math.max(s.h[i], h, o, c);
      s.l[i] = Math.min(s.l[i], l, o, c);
      if (t >= this.lastSub) {
        s.c[i] = c;
        this.lastSub = t;
      }
      if (t < this.firstSub) {
        // An earlier sub-bar arrived late: it opens the candle.
        s.o[i] = o;
        this.firstSub = t;
      }
      const key = `${bar.interval}@${t}`;
      const prev = this.subs.get(key);
      s.v[i] += prev ? v - prev.v : v;
      this.subs.set(key, { v });
    }
    s.src[i] = s.sourceCode(source);
    s.version++;
    this.applied++;
    return 'updated';
  }

  private ignore(): ApplyResult {
    this.ignored++;
    return 'ignored';
  }
}
