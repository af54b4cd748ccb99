/** Live bar feed over WebSocket /ws, with subscribe/unsubscribe and reconnect backoff. */
import type { LiveBar, WsMessage } from './types';

export type LiveState = 'connecting' | 'live' | 'offline';

export interface LiveStatus {
  state: LiveState;
  /** When offline: the delay chosen for the next attempt, and when (epoch ms) it fires. */
  retryInMs?: number;
  retryAt?: number;
  /** Close code of the last disconnect (1013: the server dropped us as a slow reader). */
  lastCloseCode?: number;
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
  private status: LiveStatus = { state: 'connecting', attempt: 0, subscribed: [] };

  constructor(
    private readonly url: string,
    private readonly h: LiveHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
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
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
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

  private connect(): void {
    if (this.stopped) return;
    this.timer = null;
    this.setStatus({ state: 'connecting', retryInMs: undefined, retryAt: undefined, attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect(undefined);
      return;
    }
    this.ws = ws;
    this.sent.clear();
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus({ state: 'live', attempt: 0, subscribed: [] });
      this.sync();
    };
    ws.onmessage = (ev) => {
      let msg: WsMessage;
      try {
        msg = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as WsMessage;
      } catch {
        return;
      }
      if (msg.type === 'bar' && 'bar' in msg && msg.bar && typeof msg.bar === 'object') {
        this.h.onBar(msg.bar as LiveBar);
      } else if (msg.type === 'subscribed' && Array.isArray((msg as { symbols?: unknown }).symbols)) {
        this.setStatus({ subscribed: (msg as { symbols: string[] }).symbols });
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.sent.clear();
      this.scheduleReconnect(ev.code);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(code: number | undefined): void {
    if (this.stopped) return;
    const delay = backoffMs(this.attempt++);
    this.setStatus({ state: 'offline', retryInMs: delay, retryAt: Date.now() + delay, lastCloseCode: code, attempt: this.attempt, subscribed: [] });
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
