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
 * `before(page)`, when given, runs before the navigation (e.g. to record requests).
 */
export async function openSpxPage(browser, baseUrl, { height, timeout, consoleErrors, before }) {
  const page = await browser.newPage({ viewport: { width: 1280, height }, deviceScaleFactor: 1 });
  before?.(page);
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const resp = await page.goto(`${baseUrl}/?symbol=SPX`, { waitUntil: 'domcontentloaded', timeout });
  if (!resp || !resp.ok()) fail(`GET ${baseUrl}/ returned ${resp ? resp.status() : 'no response'}`);
  return page;
}

/**
 * The common start of an end-to-end script: the base URL (else exit with `usage`), the timeout per
 * wait ($SEXTANT_E2E_TIMEOUT_MS, default 30 s), the optional screenshot path ($SEXTANT_SCREENSHOT),
 * the test user and playwright-core.
 */
export function e2eSetup(usage) {
  const baseUrl = baseUrlArg();
  if (!baseUrl) report(`usage: ${usage}`);
  return {
    baseUrl,
    timeout: Number(process.env.SEXTANT_E2E_TIMEOUT_MS || 30000),
    shot: process.env.SEXTANT_SCREENSHOT || '',
    credentials: credentialsFromEnv(),
    playwright: loadPlaywright(),
  };
}

/** The test user: $SEXTANT_TEST_USERNAME and $SEXTANT_TEST_PASSWORD (the stack fixture's users). */
export function credentialsFromEnv() {
  const username = process.env.SEXTANT_TEST_USERNAME || '';
  const password = process.env.SEXTANT_TEST_PASSWORD || '';
  if (!username || !password) report('set SEXTANT_TEST_USERNAME and SEXTANT_TEST_PASSWORD to a user of the gateway');
  return { username, password };
}

/**
 * Fill the sign-in overlay like a user (type both fields, Enter) and wait for its answer.
 * Resolves to `{signedIn, error, username, role}`: signed in (the overlay gone, the user in the
 * header) or refused (the overlay still up with its error line).
 */
export async function submitSignIn(page, { username, password }, timeout) {
  await page.waitForSelector('#signin:not([hidden])', { timeout });
  await page.fill('#signin-username', '');
  await page.type('#signin-username', username, { delay: 2 });
  await page.fill('#signin-password', '');
  await page.type('#signin-password', password, { delay: 2 });
  await page.press('#signin-password', 'Enter');
  await page.waitForFunction(
    () => {
      const s = document.querySelector('#signin');
      return (s.hidden && !document.querySelector('#user').hidden) || s.dataset.state === 'error';
    },
    null,
    { timeout, polling: 50 },
  );
  return page.evaluate(() => ({
    signedIn: document.querySelector('#signin').hidden,
    error: document.querySelector('#signin-error').textContent,
    username: document.querySelector('#user').dataset.username,
    role: document.querySelector('#user').dataset.role,
  }));
}

/** Sign in through the overlay; fails the run when the form refuses. */
export async function signIn(page, credentials, timeout) {
  const r = await submitSignIn(page, credentials, timeout);
  if (!r.signedIn) fail(`sign-in as ${credentials.username} refused: ${r.error}`, r);
  return r;
}
