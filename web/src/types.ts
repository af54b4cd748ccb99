/** Wire types of the Sextant gateway (GET /api/v1/bars, /api/v1/instruments, WS /ws). */

export interface BarRow {
  ts_event: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  source: string;
  revision?: number;
  ts_known?: string;
}

export interface BarsResponse {
  symbol: string;
  interval: string;
  as_of?: string;
  count?: number;
  bars: BarRow[];
}

export interface LiveBar extends BarRow {
  instrument_id: string;
  asset_class?: string;
  interval: string;
}

export interface InstrumentRow {
  instrument_id: string;
  asset_class: string;
  source: string;
  intervals: string[];
  first?: string;
  last?: string;
  rows?: number;
}

export type WsMessage =
  | { type: 'subscribed'; symbols: string[] }
  | { type: 'bar'; bar: LiveBar }
  | { type: string; [k: string]: unknown };
