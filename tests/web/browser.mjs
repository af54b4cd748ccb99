// Shared by the headless-Chromium scripts in tests/web: playwright-core from web/node_modules,
// the Chromium binary and flags, the base URL argument, and the one-JSON-line failure report.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const webDir = resolve(here, '../../web');
/** `require` resolving from web/ (where playwright-core is installed). */
export const webRequire = createRequire(resolve(webDir, 'package.json'));

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

const INSTALL_HINT = '; apt-get install -y chromium or set SEXTANT_CHROMIUM';

/** The Chromium binary: $SEXTANT_CHROMIUM, /usr/bin/chromium or /usr/lib/chromium/chromium. */
export function chromiumPath(hint = INSTALL_HINT) {
  const cands = [process.env.SEXTANT_CHROMIUM, '/usr/bin/chromium', '/usr/lib/chromium/chromium'].filter(Boolean);
  for (const p of cands) if (existsSync(p)) return p;
  throw new Error(`no Chromium found (tried ${cands.join(', ')})${hint}`);
}

/** The base URL: argv[2] or $SEXTANT_BASE_URL, without trailing slashes ('' when neither). */
export function baseUrlArg() {
  return (process.argv[2] || process.env.SEXTANT_BASE_URL || '').replace(/\/+$/, '');
}

export class Failure extends Error {
  constructor(reason, extra) {
    super(reason);
    this.extra = extra;
  }
}

/** Abort the run: reported (and the browser closed) by `reportError`. */
export function fail(reason, extra = {}) {
  throw new Failure(reason, extra);
}

/** Print `{ok: false, reason, ...extra}` as one JSON line and exit 1. */
export function report(reason, extra = {}) {
  console.log(JSON.stringify({ ok: false, reason, ...extra }));
  process.exit(1);
}

/** playwright-core from web/node_modules, or report how to install it. */
export function loadPlaywright() {
  try {
    return webRequire('playwright-core');
  } catch (e) {
    report(`playwright-core not installed in ${webDir}/node_modules (run npm ci in web/): ${e.message}`);
  }
}

/** Headless Chromium with CHROMIUM_ARGS. */
export function launchChromium(playwright, hint) {
  return playwright.chromium.launch({ executablePath: chromiumPath(hint), args: CHROMIUM_ARGS, headless: true });
}

/** Close `browser` (ignoring errors), then report `e`: a Failure as is, anything else by its first line. */
export async function reportError(e, browser, consoleErrors) {
  try {
    await browser?.close();
  } catch {
    /* ignore */
  }
  if (e instanceof Failure) report(e.message, e.extra);
  report(`error: ${e && e.message ? e.message.split('\n')[0] : e}`, { consoleErrors });
}

/**
 * A new page (1280 x `height`, DPR 1) that collects console errors and page errors into
 * `consoleErrors`, navigated to `${baseUrl}/?symbol=SPX`; fails unless the response is OK.
 */
export async function openSpxPage(browser, baseUrl, { height, timeout, consoleErrors }) {
  const page = await browser.newPage({ viewport: { width: 1280, height }, deviceScaleFactor: 1 });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const resp = await page.goto(`${baseUrl}/?symbol=SPX`, { waitUntil: 'domcontentloaded', timeout });
  if (!resp || !resp.ok()) fail(`GET ${baseUrl}/ returned ${resp ? resp.status() : 'no response'}`);
  return page;
}
