#!/usr/bin/env node
// Browser end-to-end check of the command bar: BACKTEST (live job progress over the WebSocket, result
// panel with metrics, SVG equity curve and trades), a 422 error shown inline, and FA (factor table).
//
//   node tests/web/command_bar.e2e.mjs <baseUrl>
//
// Env: SEXTANT_TEST_USERNAME / SEXTANT_TEST_PASSWORD (signed in through the overlay first),
//      SEXTANT_CHROMIUM (default /usr/bin/chromium, then /usr/lib/chromium/chromium),
//      SEXTANT_SCREENSHOT (optional PNG path of the backtest result), SEXTANT_E2E_TIMEOUT_MS
//      (default 30000 per wait; the backtest gets 3x, regimes 4x). Prints one JSON line; exit 0 on success, 1 on failure.
import { e2eSetup, fail, launchChromium, openSpxPage, reportError, signIn } from './browser.mjs';

export { CHROMIUM_ARGS } from './browser.mjs';

const { baseUrl, timeout, shot, credentials, playwright } = e2eSetup('node tests/web/command_bar.e2e.mjs <baseUrl>');

const t0 = Date.now();
let browser;
const consoleErrors = [];

async function panelAttrs(page) {
  return page.evaluate(() => ({ ...document.querySelector('#panel')?.dataset, hidden: document.querySelector('#panel')?.hidden, text: document.querySelector('#panel')?.innerText?.slice(0, 400) }));
}

async function run(page, command) {
  await page.click('#cmd');
  await page.fill('#cmd', '');
  await page.type('#cmd', command, { delay: 5 });
  await page.press('#cmd', 'Enter');
}

async function waitPanel(page, what, fn, arg, ms = timeout) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
  } catch {
    fail(`${what}`, { panel: await panelAttrs(page), consoleErrors });
  }
}

