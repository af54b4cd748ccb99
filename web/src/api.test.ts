import { describe, expect, it } from 'vitest';
import { chartInterval, groupInstruments, initialSymbol, sourceKind, sourceLabel } from './api';
import { errorDetail, errorFromResponse, retryAfterSeconds } from './http';
import { backoffMs, wsUrl } from './live';
import type { InstrumentRow } from './types';

const rows: InstrumentRow[] = [
  { instrument_id: 'AAPL', asset_class: 'equity', source: 'simulated', intervals: ['1d', '5s'] },
  { instrument_id: 'SPX', asset_class: 'index', source: 'shipped', intervals: ['1d'] },
  { instrument_id: 'BTC-USD', asset_class: 'crypto', source: 'simulated', intervals: ['1d'] },
  { instrument_id: 'SPX', asset_class: 'index', source: 'simulated', intervals: ['1d', '5s'] },
  { instrument_id: 'ETH-USD', asset_class: 'crypto', source: 'simulated', intervals: ['1h'] },
];

describe('instruments', () => {
  it('groups one row per instrument+source into one choice per instrument', () => {
    const g = groupInstruments(rows);
    expect(g.map((c) => c.id)).toEqual(['AAPL', 'SPX', 'BTC-USD', 'ETH-USD']);
    expect(g[1].sources).toEqual(['shipped', 'simulated']);
    expect(g[1].intervals).toEqual(['1d', '5s']);
  });
  it('picks ?symbol=, else SPX, else the first instrument', () => {
    const g = groupInstruments(rows);
    expect(initialSymbol('btc-usd', g)).toBe('BTC-USD');
    expect(initialSymbol('NOPE', g)).toBe('NOPE');
    expect(initialSymbol(null, g)).toBe('SPX');
    expect(initialSymbol('', g.filter((c) => c.id !== 'SPX'))).toBe('AAPL');
    expect(initialSymbol(null, [])).toBeNull();
  });
  it('charts 1d when offered, else the first interval', () => {
    const g = groupInstruments(rows);
    expect(chartInterval(g[0])).toBe('1d');
    expect(chartInterval(g[3])).toBe('1h');
    expect(chartInterval(undefined)).toBe('1d');
  });
});

describe('errors and labels', () => {
  it('reads FastAPI error bodies', () => {
    expect(errorDetail({ detail: 'unknown symbol XYZ' }, 'x')).toBe('unknown symbol XYZ');
    expect(errorDetail({ detail: [{ loc: ['query', 'interval'], msg: 'bad interval', type: 'value_error' }] }, 'x')).toBe('interval: bad interval');
    expect(errorDetail(null, 'Not Found')).toBe('Not Found');
  });
  it('says how long a 429 asks to wait', async () => {
    const h = (o: Record<string, string>) => new Headers(o);
    expect(retryAfterSeconds(h({ 'Retry-After': '42' }))).toBe(42);
    expect(retryAfterSeconds(h({ 'Retry-After': '1.2' }))).toBe(2);
    expect(retryAfterSeconds(h({ 'Retry-After': 'Wed, 21 Oct 2015 07:28:30 GMT' }), Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(30);
    expect(retryAfterSeconds(h({ 'RateLimit-Reset': '9' }))).toBe(9);
    expect(retryAfterSeconds(h({}))).toBeUndefined();
    const quota = await errorFromResponse(new Response(JSON.stringify({ detail: 'backtests: 10 per hour' }), { status: 429, headers: { 'Retry-After': '37', 'RateLimit-Remaining': '0' } }));
    expect(quota.status).toBe(429);
    expect(quota.message).toBe('quota reached, try again in 37 s (backtests: 10 per hour)');
    const forbidden = await errorFromResponse(new Response(JSON.stringify({ detail: 'requires role researcher; you are viewer' }), { status: 403 }));
    expect([forbidden.status, forbidden.message]).toEqual([403, 'requires role researcher; you are viewer']);
  });
  it('labels synthetic and simulated data as such', () => {
    expect(sourceLabel('shipped')).toBe('SHIPPED · real');
    expect(sourceLabel('simulated')).toBe('SIMULATED');
    expect(sourceLabel('synthetic')).toBe('SYNTHETIC · bench');
    expect(sourceKind('simulated')).toBe('simulated');
    expect(sourceKind('yfinance')).toBe('unknown');
    expect(sourceLabel('yfinance')).toBe('YFINANCE');
  });
});

describe('live client helpers', () => {
  it('backs off exponentially with jitter and a cap', () => {
    expect(backoffMs(0, () => 1)).toBe(500);
    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(3, () => 1)).toBe(4000);
    expect(backoffMs(30, () => 1)).toBe(15000);
  });
  it('derives the socket URL from the page', () => {
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/ws');
    expect(wsUrl({ protocol: 'https:', host: 'x.example' })).toBe('wss://x.example/ws');
  });
});
