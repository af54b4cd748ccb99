import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LOGOUT_URL, REFRESH_TOKEN_KEY, Session, TOKEN_URL, type KeyValueStore, type User } from './auth';
import { ApiError } from './http';
import { JobWatcher } from './jobs';
import { LiveClient } from './live';

/** sessionStorage stand-in. */
class MemoryStore implements KeyValueStore {
  readonly map = new Map<string, string>();
  getItem(k: string): string | null {
    return this.map.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.map.set(k, v);
  }
  removeItem(k: string): void {
    this.map.delete(k);
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

/**
 * The gateway's auth contract at the network edge: password and refresh grants with rotating refresh
 * tokens (a spent one revokes the session), logout, and one protected route `/api/v1/thing`.
 */
class FakeGateway {
  private n = 0;
  valid = new Set<string>(); // access tokens the server accepts
  live = new Set<string>(); // unspent refresh tokens
  spent = new Set<string>();
  revoked = false;
  tokenCalls: URLSearchParams[] = [];
  thingAuth: (string | null)[] = [];
  logouts: unknown[] = [];
  /** Hold refresh answers until released (to make concurrent callers overlap). */
  gate: Promise<void> | null = null;
  thingStatus: number | null = null;
  expiresIn = 900;

  fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (input === TOKEN_URL) {
      const form = new URLSearchParams(String(init.body));
      this.tokenCalls.push(form);
      if (form.get('grant_type') === 'password') {
        if (form.get('password') === 'throttled') return json(429, { detail: 'too many attempts' }, { 'Retry-After': '7' });
        if (form.get('username') !== 'ada' || form.get('password') !== 'pw') return json(401, { detail: 'incorrect username or password' });
        this.revoked = false;
        return json(200, this.issue());
      }
      if (this.gate) await this.gate;
      const r = form.get('refresh_token') ?? '';
      if (this.spent.has(r)) this.revoked = true;
      if (this.revoked || !this.live.has(r)) return json(401, { detail: 'invalid refresh token' });
      this.live.delete(r);
      this.spent.add(r);
      return json(200, this.issue());
    }
    if (input === LOGOUT_URL) {
      this.logouts.push(JSON.parse(String(init.body)));
      return new Response(null, { status: 204 });
    }
    if (input === '/api/v1/thing') {
      const auth = headers.get('Authorization');
      this.thingAuth.push(auth);
      if (this.thingStatus) return json(this.thingStatus, { detail: 'forced' });
      const token = auth?.replace(/^Bearer /, '') ?? '';
      if (!this.valid.has(token)) return json(401, { detail: 'not authenticated' }, { 'WWW-Authenticate': 'Bearer' });
      return json(200, { ok: true });
    }
    return json(404, { detail: 'not found' });
  };

  private issue() {
    this.n++;
    const access = `access-${this.n}`;
    const refresh = `refresh-${this.n}`;
    this.valid.add(access);
    this.live.add(refresh);
    return { access_token: access, token_type: 'bearer', expires_in: this.expiresIn, refresh_token: refresh, refresh_expires_in: 1209600, username: 'ada', role: 'viewer' };
  }

  /** Server-side expiry of every access token issued so far. */
  expireAccess(): void {
    this.valid.clear();
  }

  refreshes(): number {
    return this.tokenCalls.filter((f) => f.get('grant_type') === 'refresh_token').length;
  }
}

function setup(now = () => 1_000_000) {
  const gw = new FakeGateway();
  const store = new MemoryStore();
  // Through a closure, so a test can swap gw.fetch afterwards.
  const session = new Session({ fetch: ((i: string, o?: RequestInit) => gw.fetch(i, o)) as typeof fetch, storage: store, now });
  const changes: [User | null, string | null][] = [];
  session.onChange((u, why) => changes.push([u, why]));
  return { gw, store, session, changes };
}

describe('Session', () => {
  it('signs in: the access token in memory only, the refresh token in storage, Bearer on calls', async () => {
    const { gw, store, session, changes } = setup();
    const user = await session.signIn('ada', 'pw');
    expect(user).toEqual({ username: 'ada', role: 'viewer' });
    expect(changes).toEqual([[{ username: 'ada', role: 'viewer' }, null]]);
    expect([...store.map.entries()]).toEqual([[REFRESH_TOKEN_KEY, 'refresh-1']]);
    const res = await session.authorizedFetch('/api/v1/thing');
    expect(res.status).toBe(200);
    expect(gw.thingAuth).toEqual(['Bearer access-1']);
    expect(gw.tokenCalls[0].toString()).toBe('grant_type=password&username=ada&password=pw');
  });

  it('rejects wrong credentials with the server detail and a 429 with the wait', async () => {
    const { store, session, changes } = setup();
    const wrong = await session.signIn('ada', 'nope').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ApiError);
    expect((wrong as ApiError).status).toBe(401);
    expect((wrong as ApiError).message).toBe('incorrect username or password');
    const many = (await session.signIn('ada', 'throttled').catch((e: unknown) => e)) as ApiError;
    expect(many.status).toBe(429);
    expect(many.message).toBe('too many attempts, try again in 7 s (too many attempts)');
    expect(many.retryAfterS).toBe(7);
    expect(session.user).toBeNull();
    expect(store.map.size).toBe(0);
    expect(changes).toEqual([]);
  });

  it('on a 401 refreshes once and retries once', async () => {
    const { gw, store, session } = setup();
    await session.signIn('ada', 'pw');
    gw.expireAccess();
    const res = await session.authorizedFetch('/api/v1/thing');
    expect(res.status).toBe(200);
    expect(gw.thingAuth).toEqual(['Bearer access-1', 'Bearer access-2']);
    expect(gw.refreshes()).toBe(1);
    expect(store.getItem(REFRESH_TOKEN_KEY)).toBe('refresh-2');
  });

  it('returns a second 401 as is instead of looping', async () => {
    const { gw, session } = setup();
    await session.signIn('ada', 'pw');
    gw.thingStatus = 401;
    const res = await session.authorizedFetch('/api/v1/thing');
    expect(res.status).toBe(401);
    expect(gw.thingAuth).toHaveLength(2);
    expect(gw.refreshes()).toBe(1);
  });

  it('passes a 403 through without refreshing', async () => {
    const { gw, session } = setup();
    await session.signIn('ada', 'pw');
    gw.thingStatus = 403;
    expect((await session.authorizedFetch('/api/v1/thing')).status).toBe(403);
    expect(gw.refreshes()).toBe(0);
  });

  it('shares one refresh among concurrent 401s (a second would spend a spent token)', async () => {
    const { gw, session } = setup();
    await session.signIn('ada', 'pw');
    gw.expireAccess();
    let release!: () => void;
    gw.gate = new Promise((r) => (release = r));
    const calls = Array.from({ length: 5 }, () => session.authorizedFetch('/api/v1/thing'));
    await vi.waitFor(() => expect(gw.refreshes()).toBe(1));
    release();
    const statuses = (await Promise.all(calls)).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(gw.refreshes()).toBe(1);
    expect(gw.revoked).toBe(false);
    expect(gw.thingAuth.filter((a) => a === 'Bearer access-2')).toHaveLength(5);
  });

  it('uses the token another call just refreshed instead of refreshing again', async () => {
    const { gw, session } = setup();
    await session.signIn('ada', 'pw');
    gw.expireAccess();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    // The first call's 401 arrives only after the second call has refreshed.
    const f = gw.fetch;
    let first = true;
    gw.fetch = async (input, init) => {
      const res = await f(input, init);
      if (input === '/api/v1/thing' && first) {
        first = false;
        await slow;
      }
      return res;
    };
    const a = session.authorizedFetch('/api/v1/thing');
    expect((await session.authorizedFetch('/api/v1/thing')).status).toBe(200);
    release();
    expect((await a).status).toBe(200);
    expect(gw.refreshes()).toBe(1);
  });

  it('refreshes shortly before the access token expires, without a 401', async () => {
    let t = 1_000_000;
    const { gw, session } = setup(() => t);
    await session.signIn('ada', 'pw');
    t += 869_000; // 900 s token, refreshed 30 s ahead
    await session.authorizedFetch('/api/v1/thing');
    expect(gw.refreshes()).toBe(0);
    t += 2_000;
    await session.authorizedFetch('/api/v1/thing');
    expect(gw.refreshes()).toBe(1);
    expect(gw.thingAuth).toEqual(['Bearer access-1', 'Bearer access-2']);
  });

  it('ends the session when the refresh is refused, telling listeners why', async () => {
    const { gw, store, session, changes } = setup();
    await session.signIn('ada', 'pw');
    gw.expireAccess();
    gw.revoked = true;
    const res = await session.authorizedFetch('/api/v1/thing');
    expect(res.status).toBe(401);
    expect(session.user).toBeNull();
    expect(store.map.size).toBe(0);
    expect(changes[1][0]).toBeNull();
    expect(changes[1][1]).toContain('session expired');
    await session.authorizedFetch('/api/v1/thing');
    expect(gw.thingAuth.at(-1)).toBeNull();
  });

  it('keeps the session when the refresh fails on the network', async () => {
    const { gw, store, session } = setup();
    await session.signIn('ada', 'pw');
    gw.expireAccess();
    const f = gw.fetch;
    gw.fetch = async (input, init) => {
      if (input === TOKEN_URL) throw new TypeError('Failed to fetch');
      return f(input, init);
    };
    const err = (await session.authorizedFetch('/api/v1/thing').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(0);
    expect(err.message).toContain('network error');
    expect(session.user).not.toBeNull();
    expect(store.getItem(REFRESH_TOKEN_KEY)).toBe('refresh-1');
  });

  it('resumes after a reload from the refresh token of this tab', async () => {
    const { gw, store, session } = setup();
    await session.signIn('ada', 'pw');
    const reloaded = new Session({ fetch: gw.fetch as typeof fetch, storage: store });
    expect(await reloaded.resume()).toEqual({ username: 'ada', role: 'viewer' });
    expect(store.getItem(REFRESH_TOKEN_KEY)).toBe('refresh-2');
    expect(await new Session({ fetch: gw.fetch as typeof fetch, storage: new MemoryStore() }).resume()).toBeNull();
  });

  it('signs out: logout with the refresh token, storage cleared, no token on later calls', async () => {
    const { gw, store, session, changes } = setup();
    await session.signIn('ada', 'pw');
    await session.signOut();
    expect(gw.logouts).toEqual([{ refresh_token: 'refresh-1' }]);
    expect(store.map.size).toBe(0);
    expect(session.user).toBeNull();
    expect(changes.at(-1)).toEqual([null, null]);
    const res = await session.authorizedFetch('/api/v1/thing');
    expect(res.status).toBe(401);
    expect(gw.thingAuth).toEqual([null]);
    expect(gw.refreshes()).toBe(0);
    expect(await session.wsAuthMessage()).toBeNull();
  });

  it('drops a refresh that was in flight when the user signed out', async () => {
    const { gw, store, session } = setup();
    await session.signIn('ada', 'pw');
    let release!: () => void;
    gw.gate = new Promise((r) => (release = r));
    const pending = session.refresh();
    await vi.waitFor(() => expect(gw.refreshes()).toBe(1));
    await session.signOut();
    release();
    expect(await pending).toBeNull();
    expect(session.user).toBeNull();
    expect(store.map.size).toBe(0);
  });
});

/** A WebSocket stand-in recording what the client sends; the test plays the server. */
class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
  reply(msg: unknown): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

describe('WebSocket auth', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', FakeSocket);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('live feed: auth first on every (re)connect, subscribe only once the server accepted it', async () => {
    const { gw, session } = setup();
    await session.signIn('ada', 'pw');
    const live = new LiveClient('ws://x/ws', (r) => session.wsAuthMessage(r), { onBar: () => {}, onStatus: () => {} });
    live.setSymbols(['SPX']);
    live.start();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    const ws = FakeSocket.all[0];
    ws.open();
    expect(ws.sent).toEqual([JSON.stringify({ auth: 'access-1' })]);
    ws.reply({ type: 'auth', username: 'ada', role: 'viewer' });
    expect(ws.sent.slice(1)).toEqual([JSON.stringify({ subscribe: ['SPX'] })]);

    ws.drop(1006);
    await vi.advanceTimersByTimeAsync(1000);
    const again = FakeSocket.all[1];
    again.open();
    expect(again.sent).toEqual([JSON.stringify({ auth: 'access-1' })]);

    // Closed for its token (1008): the next connection refreshes first.
    again.drop(1008, 'token expired');
    await vi.advanceTimersByTimeAsync(2000);
    const third = FakeSocket.all[2];
    third.open();
    expect(third.sent).toEqual([JSON.stringify({ auth: 'access-2' })]);
    expect(gw.refreshes()).toBe(1);
    live.stop();
  });

  it('live feed: no socket while signed out', async () => {
    const { session } = setup();
    const statuses: string[] = [];
    const live = new LiveClient('ws://x/ws', (r) => session.wsAuthMessage(r), { onBar: () => {}, onStatus: (s) => statuses.push(s.state) });
    live.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(0);
    expect(statuses).toEqual(['connecting', 'offline']);
    live.stop();
  });

  it('job watcher: auth first, then subscribe to the job channel', async () => {
    const { session } = setup();
    await session.signIn('ada', 'pw');
    const w = new JobWatcher('j1', 'ws://x/ws', (r) => session.wsAuthMessage(r), () => Promise.reject(new Error('unused')), { onEvent: () => {}, onCount: () => {} });
    const done = w.subscribe();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(1));
    const ws = FakeSocket.all[0];
    ws.open();
    expect(ws.sent).toEqual([JSON.stringify({ auth: 'access-1' })]);
    ws.reply({ type: 'auth', username: 'ada', role: 'viewer' });
    expect(ws.sent[1]).toBe(JSON.stringify({ subscribe: ['job:j1'] }));
    ws.reply({ type: 'subscribed', symbols: ['job:j1'] });
    await done;
    w.close();
  });
});
