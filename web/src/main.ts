import './style.css';
import { chartInterval, fetchBacktest, fetchBars, fetchFactors, fetchInstruments, fetchRegimes, submitBacktest, groupInstruments, initialSymbol, sourceKind, sourceLabel, type InstrumentChoice } from './api';
import { session } from './auth';
import { ApiError } from './http';
import { newJobId, parseCommand } from './command';
import { JobWatcher } from './jobs';
import { Panel } from './panel';
import { CandleChart, type HoverInfo } from './chart';
import { fmtPrice, fmtTime, fmtVolume } from './format';
import { parseInterval, type Interval } from './interval';
import { LiveClient, wsUrl, type LiveStatus } from './live';
import { LiveAggregator } from './liveagg';
import { parseBars, type Series } from './series';
import { SignInForm } from './signin';
import { syntheticSeries } from './synthetic';
import type { LiveBar } from './types';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;

const chartEl = $<HTMLDivElement>('#chart');
const symbolSel = $<HTMLSelectElement>('#symbol');
const cmd = $<HTMLInputElement>('#cmd');
const badge = $<HTMLSpanElement>('#source');
const liveBadge = $<HTMLSpanElement>('#live-source');
const statusEl = $<HTMLSpanElement>('#status');
const readout = $<HTMLSpanElement>('#readout');
const message = $<HTMLDivElement>('#message');
const info = $<HTMLSpanElement>('#info');
const intervalEl = $<HTMLSpanElement>('#interval');

interface State {
  choices: InstrumentChoice[];
  symbol: string | null;
  interval: Interval | null;
  series: Series | null;
  agg: LiveAggregator | null;
  historySources: string[];
  liveSource: string | null;
  liveUpdates: number;
  loadSeq: number;
  loading: boolean;
  pending: LiveBar[];
  asOf: string | null;
  lastTick: number | null;
  live: LiveStatus | null;
  bench: boolean;
  /** The symbol's history answered 404: nothing to stream, so never show LIVE for it. */
  unknown: boolean;
}

const state: State = {
  choices: [],
  symbol: null,
  interval: null,
  series: null,
  agg: null,
  historySources: [],
  liveSource: null,
  liveUpdates: 0,
  loadSeq: 0,
  loading: false,
  pending: [],
  asOf: null,
  lastTick: null,
  live: null,
  bench: false,
  unknown: false,
};

const chart = new CandleChart(chartEl, { onHover: showReadout });
let abort: AbortController | null = null;

// ------------------------------------------------------------------ attributes & badges

function setAttrs(): void {
  const d = chartEl.dataset;
  d.symbol = state.symbol ?? '';
  d.candles = String(state.series?.length ?? 0);
  d.liveUpdates = String(state.liveUpdates);
  d.source = state.historySources.join('+');
  d.interval = state.interval?.text ?? '';
  d.state = state.loading ? 'loading' : message.hidden ? 'ready' : 'error';
  if (state.liveSource) d.liveSource = state.liveSource;
  else delete d.liveSource;
}

function renderBadges(): void {
  const srcs = state.historySources;
  if (srcs.length === 0) {
    badge.textContent = '—';
    badge.className = 'badge';
  } else {
    badge.textContent = srcs.map(sourceLabel).join(' + ');
    const kinds = srcs.map(sourceKind);
    badge.className = 'badge ' + (kinds.includes('synthetic') ? 'synthetic' : kinds.includes('simulated') ? 'simulated' : kinds.every((k) => k === 'real') ? 'real' : 'unknown');
  }
  badge.title = 'source of the displayed history';
  const ls = state.liveSource;
  if (ls && !(srcs.length === 1 && srcs[0] === ls)) {
    liveBadge.hidden = false;
    liveBadge.textContent = `+ LIVE ${sourceLabel(ls)}`;
    liveBadge.className = 'badge ' + (sourceKind(ls) === 'real' ? 'real' : 'simulated');
  } else {
    liveBadge.hidden = true;
  }
  const marked = srcs.find((s) => sourceKind(s) !== 'real') ?? (ls && sourceKind(ls) !== 'real' ? ls : null);
  chart.setWatermark(marked ? sourceLabel(marked).split(' · ')[0] : null);
}

function showError(text: string | null): void {
  message.hidden = !text;
  message.textContent = text ?? '';
  if (text) chartEl.dataset.error = text;
  else delete chartEl.dataset.error;
  setAttrs();
}

