/** Result formatting (pure): backtest metrics, equity curve path, factor and regime tables. */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface BacktestSummary {
  total_return: number;
  cagr: number;
  annual_volatility: number;
  sharpe: number;
  sortino: number;
  max_drawdown: number;
  max_drawdown_duration: number;
  calmar: number;
  turnover: number;
  exposure: number;
  hit_rate: number;
  n_trades: number;
}

export interface Trade {
  entry: string;
  exit: string | null;
  direction: string;
  entry_price: number;
  exit_price: number | null;
  size: number;
  pnl: number;
  return: number;
}

export interface BacktestResult {
  bars: number;
  start: string;
  end: string;
  engine: string;
  summary: BacktestSummary;
  equity: { dates: string[]; values: number[] };
  trades: Trade[];
}

export interface JobEventWire {
  job_id: string;
  kind: string;
  status: JobStatus;
  progress: number;
  message: string;
  result: BacktestResult | null;
  error: string | null;
  ts: string;
}

export interface FactorCoef {
  name: string;
  coef: number;
  std_err: number;
  t_stat: number;
  p_value: number;
}

export interface FactorsResponse {
  r_squared: number;
  adj_r_squared: number;
  alpha_annualized: number;
  n_obs: number;
  start: string;
  end: string;
  coefficients: FactorCoef[];
  model?: string;
  /** Where the factor returns come from and the months they cover. */
  factor_data?: { source: string; start: string; end: string };
}

export interface RegimeStat {
  regime: string | number;
  periods: number;
  share: number;
  ann_return: number;
  ann_vol: number;
  sharpe: number;
  max_drawdown: number;
  hit_rate: number;
  avg_duration: number;
  n_spells: number;
}

export interface RegimesResponse {
  current: string | number;
  current_probabilities: Record<string, number>;
  series_kind: string;
  stats: RegimeStat[];
  dates: string[];
  labels: (string | number)[];
}

const DASH = '—';

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** 0.1234 -> "12.34%"; signed adds "+" to positives. */
export function fmtPct(x: unknown, digits = 2, signed = false): string {
  if (!finite(x)) return DASH;
  const s = (x * 100).toFixed(digits);
  return `${signed && x > 0 ? '+' : ''}${s}%`;
}

