#!/usr/bin/env node
// Price-chart benchmark in headless Chromium (shared/BENCHMARKS.md, "price chart" row).
//
//   node tests/web/chart.bench.mjs <baseUrl>
//
// Scenarios: the gateway's SPX daily history (?symbol=SPX, ~5k real candles) and synthetic
// candles generated in the page (?bench=N, labelled SYNTHETIC; default N = 100000 and 1000000).
// For each: time to first candle, then ~120 programmatic pan/zoom steps per sequence, one step
// per requestAnimationFrame, frame times from rAF timestamps (headless Chromium runs a
// synthetic 60 Hz clock, so 16.7 ms is the floor) plus the synchronous draw time per step.
//
// The gateway scenario signs in through the overlay as $SEXTANT_TEST_USERNAME / $SEXTANT_TEST_PASSWORD
// first, then times a reload (the session resumes from the tab's refresh token: one refresh call
// before the history is fetched, as for a returning user).
//
// Env: SEXTANT_TEST_USERNAME, SEXTANT_TEST_PASSWORD, SEXTANT_CHROMIUM, SEXTANT_BENCH_SIZES (comma list, default "100000,1000000"),
//      SEXTANT_BENCH_DPR (deviceScaleFactor, default 1), SEXTANT_BENCH_SCREENSHOTS (dir, optional).
// Prints one JSON object on stdout; exit 1 on error.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { baseUrlArg, credentialsFromEnv, launchChromium, signIn, webRequire } from './browser.mjs';

const baseUrl = baseUrlArg();
const sizes = (process.env.SEXTANT_BENCH_SIZES || '100000,1000000').split(',').map(Number).filter((n) => n > 0);
const dpr = Number(process.env.SEXTANT_BENCH_DPR || 1);
const shotDir = process.env.SEXTANT_BENCH_SCREENSHOTS || '';

if (!baseUrl) {
  console.log(JSON.stringify({ ok: false, reason: 'usage: node tests/web/chart.bench.mjs <baseUrl>' }));
  process.exit(1);
}

const stats = (xs) => {
  if (!xs.length) return { n: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: xs.length, mean: +mean.toFixed(2), p50: +q(0.5).toFixed(2), p95: +q(0.95).toFixed(2), max: +s[s.length - 1].toFixed(2) };
};

/** Runs in the page: one step per animation frame; returns rAF intervals and draw times. */
async function runSequence(page, name) {
  return page.evaluate(async (name) => {
    const { chart } = window.__sextant;
    const W = chart.view.plotWidthCss;
    const steps = [];
    if (name === 'full-extent') {
      // Everything (or nearly) in view: the per-pixel aggregation covers all candles each frame.
      chart.fitAll();
      for (let i = 0; i < 30; i++) steps.push(() => chart.zoomAt(0.98, W / 2));
      for (let i = 0; i < 30; i++) steps.push(() => chart.panBy(-12));
      for (let i = 0; i < 30; i++) steps.push(() => chart.zoomAt(1 / 0.98, W / 3));
      for (let i = 0; i < 30; i++) steps.push(() => chart.panBy(12));
    } else {
      // From the latest candles: zoom out across the candle/column switch, pan, zoom back in.
      chart.showLatest();
      for (let i = 0; i < 40; i++) steps.push(() => chart.zoomAt(1.12, W * 0.8));
      for (let i = 0; i < 40; i++) steps.push(() => chart.panBy(25));
      for (let i = 0; i < 40; i++) steps.push(() => chart.zoomAt(1 / 1.12, W * 0.2));
    }
    chart.renderNow();
    const raf = () => new Promise((r) => requestAnimationFrame(r));
    await raf();
    await raf();
    const stamps = [];
    const draws = [];
    const modes = { candles: 0, columns: 0 };
    let maxVisible = 0;
    for (const step of steps) {
      await new Promise((resolve) =>
        requestAnimationFrame((ts) => {
          stamps.push(ts);
          step();
          draws.push(chart.renderNow());
          const v = chart.view;
          modes[v.mode]++;
          maxVisible = Math.max(maxVisible, Math.round(v.hi - v.lo));
          resolve();
        }),
      );
    }
    stamps.push(await raf());
    const frames = [];
    for (let i = 1; i < stamps.length; i++) frames.push(stamps[i] - stamps[i - 1]);
    return { name, steps: steps.length, frames, draws, modes, maxVisibleCandles: maxVisible };
  }, name);
}

