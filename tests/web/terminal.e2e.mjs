#!/usr/bin/env node
// Browser end-to-end check of the Sextant web terminal against a running gateway.
//
//   node tests/web/terminal.e2e.mjs <baseUrl> [liveSymbol=BTC-USD]
//
// Env: SEXTANT_CHROMIUM (default /usr/bin/chromium, then /usr/lib/chromium/chromium),
//      SEXTANT_SCREENSHOT (optional PNG path), SEXTANT_E2E_TIMEOUT_MS (default 30000 per wait).
// Prints one JSON line; exit 0 on success, 1 on failure (with the reason).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '../../web');
const require = createRequire(resolve(webDir, 'package.json'));

const baseUrl = (process.argv[2] || process.env.SEXTANT_BASE_URL || '').replace(/\/+$/, '');
const liveSymbol = process.argv[3] || 'BTC-USD';
const timeout = Number(process.env.SEXTANT_E2E_TIMEOUT_MS || 30000);
const shot = process.env.SEXTANT_SCREENSHOT || '';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

function chromiumPath() {
  const cands = [process.env.SEXTANT_CHROMIUM, '/usr/bin/chromium', '/usr/lib/chromium/chromium'].filter(Boolean);
  for (const p of cands) if (existsSync(p)) return p;
  throw new Error(`no Chromium found (tried ${cands.join(', ')}); apt-get install -y chromium or set SEXTANT_CHROMIUM`);
}

class Failure extends Error {
  constructor(reason, extra) {
    super(reason);
    this.extra = extra;
  }
}

/** Abort the run: reported (and the browser closed) by the handler at the bottom. */
function fail(reason, extra = {}) {
  throw new Failure(reason, extra);
}

function report(reason, extra = {}) {
  console.log(JSON.stringify({ ok: false, reason, ...extra }));
  process.exit(1);
}

if (!baseUrl) report('usage: node tests/web/terminal.e2e.mjs <baseUrl> [liveSymbol]');

let playwright;
try {
  playwright = require('playwright-core');
} catch (e) {
  report(`playwright-core not installed in ${webDir}/node_modules (run npm ci in web/): ${e.message}`);
}

const t0 = Date.now();
let browser;
const consoleErrors = [];
try {
  browser = await playwright.chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const resp = await page.goto(`${baseUrl}/?symbol=SPX`, { waitUntil: 'domcontentloaded', timeout });
  if (!resp || !resp.ok()) fail(`GET ${baseUrl}/ returned ${resp ? resp.status() : 'no response'}`);

  // 1. The SPX history is drawn: >= 5000 candles, from the shipped source.
  try {
    await page.waitForFunction(
      () => {
        const el = document.querySelector('#chart');
        return el && el.dataset.symbol === 'SPX' && Number(el.dataset.candles) >= 5000 && el.dataset.source === 'shipped' && el.dataset.firstFrameMs;
      },
      null,
      { timeout, polling: 100 },
    );
  } catch {
    const attrs = await page.evaluate(() => ({ ...document.querySelector('#chart')?.dataset }));
    fail('SPX history did not load (want data-candles >= 5000, data-source == "shipped")', { attrs, consoleErrors });
  }
  const first = await page.evaluate(() => ({ ...document.querySelector('#chart').dataset }));

  // 2. The canvas holds candle pixels (the up/down candle colours), not just background.
  const pixels = await page.evaluate(() => {
    const c = document.querySelector('#chart canvas.chart-base');
    if (!c) return null;
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    let up = 0, down = 0, other = 0;
    const near = (i, r, g, b) => Math.abs(data[i] - r) < 8 && Math.abs(data[i + 1] - g) < 8 && Math.abs(data[i + 2] - b) < 8;
    for (let i = 0; i < data.length; i += 4) {
      if (near(i, 0x26, 0xa6, 0x9a)) up++;
      else if (near(i, 0xef, 0x53, 0x50)) down++;
      else if (!near(i, 0x0b, 0x0e, 0x11)) other++;
    }
    return { up, down, other, width: c.width, height: c.height };
  });
  if (!pixels) fail('no chart canvas');
  if (pixels.up < 200 || pixels.down < 200) fail('chart canvas has too few candle pixels', { pixels });
  const badge = await page.textContent('#source');

  if (shot) await page.screenshot({ path: shot });

  // 3. Switch to the live symbol and wait for a live bar to be applied.
  const options = await page.$$eval('#symbol option', (os) => os.map((o) => o.value));
  if (!options.includes(liveSymbol)) fail(`symbol picker has no ${liveSymbol}`, { options });
  await page.selectOption('#symbol', liveSymbol);
  try {
    await page.waitForFunction(
      (sym) => {
        const el = document.querySelector('#chart');
        return el && el.dataset.symbol === sym && el.dataset.state === 'ready' && Number(el.dataset.liveUpdates) >= 1;
      },
      liveSymbol,
      { timeout: 30000, polling: 100 },
    );
  } catch {
    const attrs = await page.evaluate(() => ({ ...document.querySelector('#chart')?.dataset }));
    const status = await page.textContent('#status');
    fail(`no live update for ${liveSymbol} within 30 s`, { attrs, status, consoleErrors });
  }
  const after = await page.evaluate(() => ({ ...document.querySelector('#chart').dataset }));
  const liveBadge = await page.textContent('#source');
  const status = await page.textContent('#status');
  if (shot) await page.screenshot({ path: shot.replace(/(\.png)?$/i, '-live.png') });

  console.log(
    JSON.stringify({
      ok: true,
      candles: Number(first.candles),
      source: first.source,
      badge,
      firstFrameMs: Number(first.firstFrameMs),
      pixels,
      liveSymbol,
      liveCandles: Number(after.candles),
      liveSource: after.source,
      liveBadge,
      liveUpdates: Number(after.liveUpdates),
      status,
      consoleErrors,
      elapsed: (Date.now() - t0) / 1000,
    }),
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  if (e instanceof Failure) report(e.message, e.extra);
  report(`error: ${e && e.message ? e.message.split('\n')[0] : e}`, { consoleErrors });
}