try {
  browser = await launchChromium(playwright);
  const page = await openSpxPage(browser, baseUrl, { height: 800, timeout, consoleErrors });
  await signIn(page, credentials, timeout);
  await waitPanel(page, 'SPX chart did not load', () => {
    const el = document.querySelector('#chart');
    return el && el.dataset.symbol === 'SPX' && el.dataset.state === 'ready' && Number(el.dataset.candles) > 0;
  });

  // 1. A backtest: live progress over the WebSocket, then the result panel.
  const tb = Date.now();
  await run(page, 'backtest spx 50SMA.200EMA');
  await waitPanel(page, 'backtest panel did not open', () => document.querySelector('#panel')?.dataset.kind === 'backtest');
  const seen = new Set();
  // Record the statuses the panel passes through (best effort: a fast job may skip some).
  const poll = setInterval(async () => {
    try {
      const s = await page.evaluate(() => document.querySelector('#panel')?.dataset.status);
      if (s) seen.add(s);
    } catch {
      /* page busy */
    }
  }, 50);
  await waitPanel(
    page,
    'backtest did not succeed',
    () => {
      const d = document.querySelector('#panel')?.dataset;
      if (d?.status === 'failed' || d?.kind === 'error') return true;
      return d?.kind === 'backtest' && d.status === 'succeeded';
    },
    null,
    timeout * 3,
  );
  clearInterval(poll);
  const bt = await panelAttrs(page);
  if (bt.kind !== 'backtest' || bt.status !== 'succeeded') fail('backtest did not succeed', { panel: bt, consoleErrors });
  const backtestSeconds = (Date.now() - tb) / 1000;
  if (!(Number(bt.trades) > 0)) fail('backtest shows no trades (data-trades)', { panel: bt });
  if (!(Number(bt.progressEvents) >= 1)) fail('no WebSocket job event counted (data-progress-events)', { panel: bt });
  if (!Number.isFinite(Number(bt.sharpe)) || bt.sharpe === '') fail('no data-sharpe', { panel: bt });
  const view = await page.evaluate(() => {
    const p = document.querySelector('#panel');
    const path = p.querySelector('svg.equity path.equity-line');
    const metrics = Object.fromEntries([...p.querySelectorAll('[data-metric]')].map((m) => [m.dataset.metric, m.querySelector('.metric-value')?.textContent]));
    const rows = p.querySelectorAll('.trades tbody tr').length;
    const box = p.getBoundingClientRect();
    return { pathLen: path ? path.getAttribute('d').length : 0, pathPoints: path ? path.getAttribute('d').split('L').length : 0, metrics, rows, width: box.width, height: box.height };
  });
  if (view.pathLen < 20) fail('equity SVG has no path', { view });
  if (view.rows !== Number(bt.trades)) fail('trade list rows differ from data-trades', { view, panel: bt });
  for (const k of ['total_return', 'cagr', 'sharpe', 'sortino', 'max_drawdown', 'n_trades']) {
    if (!view.metrics[k] || view.metrics[k] === '—') fail(`metric ${k} not shown`, { view });
  }
  if (shot) await page.screenshot({ path: shot });

  // 2. A bad strategy spec: the server's 422 message, naming the bad token, inline.
  await run(page, 'BACKTEST SPX 50SMMA.200EMA');
  await waitPanel(page, 'no error panel for a bad strategy', () => document.querySelector('#panel')?.dataset.kind === 'error');
  const err = await page.evaluate(() => document.querySelector('#panel .panel-error')?.textContent ?? '');
  if (!err.includes('SMMA')) fail('error panel does not name SMMA', { err });
  if (!err.includes('422')) fail('error panel does not show the 422 status', { err });

  // 3. Factor exposures: an R² value.
  await run(page, 'FA SPX');
  await waitPanel(page, 'factor panel did not load', () => {
    const d = document.querySelector('#panel')?.dataset;
    return (d?.kind === 'factors' && d.r2 !== undefined) || d?.kind === 'error';
  });
  const fa = await page.evaluate(() => {
    const p = document.querySelector('#panel');
    return {
      kind: p.dataset.kind,
      r2: p.dataset.r2,
      r2Text: p.querySelector('[data-metric="r_squared"] .metric-value')?.textContent ?? '',
      label: p.querySelector('[data-metric="r_squared"] .metric-label')?.textContent ?? '',
      factors: [...p.querySelectorAll('tbody tr td:first-child')].map((td) => td.textContent),
      error: p.querySelector('.panel-error')?.textContent,
    };
  });
  if (fa.kind !== 'factors') fail('FA SPX failed', { fa });
  const r2 = Number(fa.r2Text);
  if (fa.label !== 'R²' || !(r2 >= 0 && r2 <= 1) || !/^\d\.\d+$/.test(fa.r2Text)) fail('no R² value shown', { fa });
  if (fa.factors.length < 2) fail('factor table has too few rows', { fa });

  // 4. Regimes: the current regime and one row per regime.
  await run(page, 'reg spx');
  await waitPanel(page, 'regime panel did not load', () => {
    const d = document.querySelector('#panel')?.dataset;
    return (d?.kind === 'regimes' && d.current !== undefined) || d?.kind === 'error';
  }, null, timeout * 4); // the HMM fit takes ~30 s
  const reg = await page.evaluate(() => {
    const p = document.querySelector('#panel');
    return { kind: p.dataset.kind, current: p.dataset.current, rows: p.querySelectorAll('tbody tr').length, error: p.querySelector('.panel-error')?.textContent };
  });
  if (reg.kind !== 'regimes' || !reg.current || reg.rows < 2) fail('REG SPX did not show regimes', { reg });

  // 5. A plain symbol (with GP) still charts it, and closes the panel.
  await run(page, 'btc-usd gp');
  await waitPanel(page, 'BTC-USD GP did not chart BTC-USD', () => {
    const el = document.querySelector('#chart');
    return el.dataset.symbol === 'BTC-USD' && el.dataset.state === 'ready' && document.querySelector('#panel').hidden && document.querySelector('#symbol').value === 'BTC-USD';
  });
  const chartSym = await page.evaluate(() => document.querySelector('#chart').dataset.symbol);

  console.log(
    JSON.stringify({
      ok: true,
      backtest: { status: bt.status, trades: Number(bt.trades), sharpe: Number(bt.sharpe), progressEvents: Number(bt.progressEvents), statusesSeen: [...seen], seconds: backtestSeconds, equityPoints: view.pathPoints, metrics: view.metrics },
      error: err,
      factors: { r2: fa.r2Text, factors: fa.factors },
      regimes: reg,
      chartSymbol: chartSym,
      consoleErrors,
      elapsed: (Date.now() - t0) / 1000,
    }),
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  await reportError(e, browser, consoleErrors);
}
