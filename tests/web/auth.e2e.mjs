#!/usr/bin/env node
// Browser end-to-end check of signing in to the web terminal, as a viewer:
// no data before sign-in; a wrong password shows the server's error and loads nothing; after
// sign-in the chart loads with the token on every API call and as the first WebSocket message
// (never in a URL); a viewer's BACKTEST shows the 403 detail; sign-out clears the session.
//
//   node tests/web/auth.e2e.mjs <baseUrl>
//
// Env: SEXTANT_TEST_USERNAME / SEXTANT_TEST_PASSWORD (a user with the viewer role),
//      SEXTANT_CHROMIUM, SEXTANT_SCREENSHOT (optional PNG path: the form with the wrong-password
//      error), SEXTANT_E2E_TIMEOUT_MS (default 30000 per wait).
// Prints one JSON line; exit 0 on success, 1 on failure (with the reason).
import { e2eSetup, fail, launchChromium, openSpxPage, reportError, signIn, submitSignIn } from './browser.mjs';

const { baseUrl, timeout, shot, credentials, playwright } = e2eSetup('node tests/web/auth.e2e.mjs <baseUrl>');

const t0 = Date.now();
let browser;
const consoleErrors = [];

/** Every /api/ request of the page: path and whether it carried a bearer token. */
const apiCalls = [];
/** Every WebSocket the page opened: its URL and the frames it sent. */
const sockets = [];

const dataCalls = () => apiCalls.filter((c) => !c.path.startsWith('/api/v1/auth/'));
const chartAttrs = (page) => page.evaluate(() => ({ ...document.querySelector('#chart').dataset }));
const overlay = (page) =>
  page.evaluate(() => ({
    shown: !document.querySelector('#signin').hidden,
    focused: document.activeElement?.id ?? null,
    terminalInert: document.querySelector('main').hasAttribute('inert'),
    userShown: !document.querySelector('#user').hidden,
  }));
const storage = (page) => page.evaluate(() => ({ local: Object.keys(localStorage), session: Object.keys(sessionStorage) }));