function showReadout(h: HoverInfo | null): void {
  const s = state.series;
  if (!h) {
    if (!s || s.length === 0) {
      readout.textContent = '';
      return;
    }
    h = chart.hoverInfo(s.length - 1);
    if (!h) return;
  }
  const chg = Number.isFinite(h.prevClose) && h.prevClose !== 0 ? ((h.c - h.prevClose) / h.prevClose) * 100 : NaN;
  const cls = h.c >= h.o ? 'up' : 'down';
  const ref = h.h;
  readout.innerHTML = '';
  const parts: [string, string, string?][] = [
    ['', fmtTime(h.t, state.interval?.ms ?? 86_400_000)],
    ['O', fmtPrice(h.o, ref), cls],
    ['H', fmtPrice(h.h, ref), cls],
    ['L', fmtPrice(h.l, ref), cls],
    ['C', fmtPrice(h.c, ref), cls],
    ['V', fmtVolume(h.v)],
  ];
  if (Number.isFinite(chg)) parts.push(['', `${chg >= 0 ? '+' : ''}${chg.toFixed(2)}%`, `chg ${chg >= 0 ? 'up' : 'down'}`]);
  for (const [k, v, c] of parts) {
    if (k) {
      const kk = document.createElement('b');
      kk.textContent = k;
      readout.append(kk);
    }
    const vv = document.createElement('span');
    vv.textContent = v;
    if (c) vv.className = c;
    readout.append(vv);
  }
}

function renderInfo(): void {
  const s = state.series;
  const parts: string[] = [];
  if (s) parts.push(`${s.length.toLocaleString('en-US')} candles`);
  if (state.asOf) parts.push(`as of ${state.asOf.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z')}`);
  if (state.liveUpdates) parts.push(`${state.liveUpdates} live`);
  info.textContent = parts.join(' · ');
}

function renderStatus(): void {
  if (state.bench) {
    statusEl.className = 'status off';
    statusEl.textContent = '● BENCH · no live feed';
    return;
  }
  const st = state.live;
  if (!st) return;
  let text = '';
  let cls = '';
  if (state.unknown) {
    cls = 'off';
    text = `● NO DATA · ${state.symbol ?? ''} unknown`;
  } else if (st.state === 'live') {
    // Subscribed once the server confirms it, or once a bar for the symbol arrived on this connection.
    const subscribed = !!state.symbol && (st.subscribed.includes(state.symbol) || state.lastTick !== null);
    cls = subscribed ? 'live' : 'connecting';
    const age = state.lastTick ? Math.max(0, Math.round((Date.now() - state.lastTick) / 1000)) : null;
    text = subscribed ? `● LIVE${age !== null ? ` · ${age}s ago` : ' · waiting'}` : '● CONNECTED · subscribing';
  } else if (st.state === 'connecting') {
    cls = 'connecting';
    text = st.attempt > 0 ? `● RECONNECTING (#${st.attempt})` : '● CONNECTING';
  } else {
    cls = 'off';
    const why = st.lastCloseCode === 1013 ? ' · dropped (slow)' : st.lastCloseCode === 1008 ? ` · refused (${st.lastCloseReason || 'auth'})` : '';
    const left = st.retryAt ? Math.max(0, st.retryAt - Date.now()) : (st.retryInMs ?? 0);
    text = `● OFFLINE${why} · retry in ${Math.ceil(left / 1000)}s`;
  }
  statusEl.className = `status ${cls}`;
  statusEl.textContent = text;
  statusEl.dataset.state = st.state;
}

// ------------------------------------------------------------------ loading

/** data-first-frame-ms: fetch (or generation) start to first drawn frame; data-first-frame-at: since navigation. */
function markFirstFrame(t0: number): void {
  const now = performance.now();
  chartEl.dataset.firstFrameMs = (now - t0).toFixed(1);
  chartEl.dataset.firstFrameAt = now.toFixed(1);
}

function fillPicker(): void {
  symbolSel.innerHTML = '';
  const choices = [...state.choices];
  if (state.symbol && !choices.some((c) => c.id === state.symbol)) {
    choices.push({ id: state.symbol, assetClass: '?', sources: [], intervals: [] });
  }
  for (const c of choices) {
    const opt = document.createElement('option');
    opt.value = c.id;
    const tag = c.sources.map((s) => (sourceKind(s) === 'real' ? s : s.toUpperCase())).join('/');
    opt.textContent = `${c.id}  ${c.assetClass}${tag ? ` · ${tag}` : ''}`;
    symbolSel.append(opt);
  }
  if (state.symbol) symbolSel.value = state.symbol;
}

