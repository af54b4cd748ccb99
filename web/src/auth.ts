/**
 * The signed-in session of the web terminal (OAuth2 password grant against the gateway).
 *
 * - `signIn` exchanges a user name and password for a short-lived access token (JWT, ~15 min) and a
 *   rotating refresh token; `resume` picks the session up again after a reload.
 * - `authorizedFetch` adds `Authorization: Bearer` to every API call, refreshes the access token
 *   shortly before it expires, and on a 401 refreshes once and retries once.
 * - `wsAuthMessage` is the first message of every `/ws` connection (`{"auth": "<token>"}`): the token
 *   never goes into a URL, where proxies and access logs would keep it.
 * - Concurrent callers share one refresh: the refresh token rotates on every use and the server
 *   revokes the whole session when a spent one comes back, so two refreshes must never race.
 * - `signOut` revokes the refresh token on the server and forgets both tokens.
 */
import { ApiError, errorFromResponse, networkError } from './http';

export interface User {
  username: string;
  /** viewer | researcher | admin */
  role: string;
}

/** The 200 answer of POST /api/v1/auth/token (both grants). */
export interface TokenAnswer extends User {
  access_token: string;
  token_type: string;
  /** Access token lifetime, seconds. */
  expires_in: number;
  refresh_token: string;
  /** Refresh token lifetime, seconds. */
  refresh_expires_in: number;
}

/** The part of the Web Storage API the session uses (sessionStorage in the page, a fake in tests). */
export type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface SessionOptions {
  /** Default: the page's `fetch`. */
  fetch?: typeof fetch;
  /** Where the refresh token is kept. Default: `sessionStorage`. */
  storage?: KeyValueStore;
  /** Clock, epoch ms. Default: `Date.now`. */
  now?: () => number;
}

/** Called when the user signs in (user) or the session ends (null, with why it ended when it was not
 * the user's own sign-out: shown on the sign-in form). */
export type SessionListener = (user: User | null, why: string | null) => void;

export const TOKEN_URL = '/api/v1/auth/token';
export const LOGOUT_URL = '/api/v1/auth/logout';
export const REFRESH_TOKEN_KEY = 'sextant.refresh_token';
/** Refresh this long before the access token expires (at most a quarter of its lifetime), ms. */
const REFRESH_AHEAD_MS = 30_000;

/** Whether a `/ws` message is the server's answer to the auth message. */
export function isAuthReply(msg: unknown): msg is { type: 'auth' } & User {
  return !!msg && typeof msg === 'object' && (msg as { type?: unknown }).type === 'auth';
}

export class Session {
  /** In memory only: gone on reload, never readable from storage. */
  private access: string | null = null;
  /** When to refresh the access token (epoch ms): shortly before it expires. */
  private refreshAt = 0;
  private current: User | null = null;
  private refreshing: Promise<string | null> | null = null;
  /** Bumped whenever the session starts or ends, so a refresh that was in flight then is dropped. */
  private epoch = 0;
  private readonly listeners = new Set<SessionListener>();

  constructor(private readonly opts: SessionOptions = {}) {}

  /** The signed-in user, or null. */
  get user(): User | null {
    return this.current;
  }