/** `credentials`: sign in on the page first, then time a reload (the gateway scenario). */
async function scenario(browser, label, url, waitCandles, credentials = null) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: dpr });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  if (credentials) {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
    await signIn(page, credentials, 60000);
  }
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
  await page.waitForFunction((n) => Number(document.querySelector('#chart')?.dataset.candles) >= n && document.querySelector('#chart').dataset.firstFrameMs, waitCandles, { timeout: 120000, polling: 50 });
  const wallToFirstFrameMs = Date.now() - t0;
  const attrs = await page.evaluate(() => ({ ...document.querySelector('#chart').dataset }));
  const heapMB = await page.evaluate(() => (performance.memory ? +(performance.memory.usedJSHeapSize / 1048576).toFixed(1) : null));
  const out = {
    scenario: label,
    candles: Number(attrs.candles),
    source: attrs.source,
    firstFrameMs: Number(attrs.firstFrameMs), // fetch/generation start -> first frame drawn
    navToFirstFrameMs: Number(attrs.firstFrameAt), // navigation start -> first frame drawn
    wallToFirstFrameMs, // as seen from the test process (includes polling)
    timing: attrs.timing ? JSON.parse(attrs.timing) : undefined,
    heapMB,
    sequences: {},
  };
  if (shotDir) {
    mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: join(shotDir, `${label}-initial.png`) });
  }
  for (const seq of ['latest-zoom-pan', 'full-extent']) {
    const r = await runSequence(page, seq);
    const fr = stats(r.frames);
    out.sequences[seq] = {
      steps: r.steps,
      frameMs: fr,
      fps: +(1000 / fr.mean).toFixed(1),
      drawMs: stats(r.draws),
      modes: r.modes,
      maxVisibleCandles: r.maxVisibleCandles,
    };
    if (shotDir) await page.screenshot({ path: join(shotDir, `${label}-${seq}.png`) });
  }
  out.heapMBAfter = await page.evaluate(() => (performance.memory ? +(performance.memory.usedJSHeapSize / 1048576).toFixed(1) : null));
  if (errors.length) out.pageErrors = errors;
  await page.close();
  return out;
}

const credentials = credentialsFromEnv();
let browser;
try {
  const playwright = webRequire('playwright-core');
  browser = await launchChromium(playwright, '');
  const results = [];
  results.push(await scenario(browser, 'spx-gateway', `${baseUrl}/?symbol=SPX`, 1000, credentials));
  for (const n of sizes) results.push(await scenario(browser, `synthetic-${n}`, `${baseUrl}/?bench=${n}`, n));
  const worstFps = (r) => Math.min(...Object.values(r.sequences).map((s) => s.fps));
  const big = results.filter((r) => r.candles >= 1_000_000);
  const summary = {
    firstCandleMsSpx: results[0].firstFrameMs,
    firstCandleTargetMs: 500,
    worstFpsAt1M: big.length ? Math.min(...big.map(worstFps)) : null,
    fpsTarget: 55,
  };
  summary.meetsTargets = summary.firstCandleMsSpx < 500 && (summary.worstFpsAt1M === null || summary.worstFpsAt1M >= 55);
  console.log(JSON.stringify({ ok: true, dpr, viewport: '1280x720', summary, results }));
  await browser.close();
} catch (e) {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  console.log(JSON.stringify({ ok: false, reason: String(e && e.message ? e.message.split('\n')[0] : e) }));
  process.exit(1);
}