async function loadSymbol(symbol: string): Promise<void> {
  const seq = ++state.loadSeq;
  abort?.abort();
  abort = new AbortController();
  const prev = state.symbol;
  state.symbol = symbol;
  state.loading = true;
  state.pending = [];
  state.liveSource = null;
  state.liveUpdates = 0; // counts live bars applied to the series on screen
  state.lastTick = null;
  state.asOf = null;
  delete chartEl.dataset.firstFrameMs;
  delete chartEl.dataset.firstFrameAt;
  delete chartEl.dataset.timing;
  const choice = state.choices.find((c) => c.id === symbol);
  const ivText = chartInterval(choice);
  state.interval = parseInterval(ivText);
  intervalEl.textContent = ivText;
  fillPicker();
  const url = new URL(location.href);
  url.searchParams.set('symbol', symbol);
  url.searchParams.delete('bench');
  history.replaceState(null, '', url);
  document.title = `${symbol} · Sextant`;
  if (prev !== symbol || state.unknown) {
    live?.setSymbols([symbol]);
  }
  state.unknown = false;
  setAttrs();
  chartEl.classList.add('loading');
  const t0 = performance.now();
  try {
    const resp = await fetchBars(symbol, ivText, abort.signal);
    if (seq !== state.loadSeq) return;
    const t1 = performance.now();
    const { series, dropped } = parseBars(resp);
    const t2 = performance.now();
    state.series = series;
    state.historySources = series.presentSources();
    state.asOf = resp.as_of ?? null;
    state.agg = new LiveAggregator(series, state.interval);
    state.loading = false;
    if (resp.interval && resp.interval !== ivText) {
      try {
        state.interval = parseInterval(resp.interval);
        state.agg = new LiveAggregator(series, state.interval);
        intervalEl.textContent = resp.interval;
      } catch {
        /* keep requested */
      }
    }
    chart.setSeries(series, state.interval);
    showError(series.length === 0 ? `no bars for ${symbol} (${ivText})` : null);
    renderBadges();
    const drawMs = chart.renderNow();
    markFirstFrame(t0);
    chartEl.dataset.timing = JSON.stringify({ fetchJsonMs: +(t1 - t0).toFixed(1), parseMs: +(t2 - t1).toFixed(1), drawMs: +drawMs.toFixed(1) });
    // Live bars that arrived while the history was loading.
    const pending = state.pending;
    state.pending = [];
    for (const b of pending) applyLive(b);
    setAttrs();
    showReadout(null);
    renderInfo();
    if (dropped) console.warn(`${dropped} malformed bars dropped`);
  } catch (e) {
    if ((e as Error).name === 'AbortError' || seq !== state.loadSeq) return;
    state.loading = false;
    state.series = null;
    state.agg = null;
    state.historySources = [];
    chart.setSeries(null, null);
    chart.renderNow();
    renderBadges();
    if (e instanceof ApiError && e.status === 404) {
      state.unknown = true;
      live?.setSymbols([]);
    }
    renderStatus();
    const err = e instanceof ApiError ? (e.status ? `${e.status} · ${e.message}` : e.message) : `error: ${(e as Error).message}`;
    showError(`${symbol}: ${err}`);
    readout.textContent = '';
    renderInfo();
  } finally {
    if (seq === state.loadSeq) chartEl.classList.remove('loading');
  }
}

// ------------------------------------------------------------------ live

function applyLive(bar: LiveBar): void {
  if (!bar || bar.instrument_id !== state.symbol) return;
  if (state.loading || !state.agg) {
    if (state.pending.length < 10_000) state.pending.push(bar);
    return;
  }
  const before = state.series?.length ?? 0;
  const r = state.agg.apply(bar);
  if (r === 'ignored') return;
  state.liveUpdates++;
  state.lastTick = Date.now();
  const src = String(bar.source ?? '');
  if (src && src !== state.liveSource) {
    state.liveSource = src;
    renderBadges();
  }
  chart.dataChanged((state.series?.length ?? 0) - before);
  setAttrs();
  renderStatus();
  renderInfo();
  showReadout(null);
}

let live: LiveClient | null = null;

// ------------------------------------------------------------------ inputs

symbolSel.addEventListener('change', () => {
  if (symbolSel.value && symbolSel.value !== state.symbol) void switchTo(symbolSel.value);
});

async function switchTo(symbol: string): Promise<void> {
  if (state.bench) {
    state.bench = false;
    chartEl.dataset.bench = '';
    startLive();
  }
  await loadSymbol(symbol);
}

// ------------------------------------------------------------------ command bar

