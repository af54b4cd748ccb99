/** The result panel (#panel) of the command bar: help, backtest progress/result, factors, regimes,
 * errors. Test hooks on #panel: data-kind, data-status, data-progress-events, data-trades, data-sharpe. */
import { HELP } from './command';
import {
  backtestMetrics,
  equityPath,
  factorRows,
  factorSourceText,
  fmtDate,
  fmtInt,
  fmtNum,
  fmtPct,
  progressText,
  regimeRows,
  tone,
  type BacktestResult,
  type FactorsResponse,
  type JobEventWire,
  type RegimesResponse,
} from './results';

type Child = Node | string | null | undefined | false;

export function h(tag: string, attrs: Record<string, string | undefined> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag: string, attrs: Record<string, string>): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

export type PanelKind = 'backtest' | 'factors' | 'regimes' | 'error' | 'help';

export class Panel {
  private readonly title: HTMLElement;
  private readonly body: HTMLElement;
  private ticker: ReturnType<typeof setInterval> | null = null;
  onClose: () => void = () => {};

  constructor(readonly el: HTMLElement) {
    el.innerHTML = '';
    this.title = h('span', { class: 'panel-title' });
    const close = h('button', { class: 'panel-close', title: 'close (Esc)', 'aria-label': 'close panel' }, '×');
    close.addEventListener('click', () => {
      this.hide();
      this.onClose();
    });
    this.body = h('div', { class: 'panel-body' });
    el.append(h('div', { class: 'panel-head' }, this.title, close), this.body);
  }

  get visible(): boolean {
    return !this.el.hidden;
  }

