/**
 * Synthetic candles for the client-side chart benchmark (`?bench=N`). They are never mixed
 * with gateway data and are labelled source "synthetic" everywhere they show.
 */
import { Series } from './series';

/** mulberry32: small seeded PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` one-interval candles from a seeded random walk with volatility clustering. */
export function syntheticSeries(n: number, stepMs = 60_000, seed = 42, start = Date.UTC(2024, 0, 1)): Series {
  const r = rng(seed);
  const s = new Series(n + 1024);
  s.sourceCode('synthetic');
  const T = s.t, O = s.o, H = s.h, L = s.l, C = s.c, V = s.v;
  let p = 100;
  let vol = 0.001;
  for (let i = 0; i < n; i++) {
    // Box–Muller normal draws.
    const u1 = r() || 1e-12, u2 = r();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    vol = Math.min(0.01, Math.max(0.0002, vol * (0.97 + 0.06 * r())));
    const o = p;
    const c = o * Math.exp(vol * z);
    const w1 = r() * vol * 0.8, w2 = r() * vol * 0.8;
    T[i] = start + i * stepMs;
    O[i] = o;
    C[i] = c;
    H[i] = Math.max(o, c) * (1 + w1);
    L[i] = Math.min(o, c) * (1 - w2);
    V[i] = Math.round(1000 + 50_000 * r() * (vol / 0.001));
    p = c;
  }
  s.length = n;
  s.version++;
  return s;
}
