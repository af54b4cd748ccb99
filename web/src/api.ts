/** Gateway HTTP client: instruments, bars, backtests, factors and regimes, every call signed in (auth.ts). */
import { session } from './auth';
import { ApiError, errorFromResponse, networkError } from './http';
import type { FactorsResponse, JobEventWire, RegimesResponse } from './results';
import type { BarsResponse, InstrumentRow } from './types';

/** GET/POST as the signed-in user; a non-OK answer becomes an ApiError with the server's detail. */
async function getJson<T>(url: string, signal?: AbortSignal, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await session.authorizedFetch(url, { signal, ...init, headers: { Accept: 'application/json', ...(init?.headers ?? {}) } });
  } catch (e) {
    throw networkError(e);
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as T;
}

export async function fetchInstruments(signal?: AbortSignal): Promise<InstrumentRow[]> {
  const r = await getJson<{ instruments: InstrumentRow[] }>('/api/v1/instruments', signal);
  if (!r || !Array.isArray(r.instruments)) throw new ApiError(0, 'malformed instruments response');
  return r.instruments;
}

export function fetchBars(symbol: string, interval: string, signal?: AbortSignal): Promise<BarsResponse> {
  const q = new URLSearchParams({ symbol, interval });
  return getJson<BarsResponse>(`/api/v1/bars?${q}`, signal);
}

/** POST /api/v1/backtests?job_id=... (202 with the queued job event; 422 names the bad token). */
export function submitBacktest(jobId: string, body: { symbol: string; strategy: string; fees?: number }, signal?: AbortSignal): Promise<JobEventWire> {
  const q = new URLSearchParams({ job_id: jobId });
  return getJson<JobEventWire>(`/api/v1/backtests?${q}`, signal, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

export function fetchBacktest(jobId: string, signal?: AbortSignal): Promise<JobEventWire> {
  return getJson<JobEventWire>(`/api/v1/backtests/${encodeURIComponent(jobId)}`, signal);
}

export function fetchFactors(symbol: string, model: string, signal?: AbortSignal): Promise<FactorsResponse> {
  const q = new URLSearchParams({ symbol, model });
  return getJson<FactorsResponse>(`/api/v1/quant/factors?${q}`, signal);
}

export function fetchRegimes(symbol: string, states: number, signal?: AbortSignal): Promise<RegimesResponse> {
  const q = new URLSearchParams({ symbol, states: String(states) });
  return getJson<RegimesResponse>(`/api/v1/quant/regimes?${q}`, signal);
}

export interface InstrumentChoice {
  id: string;
  assetClass: string;
  sources: string[];
  intervals: string[];
}

/** One entry per instrument id (the list has one row per instrument+source), in first-seen order. */
export function groupInstruments(rows: InstrumentRow[]): InstrumentChoice[] {
  const by = new Map<string, InstrumentChoice>();
  for (const r of rows) {
    if (!r || typeof r.instrument_id !== 'string') continue;
    let c = by.get(r.instrument_id);
    if (!c) {
      c = { id: r.instrument_id, assetClass: r.asset_class ?? '', sources: [], intervals: [] };
      by.set(r.instrument_id, c);
    }
    if (r.source && !c.sources.includes(r.source)) c.sources.push(r.source);
    for (const iv of r.intervals ?? []) if (!c.intervals.includes(iv)) c.intervals.push(iv);
  }
  return [...by.values()];
}

/** Symbol to show first: ?symbol= if given, else SPX if listed, else the first instrument. */
export function initialSymbol(query: string | null, choices: InstrumentChoice[]): string | null {
  const q = query?.trim();
  if (q) {
    const hit = choices.find((c) => c.id.toUpperCase() === q.toUpperCase());
    return hit ? hit.id : q;
  }
  if (choices.some((c) => c.id === 'SPX')) return 'SPX';
  return choices[0]?.id ?? null;
}

/** The chart interval for an instrument: 1d when it has it, else its first listed interval. */
export function chartInterval(choice: InstrumentChoice | undefined): string {
  if (!choice || choice.intervals.length === 0 || choice.intervals.includes('1d')) return '1d';
  return choice.intervals[0];
}

export type SourceKind = 'real' | 'simulated' | 'synthetic' | 'unknown';

const SIMULATED = new Set(['simulated', 'sim', 'fixture', 'mock', 'replay-simulated']);

export function sourceKind(source: string): SourceKind {
  const s = source.toLowerCase();
  if (s === 'synthetic') return 'synthetic';
  if (SIMULATED.has(s) || s.includes('simul')) return 'simulated';
  if (s === 'shipped' || s === 'real') return 'real';
  return 'unknown';
}

/** Badge text for a data source: synthetic and simulated data are always named as such. */
export function sourceLabel(source: string): string {
  const k = sourceKind(source);
  const up = source.toUpperCase();
  if (k === 'real') return `${up} · real`;
  if (k === 'synthetic') return 'SYNTHETIC · bench';
  if (k === 'simulated') return up === 'SIMULATED' ? 'SIMULATED' : `${up} · simulated`;
  return up || 'UNKNOWN SOURCE';
}
