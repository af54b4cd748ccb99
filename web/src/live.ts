/** Live bar feed over WebSocket /ws: auth first, then subscribe/unsubscribe; reconnect with backoff. */
import { isAuthReply } from './auth';
import type { LiveBar, WsMessage } from './types';

export type LiveState = 'connecting' | 'live' | 'offline';

export interface LiveStatus {
  state: LiveState;
  /** When offline: the delay chosen for the next attempt, and when (epoch ms) it fires. */
  retryInMs?: number;
  retryAt?: number;
  /** Close code of the last disconnect (1013: the server dropped us as a slow reader; 1008: it
   * refused our token), and its reason. */
  lastCloseCode?: number;
  lastCloseReason?: string;
  attempt: number;
  subscribed: string[];
}

/** Exponential backoff with jitter: 0.5 s, 1 s, 2 s, ... capped at 15 s; random in [50%, 100%]. */
export function backoffMs(attempt: number, rand: () => number = Math.random, baseMs = 500, capMs = 15_000): number {
  const full = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(full * (0.5 + 0.5 * rand()));
}

export function wsUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

/** The first message of a connection (`Session.wsAuthMessage`); null when signed out. `afterRejection`:
 * the server closed the previous connection for its token (1008), so get a fresh one. */
export type WsAuth = (afterRejection: boolean) => Promise<string | null>;

export interface LiveHandlers {
  onBar(bar: LiveBar): void;
  onStatus(s: LiveStatus): void;
}

export class LiveClient {
  private ws: WebSocket | null = null;
  private wanted = new Set<string>();
  private sent = new Set<string>();
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  /** The server confirmed our auth message on the current connection. */
  private authed = false;
  /** The last connection was closed for its token (1008). */
  private rejected = false;
  /** Bumped by every connect and stop: a connect that awaited its token checks it is still current. */
  private generation = 0;
  private status: LiveStatus = { state: 'connecting', attempt: 0, subscribed: [] };

  constructor(
    private readonly url: string,
    private readonly auth: WsAuth,
    private readonly h: LiveHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000);
    this.ws = null;
  }

  /** Replace the subscription set: unsubscribe what is no longer wanted, then subscribe the new. */
  setSymbols(symbols: string[]): void {
    this.wanted = new Set(symbols);
    this.sync();
  }

  private setStatus(p: Partial<LiveStatus>): void {
    this.status = { ...this.status, ...p };
    this.h.onStatus(this.status);
  }

  private send(msg: unknown): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private sync(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.authed) return;
    const drop = [...this.sent].filter((s) => !this.wanted.has(s));
    const add = [...this.wanted].filter((s) => !this.sent.has(s));
    if (drop.length) {
      this.send({ unsubscribe: drop });
      for (const s of drop) this.sent.delete(s);
    }
    if (add.length) {
      this.send({ subscribe: add });
      for (const s of add) this.sent.add(s);
    }
    if (drop.length && !add.length) this.setStatus({ subscribed: [...this.sent] });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.timer = null;
    this.setStatus({ state: 'connecting', retryInMs: undefined, retryAt: undefined, attempt: this.attempt });
    let auth: string | null = null;
    try {
      auth = await this.auth(this.rejected);
    } catch {
      /* no token now (network): retried with backoff */
    }
    if (generation !== this.generation) return;
    this.rejected = false;
    if (!auth) {
      this.scheduleReconnect(undefined);
      return;
    }
    const first = auth;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect(undefined);
      return;
    }
    this.ws = ws;
    this.sent.clear();
    this.authed = false;
    ws.onopen = () => ws.send(first); // before anything else, on every (re)connect
    ws.onmessage = (ev) => {
      let msg: WsMessage;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as WsMessage;
      } catch {
        return;
      }
      if (isAuthReply(msg)) {
        this.authed = true;
        this.attempt = 0;
        this.setStatus({ state: 'live', attempt: 0, subscribed: [] });
        this.sync();
      } else if (msg.type === 'bar' && 'bar' in msg && msg.bar && typeof msg.bar === 'object') {
        this.h.onBar(msg.bar as LiveBar);
      } else if (msg.type === 'subscribed' && Array.isArray((msg as { symbols?: unknown }).symbols)) {
        this.setStatus({ subscribed: (msg as { symbols: string[] }).symbols });
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.sent.clear();
      this.authed = false;
      this.rejected = ev.code === 1008;
      this.scheduleReconnect(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(code: number | undefined, reason?: string): void {
    if (this.stopped) return;
    const delay = backoffMs(this.attempt++);
    this.setStatus({ state: 'offline', retryInMs: delay, retryAt: Date.now() + delay, lastCloseCode: code, lastCloseReason: reason, attempt: this.attempt, subscribed: [] });
    this.timer = setTimeout(() => void this.connect(), delay);
  }
}