  hide(): void {
    this.stopTicker();
    this.el.hidden = true;
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  /** Reset the panel for a new command of `kind`. */
  open(kind: PanelKind, title: string): void {
    const d = this.el.dataset;
    this.stopTicker();
    for (const k of Object.keys(d)) delete d[k];
    d.kind = kind;
    d.progressEvents = '0';
    this.title.textContent = title;
    this.body.innerHTML = '';
    this.el.hidden = false;
  }

  help(): void {
    this.open('help', 'HELP');
    const rows = HELP.map(([c, what]) => h('tr', {}, h('td', { class: 'mono key' }, c), h('td', {}, what)));
    this.body.append(h('table', { class: 'tbl help' }, h('tbody', {}, ...rows)));
  }

  error(title: string, message: string): void {
    this.open('error', title);
    this.el.dataset.error = message;
    this.body.append(h('div', { class: 'panel-error', role: 'alert' }, message));
  }

  loading(kind: PanelKind, title: string): void {
    this.open(kind, title);
    this.el.dataset.status = 'loading';
    const note = h('div', { class: 'panel-note' }, 'loading…');
    this.body.append(note);
    const t0 = Date.now();
    this.ticker = setInterval(() => {
      note.textContent = `loading… ${Math.round((Date.now() - t0) / 1000)}s`;
    }, 1000);
  }

  // ---------------------------------------------------------------- backtest

  backtestStart(title: string, jobId: string): void {
    this.open('backtest', title);
    const d = this.el.dataset;
    d.status = 'queued';
    d.jobId = jobId;
    this.body.append(
      h('div', { class: 'progress' }, h('div', { class: 'progress-fill', style: 'width:0%' })),
      h('div', { class: 'panel-note progress-text' }, 'SUBMITTING'),
    );
  }

  backtestProgress(ev: JobEventWire, wsEvents: number): void {
    const d = this.el.dataset;
    d.progressEvents = String(wsEvents);
    if (ev.status === 'succeeded' && ev.result) {
      this.backtestResult(ev.result);
      d.status = 'succeeded';
      return;
    }
    if (ev.status === 'failed') {
      d.status = 'failed';
      d.error = ev.error ?? ev.message ?? 'failed';
      this.body.innerHTML = '';
      this.body.append(h('div', { class: 'panel-error', role: 'alert' }, `backtest failed: ${ev.error || ev.message || 'unknown error'}`));
      return;
    }
    d.status = ev.status;
    const fill = this.body.querySelector<HTMLElement>('.progress-fill');
    const text = this.body.querySelector<HTMLElement>('.progress-text');
    if (fill) fill.style.width = `${Math.round(Math.max(0, Math.min(1, ev.progress || 0)) * 100)}%`;
    if (text) text.textContent = `${progressText(ev.status, ev.progress, ev.message)} · ${wsEvents} live event${wsEvents === 1 ? '' : 's'}`;
  }

  /** Only the event count changed (a stale or duplicate WS event). */
  countEvents(wsEvents: number): void {
    this.el.dataset.progressEvents = String(wsEvents);
  }

  private backtestResult(r: BacktestResult): void {
    const d = this.el.dataset;
    const trades = Array.isArray(r.trades) ? r.trades : [];
    d.trades = String(trades.length);
    d.sharpe = Number.isFinite(r.summary?.sharpe) ? String(r.summary.sharpe) : '';
    this.body.innerHTML = '';
    this.body.append(
      h('div', { class: 'panel-meta' }, `${fmtDate(r.start)} → ${fmtDate(r.end)} · ${fmtInt(r.bars)} bars · ${r.engine ?? ''}`),
    );
    const grid = h('div', { class: 'metrics' });
    for (const m of backtestMetrics(r.summary)) {
      grid.append(h('div', { class: 'metric', 'data-metric': m.key }, h('div', { class: 'metric-label' }, m.label), h('div', { class: `metric-value ${m.tone}` }, m.value)));
    }
    this.body.append(grid);

    // Equity curve.
    const values = r.equity?.values ?? [];
    const dates = r.equity?.dates ?? [];
    const W = 420;
    const H = 130;
    const svg = s('svg', { class: 'equity', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'equity curve' });
    const path = equityPath(values, W, H, 3);
    if (path) {
      const first = values.find((v) => Number.isFinite(v)) ?? 0;
      const last = values[values.length - 1];
      svg.append(s('path', { d: `${path} L${W - 3} ${H} L3 ${H} Z`, class: 'equity-area' }));
      svg.append(s('path', { d: path, class: `equity-line ${last >= first ? 'up' : 'down'}`, 'vector-effect': 'non-scaling-stroke' }));
    }
    const first = values[0];
    const last = values[values.length - 1];
    this.body.append(
      h('div', { class: 'section-title' }, 'EQUITY', h('span', { class: 'dim' }, ` ${fmtNum(first, 0)} → ${fmtNum(last, 0)} · ${fmtDate(dates[0])} → ${fmtDate(dates[dates.length - 1])}`)),
      h('div', { class: 'equity-box' }, svg),
    );

    // Trades.
    const rows = trades.map((t, i) =>
      h(
        'tr',
        {},
        h('td', { class: 'dim' }, String(i + 1)),
        h('td', {}, fmtDate(t.entry)),
        h('td', {}, t.exit ? fmtDate(t.exit) : 'open'),
        h('td', {}, String(t.direction ?? '').toUpperCase()),
        h('td', { class: 'num' }, fmtNum(t.entry_price)),
        h('td', { class: 'num' }, fmtNum(t.exit_price)),
        h('td', { class: `num ${tone(t.pnl)}` }, fmtNum(t.pnl, 0)),
        h('td', { class: `num ${tone(t.return)}` }, fmtPct(t.return, 2, true)),
      ),
    );
    const head = h('tr', {}, ...['#', 'Entry', 'Exit', 'Dir', 'Entry px', 'Exit px', 'P&L', 'Return'].map((c) => h('th', {}, c)));
    this.body.append(
      h('div', { class: 'section-title' }, `TRADES `, h('span', { class: 'dim' }, String(trades.length))),
      h('div', { class: 'scroll trades' }, h('table', { class: 'tbl' }, h('thead', {}, head), h('tbody', {}, ...rows))),
    );
  }

  // ---------------------------------------------------------------- factors / regimes

  factors(title: string, r: FactorsResponse): void {
    this.open('factors', title);
    const d = this.el.dataset;
    d.r2 = Number.isFinite(r.r_squared) ? String(r.r_squared) : '';
    d.nObs = String(r.n_obs ?? '');
    this.body.append(
      h('div', { class: 'panel-meta' }, `${fmtDate(r.start)} → ${fmtDate(r.end)} · ${fmtInt(r.n_obs)} obs`),
      h('div', { class: 'panel-meta dim', 'data-factor-source': '' }, factorSourceText(r)),
      h(
        'div',
        { class: 'metrics' },
        h('div', { class: 'metric', 'data-metric': 'r_squared' }, h('div', { class: 'metric-label' }, 'R²'), h('div', { class: 'metric-value' }, fmtNum(r.r_squared, 3))),
        h('div', { class: 'metric', 'data-metric': 'adj_r_squared' }, h('div', { class: 'metric-label' }, 'Adj R²'), h('div', { class: 'metric-value' }, fmtNum(r.adj_r_squared, 3))),
        h('div', { class: 'metric', 'data-metric': 'alpha_annualized' }, h('div', { class: 'metric-label' }, 'Alpha (ann.)'), h('div', { class: `metric-value ${tone(r.alpha_annualized)}` }, fmtPct(r.alpha_annualized, 2, true))),
      ),
    );
    const head = h('tr', {}, ...['Factor', 'Beta', 'Std err', 't-stat', 'p'].map((c) => h('th', {}, c)));
    const rows = factorRows(r).map((f) =>
      h('tr', { class: f.significant ? 'sig' : '' }, h('td', {}, f.name), h('td', { class: 'num' }, f.beta), h('td', { class: 'num dim' }, f.se), h('td', { class: 'num' }, f.t), h('td', { class: 'num dim' }, f.p)),
    );
    this.body.append(h('div', { class: 'section-title' }, 'EXPOSURES ', h('span', { class: 'dim' }, 'bold: p < 0.05')), h('table', { class: 'tbl' }, h('thead', {}, head), h('tbody', {}, ...rows)));
  }

  regimes(title: string, r: RegimesResponse): void {
    this.open('regimes', title);
    const d = this.el.dataset;
    d.current = String(r.current);
    const probs = Object.entries(r.current_probabilities ?? {})
      .map(([k, v]) => `${k} ${fmtPct(v, 0)}`)
      .join(' · ');
    this.body.append(
      h('div', { class: 'panel-meta' }, `${fmtDate(r.dates?.[0])} → ${fmtDate(r.dates?.[r.dates.length - 1])} · ${r.series_kind ?? ''} regime probabilities on the recent window`),
      h('div', { class: 'current-regime' }, h('span', { class: 'dim' }, 'CURRENT '), h('b', {}, String(r.current).toUpperCase()), h('span', { class: 'dim' }, probs ? `  ${probs}` : '')),
    );
    const cols: [string, string][] = [
      ['regime', 'Regime'],
      ['share', 'Share'],
      ['ann_return', 'Ann ret'],
      ['ann_vol', 'Ann vol'],
      ['sharpe', 'Sharpe'],
      ['max_drawdown', 'Max DD'],
      ['hit_rate', 'Hit'],
      ['avg_duration', 'Avg dur'],
      ['n_spells', 'Spells'],
    ];
    const head = h('tr', {}, ...cols.map(([, l]) => h('th', {}, l)));
    const rows = regimeRows(r).map((row) => h('tr', { class: row.current === 'true' ? 'current' : '' }, ...cols.map(([k], i) => h('td', { class: i ? 'num' : '' }, row[k]))));
    this.body.append(h('div', { class: 'section-title' }, 'REGIMES'), h('div', { class: 'scroll' }, h('table', { class: 'tbl' }, h('thead', {}, head), h('tbody', {}, ...rows))));
  }
}