  /** Follow sign-in and sign-out; returns the unsubscribe function. */
  onChange(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Password grant. Resolves to the user; rejects with an ApiError whose message is the server's
   * ("incorrect username or password"; a 429 says how long to wait), or status 0 on a network error.
   */
  async signIn(username: string, password: string): Promise<User> {
    const answer = await this.grant(new URLSearchParams({ grant_type: 'password', username, password }));
    this.epoch++;
    this.accept(answer);
    return this.current!;
  }

  /**
   * Resume the session of this tab after a reload, from its stored refresh token. Resolves to the
   * user, or null when there is nothing to resume (or the token is no longer valid); rejects only
   * when the server could not answer (the token is kept for the next try).
   */
  async resume(): Promise<User | null> {
    if (!this.refreshToken()) return null;
    return (await this.refresh()) ? this.current : null;
  }

  /**
   * A new access token from the refresh token, one request however many callers ask at once.
   * Resolves to the token, or null when there is no session or the server refused the refresh (the
   * session is then over and listeners are told); rejects on a network or server error.
   */
  refresh(): Promise<string | null> {
    this.refreshing ??= this.rotate().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Revoke the refresh token on the server (best effort) and forget both tokens. */
  async signOut(): Promise<void> {
    const refreshToken = this.refreshToken();
    const access = this.access;
    this.end(null);
    if (!refreshToken) return;
    try {
      await this.fetch(LOGOUT_URL, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(access ? { Authorization: `Bearer ${access}` } : {}) },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
    } catch {
      // Unreachable server: this tab has forgotten the tokens already; the refresh token then
      // lapses on its own (refresh_expires_in).
    }
  }

  /**
   * `fetch` with the access token. On a 401 the token is refreshed once (or the one another call
   * just got is used) and the call retried once; a second 401, or no session, is returned as is.
   * `init.body` must be replayable (a string, not a stream).
   */
  async authorizedFetch(input: string, init: RequestInit = {}): Promise<Response> {
    const token = await this.accessToken();
    const res = await this.fetchWith(input, init, token);
    if (res.status !== 401 || !token) return res;
    const next = this.access && this.access !== token ? this.access : await this.refresh();
    return next ? this.fetchWith(input, init, next) : res;
  }

  /**
   * The first message to send on a new `/ws` connection, or null when signed out. After the server
   * closed the previous connection for its token (1008), pass `afterRejection` to refresh first.
   */
  async wsAuthMessage(afterRejection = false): Promise<string | null> {
    const token = afterRejection ? await this.refresh() : await this.accessToken();
    return token ? JSON.stringify({ auth: token }) : null;
  }

  // ---------------------------------------------------------------- internals

  private fetch(input: string, init: RequestInit): Promise<Response> {
    // Called as a plain function: the browser's fetch refuses a `this` other than the window.
    const f = this.opts.fetch ?? ((i: string, o: RequestInit) => fetch(i, o));
    return f(input, init);
  }

  /**
   * The refresh token lives in sessionStorage: it survives a reload of this tab (so a reload does
   * not ask for the password again) but is not shared with other tabs (each tab rotates its own;
   * a shared one would be spent by one tab and revoke the session when the other presented it)
   * and is dropped when the tab closes. Never localStorage: that outlives the browser session on
   * disk and is shared by every tab. The access token stays in memory only.
   */
  private get store(): KeyValueStore {
    return this.opts.storage ?? sessionStorage;
  }

  private refreshToken(): string | null {
    return this.store.getItem(REFRESH_TOKEN_KEY);
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** A usable access token: the current one, refreshed when it is about to expire; null when signed out. */
  private async accessToken(): Promise<string | null> {
    if (this.access && this.now() < this.refreshAt) return this.access;
    if (!this.access && !this.refreshToken()) return null;
    return this.refresh();
  }

  private fetchWith(input: string, init: RequestInit, token: string | null): Promise<Response> {
    const headers = new Headers(init.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return this.fetch(input, { ...init, headers }).catch((e: unknown) => {
      throw networkError(e);
    });
  }

  private async rotate(): Promise<string | null> {
    const refreshToken = this.refreshToken();
    if (!refreshToken) {
      this.end('session expired: sign in again');
      return null;
    }
    const epoch = this.epoch;
    let answer: TokenAnswer;
    try {
      answer = await this.grant(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }));
    } catch (e) {
      if (epoch !== this.epoch) return this.access; // signed out (or in again) meanwhile
      // 400/401: expired, revoked or already spent. Anything else (network, 5xx, 429) may pass.
      if (e instanceof ApiError && (e.status === 400 || e.status === 401)) {
        this.end(`session expired: sign in again (${e.message})`);
        return null;
      }
      throw e;
    }
    if (epoch !== this.epoch) return this.access;
    this.accept(answer);
    return this.access;
  }

  private async grant(form: URLSearchParams): Promise<TokenAnswer> {
    let res: Response;
    try {
      res = await this.fetch(TOKEN_URL, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body: form.toString(),
      });
    } catch (e) {
      throw networkError(e);
    }
    if (!res.ok) throw await errorFromResponse(res, 'too many attempts');
    const answer = (await res.json()) as TokenAnswer;
    if (!answer || typeof answer.access_token !== 'string' || typeof answer.refresh_token !== 'string') {
      throw new ApiError(res.status, 'malformed token answer');
    }
    return answer;
  }

  private accept(a: TokenAnswer): void {
    const lifetimeMs = Math.max(0, Number(a.expires_in) || 0) * 1000;
    this.access = a.access_token;
    this.refreshAt = this.now() + lifetimeMs - Math.min(REFRESH_AHEAD_MS, lifetimeMs / 4);
    this.store.setItem(REFRESH_TOKEN_KEY, a.refresh_token);
    const was = this.current;
    this.current = { username: a.username, role: a.role };
    if (!was || was.username !== a.username || was.role !== a.role) this.emit(null);
  }

  private end(why: string | null): void {
    const was = this.current;
    this.epoch++;
    this.access = null;
    this.refreshAt = 0;
    this.current = null;
    this.store.removeItem(REFRESH_TOKEN_KEY);
    if (was) this.emit(why);
  }

  private emit(why: string | null): void {
    for (const l of [...this.listeners]) l(this.current, why);
  }
}

/** The page's session, used by api.ts for every call and by the WebSocket clients. */
export const session = new Session();
