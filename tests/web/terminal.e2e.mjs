#!/usr/bin/env node
// Browser end-to-end check of the Sextant web terminal against a running gateway.
//
//   node tests/web/terminal.e2e.mjs <baseUrl> [liveSymbol=BTC-USD]
//
// Env: SEXTANT_TEST_USERNAME / SEXTANT_TEST_PASSWORD (signed in through the overlay first),
//      SEXTANT_CHROMIUM (default /usr/bin/chromium, then /usr/lib/chromium/chromium),
//      SEXTANT_SCREENSHOT (optional PNG path), SEXTANT_E2E_TIMEOUT_MS (default 30000 per wait).
// Prints one JSON line; exit 0 on success, 1 on failure (with the reason).
import { e2eSetup, fail, launchChromium, openSpxPage, reportError, signIn } from './browser.mjs';

export { CHROMIUM_ARGS } from './browser.mjs';

const { baseUrl, timeout, shot, credentials, playwright } = e2eSetup('node tests/web/terminal.e2e.mjs <baseUrl> [liveSymbol]');
const liveSymbol = process.argv[3] || 'BTC-USD';

const t0 = Date.now();
let browser;
const consoleErrors = [];
try {
  browser = await launchChromium(playwright);
  const page = await openSpxPage(browser, baseUrl, { height: 720, timeout, consoleErrors });
  await signIn(page, credentials, timeout);

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

  // 4. An unknown symbol (a reload: the session resumes from this tab's refresh token, no new sign-in):
  // the 404 is shown and the status never claims LIVE for it.
  const unknown = 'NOSUCH1';
  await page.goto(`${baseUrl}/?symbol=${unknown}`);
  try {
    await page.waitForFunction(
      (sym) => {
        const el = document.querySelector('#chart');
        return el && el.dataset.symbol === sym && el.dataset.state === 'error' && (el.dataset.error || '').includes('404');
      },
      unknown,
      { timeout, polling: 100 },
    );
  } catch {
    const attrs = await page.evaluate(() => ({ ...document.querySelector('#chart')?.dataset }));
    fail(`no 404 shown for ${unknown}`, { attrs, consoleErrors });
  }
  await page.waitForTimeout(1500); // the live connection is up and the status re-rendered
  const unknownStatus = await page.textContent('#status');
  if (unknownStatus.includes('LIVE')) fail(`status claims LIVE for unknown ${unknown}`, { unknownStatus });

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
      unknownStatus,
      consoleErrors,
      elapsed: (Date.now() - t0) / 1000,
    }),
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  await reportError(e, browser, consoleErrors);
}