try {
  browser = await launchChromium(playwright);
  const track = (page) => {
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/')) apiCalls.push({ path: u.pathname, bearer: /^Bearer \S+/.test(r.headers().authorization ?? '') });
    });
    page.on('websocket', (ws) => {
      const rec = { url: ws.url(), sent: [] };
      sockets.push(rec);
      ws.on('framesent', (f) => rec.sent.push(String(f.payload)));
    });
  };
  const page = await openSpxPage(browser, baseUrl, { height: 720, timeout, consoleErrors, before: track });

  // 1. No session: the sign-in form, focused, over an inert terminal; nothing loaded.
  await page.waitForSelector('#signin:not([hidden])', { timeout });
  const before = await overlay(page);
  if (before.focused !== 'signin-username' || !before.terminalInert || before.userShown) fail('sign-in form not shown as a modal with the user name focused', { before });

  // 2. A wrong password: the server's message on the form, still no data and no socket.
  const wrong = await submitSignIn(page, { username: credentials.username, password: `${credentials.password}-wrong` }, timeout);
  if (wrong.signedIn) fail('signed in with a wrong password', { wrong });
  if (!/incorrect username or password/i.test(wrong.error)) fail('wrong password: the error line does not say so', { wrong });
  if (shot) await page.screenshot({ path: shot });
  await page.waitForTimeout(1000);
  const afterWrong = { calls: dataCalls(), sockets: sockets.length, chart: await chartAttrs(page), storage: await storage(page) };
  if (afterWrong.calls.length || afterWrong.sockets || Number(afterWrong.chart.candles) !== 0 || afterWrong.storage.session.length) {
    fail('data was requested or kept before a successful sign-in', afterWrong);
  }

  // 3. The right password: the user in the header, the chart loads, every call signed.
  const ok = await signIn(page, credentials, timeout);
  try {
    await page.waitForFunction(
      () => {
        const el = document.querySelector('#chart');
        return el.dataset.symbol === 'SPX' && el.dataset.state === 'ready' && Number(el.dataset.candles) > 0;
      },
      null,
      { timeout, polling: 100 },
    );
  } catch {
    fail('the chart did not load after sign-in', { chart: await chartAttrs(page), calls: dataCalls(), consoleErrors });
  }
  const chart = await chartAttrs(page);
  const unsigned = dataCalls().filter((c) => !c.bearer);
  if (unsigned.length) fail('API calls without a bearer token', { unsigned });
  try {
    await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'live', null, { timeout, polling: 100 });
  } catch {
    fail('the live feed was not accepted (no auth answer on /ws)', { status: await page.textContent('#status'), sockets });
  }
  const feed = sockets.find((s) => new URL(s.url).pathname === '/ws');
  if (!feed || !feed.sent.length) fail('the live feed sent nothing on /ws', { sockets });
  const first = JSON.parse(feed.sent[0]);
  if (Object.keys(first).join() !== 'auth' || typeof first.auth !== 'string' || first.auth.length < 20) fail('the first /ws message is not {"auth": <token>}', { sent: feed.sent.slice(0, 3) });
  if (sockets.some((s) => new URL(s.url).search || s.url.includes(first.auth))) fail('a WebSocket URL carries a query (the token must not)', { urls: sockets.map((s) => s.url) });
  const signedInStorage = await storage(page);
  if (signedInStorage.local.length || signedInStorage.session.join() !== 'sextant.refresh_token') fail('tokens kept elsewhere than the refresh token in sessionStorage', { signedInStorage });
  const status = await page.textContent('#status');

  // 4. A viewer may not run a backtest: the 403 detail in the panel.
  await page.click('#cmd');
  await page.type('#cmd', 'BACKTEST SPX 50SMA.200EMA', { delay: 2 });
  await page.press('#cmd', 'Enter');
  try {
    await page.waitForFunction(() => document.querySelector('#panel').dataset.kind === 'error', null, { timeout, polling: 100 });
  } catch {
    fail('no error panel for a viewer backtest', { panel: await page.evaluate(() => ({ ...document.querySelector('#panel').dataset })) });
  }
  const forbidden = await page.textContent('#panel .panel-error');
  if (!forbidden.includes('403') || !forbidden.includes('researcher')) fail('the viewer backtest error is not the 403 detail', { forbidden });

  // 5. A reload resumes the session of this tab (no password asked).
  await page.reload({ waitUntil: 'domcontentloaded' });
  try {
    await page.waitForFunction(() => document.querySelector('#signin').hidden && Number(document.querySelector('#chart').dataset.candles) > 0, null, { timeout, polling: 100 });
  } catch {
    fail('a reload did not resume the session', { overlay: await overlay(page), chart: await chartAttrs(page) });
  }

  // 6. Sign out (from the keyboard): the form again, the data and the refresh token gone; a new
  // page of the same browser session does not get back in.
  const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/logout', { timeout });
  await page.focus('#signout');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#signin:not([hidden])', { timeout });
  const out = { overlay: await overlay(page), chart: await chartAttrs(page), storage: await storage(page), logoutStatus: (await logout).status() };
  if (out.overlay.userShown || Number(out.chart.candles) !== 0 || out.storage.session.length || out.logoutStatus !== 204) fail('sign-out left the session or its data behind', out);
  await page.reload({ waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#signin:not([hidden])', { timeout });

  console.log(
    JSON.stringify({
      ok: true,
      wrongPasswordError: wrong.error,
      username: ok.username,
      role: ok.role,
      candles: Number(chart.candles),
      status,
      wsFirstMessage: Object.keys(first),
      apiCalls: dataCalls().length,
      forbidden,
      consoleErrors,
      elapsed: (Date.now() - t0) / 1000,
    }),
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  await reportError(e, browser, consoleErrors);
}