const panel = new Panel($<HTMLElement>('#panel'));
let cmdSeq = 0;
let watcher: JobWatcher | null = null;
let panelAbort: AbortController | null = null;
const cmdHistory: string[] = [];
let histPos = -1;

function resolveSymbol(raw: string): string {
  const hit = state.choices.find((c) => c.id.toUpperCase() === raw.toUpperCase());
  return hit ? hit.id : raw.toUpperCase();
}

function errText(e: unknown): string {
  if (e instanceof ApiError) return e.status ? `${e.status} · ${e.message}` : e.message;
  return `error: ${(e as Error).message ?? e}`;
}

/** Cancel whatever the previous command left running (job watcher, fetches). */
function cancelCommand(): number {
  watcher?.close();
  watcher = null;
  panelAbort?.abort();
  panelAbort = new AbortController();
  return ++cmdSeq;
}

async function runCommand(raw: string): Promise<void> {
  const c = parseCommand(raw, resolveSymbol);
  const seq = cancelCommand();
  const signal = panelAbort!.signal;
  const title = raw.trim().toUpperCase().replace(/\s+/g, ' ');
  switch (c.kind) {
    case 'chart':
      panel.hide();
      await switchTo(c.symbol);
      return;
    case 'help':
      panel.help();
      return;
    case 'invalid':
      panel.error(title, c.message);
      return;
    case 'factors':
    case 'regimes': {
      panel.loading(c.kind, title);
      try {
        if (c.kind === 'factors') {
          const r = await fetchFactors(c.symbol, c.model, signal);
          if (seq === cmdSeq) panel.factors(`FA ${c.symbol} · ${c.model.toUpperCase()}`, r);
        } else {
          const r = await fetchRegimes(c.symbol, c.states, signal);
          if (seq === cmdSeq) panel.regimes(`REG ${c.symbol} · ${c.states} states`, r);
        }
      } catch (e) {
        if ((e as Error).name === 'AbortError' || seq !== cmdSeq) return;
        panel.error(title, errText(e));
      }
      return;
    }
    case 'backtest': {
      const jobId = newJobId();
      panel.backtestStart(`BACKTEST ${c.symbol} ${c.strategy}`, jobId);
      const w = new JobWatcher(jobId, wsUrl(location), wsAuth, (id) => fetchBacktest(id), {
        onEvent: (ev) => {
          if (seq === cmdSeq) panel.backtestProgress(ev, w.wsEvents);
        },
        onCount: (n) => {
          if (seq === cmdSeq) panel.countEvents(n);
        },
      });
      watcher = w;
      await w.subscribe(); // before the POST, so no event is missed
      if (seq !== cmdSeq) return;
      try {
        const first = await submitBacktest(jobId, { symbol: c.symbol, strategy: c.strategy, fees: 0.001 }, signal);
        if (seq !== cmdSeq) return;
        w.apply(first);
        w.startPolling();
      } catch (e) {
        w.close();
        if ((e as Error).name === 'AbortError' || seq !== cmdSeq) return;
        panel.error(title, errText(e));
      }
      return;
    }
  }
}

panel.onClose = () => {
  cancelCommand();
};

cmd.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    const raw = cmd.value.trim();
    if (!raw) return;
    if (cmdHistory[cmdHistory.length - 1] !== raw) cmdHistory.push(raw);
    histPos = -1;
    cmd.value = '';
    void runCommand(raw);
  } else if (e.key === 'Escape') {
    cmd.value = '';
    cmd.blur();
    if (panel.visible) {
      panel.hide();
      cancelCommand();
    }
  } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
    if (!cmdHistory.length) return;
    e.preventDefault();
    if (e.key === 'ArrowUp') histPos = histPos < 0 ? cmdHistory.length - 1 : Math.max(0, histPos - 1);
    else histPos = histPos < 0 ? -1 : histPos + 1 >= cmdHistory.length ? -1 : histPos + 1;
    cmd.value = histPos < 0 ? '' : cmdHistory[histPos];
  }
});

window.addEventListener('keydown', (e) => {
  if (signin.visible || document.activeElement === cmd || document.activeElement === symbolSel) return;
  if (e.key === '/') {
    e.preventDefault();
    cmd.focus();
  } else if (e.key === 'Escape' && panel.visible) {
    panel.hide();
    cancelCommand();
  } else if (e.key === 'ArrowLeft') chart.panBy(80);
  else if (e.key === 'ArrowRight') chart.panBy(-80);
  else if (e.key === '+' || e.key === '=') chart.zoomAt(0.8);
  else if (e.key === '-') chart.zoomAt(1.25);
  else if (e.key === 'Home') chart.fitAll();
  else if (e.key === 'End') chart.showLatest();
});