export function fmtNum(x: unknown, digits = 2): string {
  if (!finite(x)) return DASH;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtInt(x: unknown): string {
  if (!finite(x)) return DASH;
  return Math.round(x).toLocaleString('en-US');
}

/** "2008-01-02T00:00:00Z" -> "2008-01-02". */
export function fmtDate(s: unknown): string {
  if (typeof s !== 'string' || !s) return DASH;
  return s.slice(0, 10);
}

export type Tone = 'up' | 'down' | '';

export function tone(x: unknown): Tone {
  return finite(x) ? (x > 0 ? 'up' : x < 0 ? 'down' : '') : '';
}

export interface Metric {
  key: string;
  label: string;
  value: string;
  tone: Tone;
}

/** The headline metrics of a backtest, in display order. */
export function backtestMetrics(s: Partial<BacktestSummary> | null | undefined): Metric[] {
  const m = s ?? {};
  return [
    { key: 'total_return', label: 'Total return', value: fmtPct(m.total_return, 2, true), tone: tone(m.total_return) },
    { key: 'cagr', label: 'CAGR', value: fmtPct(m.cagr, 2, true), tone: tone(m.cagr) },
    { key: 'sharpe', label: 'Sharpe', value: fmtNum(m.sharpe), tone: tone(m.sharpe) },
    { key: 'sortino', label: 'Sortino', value: fmtNum(m.sortino), tone: tone(m.sortino) },
    { key: 'max_drawdown', label: 'Max drawdown', value: fmtPct(finite(m.max_drawdown) ? -Math.abs(m.max_drawdown) : m.max_drawdown), tone: finite(m.max_drawdown) && m.max_drawdown !== 0 ? 'down' : '' },
    { key: 'n_trades', label: 'Trades', value: fmtInt(m.n_trades), tone: '' },
    { key: 'annual_volatility', label: 'Volatility', value: fmtPct(m.annual_volatility), tone: '' },
    { key: 'hit_rate', label: 'Hit rate', value: fmtPct(m.hit_rate, 1), tone: '' },
    { key: 'exposure', label: 'Exposure', value: fmtPct(m.exposure, 1), tone: '' },
  ];
}

/** Progress line for a running job: "RUNNING 42% · loading bars". */
export function progressText(status: JobStatus | string, progress: unknown, message?: string): string {
  const pct = finite(progress) ? ` ${Math.round(Math.max(0, Math.min(1, progress)) * 100)}%` : '';
  return `${String(status).toUpperCase()}${pct}${message ? ` · ${message}` : ''}`;
}

/** Evenly thinned indices (first and last kept) so at most `max` points are drawn. */
export function thin(n: number, max: number): number[] {
  if (n <= 0) return [];
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  const step = (n - 1) / (max - 1);
  for (let k = 0; k < max; k++) out.push(Math.round(k * step));
  return out;
}

/**
 * SVG path ("M x y L x y ...") of an equity curve scaled into a w x h box with `pad` inset.
 * Non-finite values are skipped; returns "" when fewer than 2 finite points.
 */
export function equityPath(values: readonly number[], w: number, h: number, pad = 2, maxPoints = 2000): string {
  const idx = thin(values.length, maxPoints).filter((i) => finite(values[i]));
  if (idx.length < 2) return '';
  let lo = Infinity;
  let hi = -Infinity;
  for (const i of idx) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  const span = hi - lo || 1;
  const n = values.length - 1 || 1;
  const parts: string[] = [];
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    const x = pad + ((w - 2 * pad) * i) / n;
    const y = pad + (h - 2 * pad) * (1 - (values[i] - lo) / span);
    parts.push(`${k === 0 ? 'M' : 'L'}${x.toFixed(1)} ${y.toFixed(1)}`);
  }
  return parts.join(' ');
}

export interface FactorRow {
  name: string;
  beta: string;
  se: string;
  t: string;
  p: string;
  significant: boolean;
}

export function factorRows(r: FactorsResponse): FactorRow[] {
  return (r.coefficients ?? []).map((c) => ({
    name: c.name,
    beta: fmtNum(c.coef, 3),
    se: fmtNum(c.std_err, 3),
    t: fmtNum(c.t_stat, 2),
    p: finite(c.p_value) ? (c.p_value < 0.001 ? '<0.001' : c.p_value.toFixed(3)) : DASH,
    significant: finite(c.p_value) && c.p_value < 0.05,
  }));
}

/** The line naming the factor data of an answer (source and covered months), or null. */
export function factorSourceText(r: FactorsResponse): string | null {
  const f = r.factor_data;
  return f ? `factors: ${f.source} (${fmtDate(f.start)} → ${fmtDate(f.end)})` : null;
}

/** Regime stats as display strings, the current regime flagged. */
export function regimeRows(r: RegimesResponse): (Record<string, string> & { current: string })[] {
  return (r.stats ?? []).map((s) => ({
    regime: String(s.regime),
    share: fmtPct(s.share, 1),
    ann_return: fmtPct(s.ann_return, 1, true),
    ann_vol: fmtPct(s.ann_vol, 1),
    sharpe: fmtNum(s.sharpe),
    max_drawdown: fmtPct(finite(s.max_drawdown) ? -Math.abs(s.max_drawdown) : s.max_drawdown, 1),
    hit_rate: fmtPct(s.hit_rate, 1),
    avg_duration: fmtNum(s.avg_duration, 1),
    n_spells: fmtInt(s.n_spells),
    current: String(String(s.regime) === String(r.current)),
  }));
}