function startLive(): void {
  if (live) return;
  live = new LiveClient(wsUrl(location), wsAuth, {
    onBar: applyLive,
    onStatus: (s) => {
      state.live = s;
      renderStatus();
    },
  });
  live.start();
  if (state.symbol && !state.unknown) live.setSymbols([state.symbol]);
}

setInterval(renderStatus, 500);

// ------------------------------------------------------------------ session

/** The first message of every WebSocket connection (live feed and job watchers). */
const wsAuth = (afterRejection: boolean) => session.wsAuthMessage(afterRejection);

const userEl = $<HTMLSpanElement>('#user');
const signin = new SignInForm($<HTMLElement>('#signin'), [$('header'), $('main'), $('footer')], (u, p) => session.signIn(u, p));

$<HTMLButtonElement>('#signout').addEventListener('click', () => void session.signOut());

session.onChange((user, why) => {
  renderUser();
  if (user) {
    signin.hide();
    void startTerminal();
  } else {
    signedOut(why);
  }
});

function renderUser(): void {
  const u = session.user;
  userEl.hidden = !u;
  userEl.dataset.username = u?.username ?? '';
  userEl.dataset.role = u?.role ?? '';
  $<HTMLSpanElement>('#user-name').textContent = u?.username ?? '';
  $<HTMLSpanElement>('#user-role').textContent = u?.role ?? '';
}

/** Signed in: open the live feed, list the instruments and chart the symbol of the URL. */
async function startTerminal(): Promise<void> {
  startLive();
  const fromUrl = new URLSearchParams(location.search).get('symbol');
  try {
    state.choices = groupInstruments(await fetchInstruments());
  } catch (e) {
    showError(`instruments: ${errText(e)}`);
  }
  const sym = initialSymbol(fromUrl, state.choices) ?? fromUrl ?? 'SPX';
  await loadSymbol(sym);
}

/** No session (or it ended): stop the feed and the running command, drop the data on screen, ask to sign in. */
function signedOut(why: string | null): void {
  live?.stop();
  live = null;
  state.live = null;
  cancelCommand();
  panel.hide();
  abort?.abort();
  Object.assign(state, { choices: [], symbol: null, series: null, agg: null, historySources: [], liveSource: null, liveUpdates: 0, loadSeq: state.loadSeq + 1, loading: false, pending: [], asOf: null, lastTick: null, unknown: false });
  chart.setSeries(null, null);
  chart.renderNow();
  chartEl.classList.remove('loading');
  symbolSel.innerHTML = '';
  readout.textContent = '';
  renderBadges();
  renderInfo();
  showError(null);
  statusEl.className = 'status off';
  statusEl.textContent = '● SIGNED OUT';
  signin.show(why);
}

// ------------------------------------------------------------------ boot

async function boot(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const benchN = Number(params.get('bench'));
  if (benchN > 0) {
    // Dev hook: synthetic candles generated in the page, labelled SYNTHETIC; no gateway needed.
    state.bench = true;
    const n = Math.min(5_000_000, Math.floor(benchN));
    const ivText = params.get('interval') ?? '1m';
    state.interval = parseInterval(ivText);
    state.symbol = 'SYNTH';
    intervalEl.textContent = ivText;
    chartEl.dataset.bench = String(n);
    const t0 = performance.now();
    const series = syntheticSeries(n, state.interval.ms);
    state.series = series;
    state.historySources = ['synthetic'];
    state.agg = new LiveAggregator(series, state.interval);
    chart.setSeries(series, state.interval);
    renderBadges();
    chart.renderNow();
    markFirstFrame(t0);
    symbolSel.innerHTML = '<option value="SYNTH">SYNTH · synthetic</option>';
    setAttrs();
    showReadout(null);
    renderInfo();
    renderStatus();
    fetchInstruments()
      .then((rows) => {
        state.choices = groupInstruments(rows);
        for (const c of state.choices) {
          const opt = document.createElement('option');
          opt.value = c.id;
          opt.textContent = `${c.id}  ${c.assetClass}`;
          symbolSel.append(opt);
        }
      })
      .catch(() => {});
    return;
  }
  // The terminal starts when a session does (onChange): resumed in this tab, or from the form.
  try {
    if (await session.resume()) return;
    signedOut(null);
  } catch (e) {
    signedOut(`could not resume the session: ${errText(e)}`);
  }
}

// Dev/test hook (used by tests/web/chart.bench.mjs).
(window as unknown as { __sextant: unknown }).__sextant = { chart, state, panel, runCommand };

void boot();
