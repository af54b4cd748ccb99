/** Follows one job: WebSocket `job:<id>` events (subscribed before the job is submitted), with a
 * slow HTTP poll as a fallback when the socket is silent. Events are applied monotonically. */
import { isAuthReply } from './auth';
import type { WsAuth } from './live';
import type { JobEventWire, JobStatus } from './results';

const RANK: Record<JobStatus, number> = { queued: 0, running: 1, succeeded: 2, failed: 2 };

export function isTerminal(s: JobStatus | string | undefined): boolean {
  return s === 'succeeded' || s === 'failed';
}

/** Whether `next` should replace `cur` (never go back from running to queued, or past a final state). */
export function newer(cur: JobEventWire | null, next: JobEventWire): boolean {
  if (!cur) return true;
  if (isTerminal(cur.status)) return false;
  const a = RANK[cur.status] ?? 0;
  const b = RANK[next.status] ?? 0;
  return b > a || (b === a && (next.progress ?? 0) >= (cur.progress ?? 0));
}

export interface JobWatchHandlers {
  /** A new state (from the socket or from HTTP). */
  onEvent(ev: JobEventWire): void;
  /** A job event arrived on the socket (counted even when stale or duplicate). */
  onCount(wsEvents: number): void;
}

export class JobWatcher {
  private ws: WebSocket | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private lastWsAt = 0;
  private closed = false;
  current: JobEventWire | null = null;
  wsEvents = 0;

  constructor(
    readonly jobId: string,
    private readonly url: string,
    private readonly auth: WsAuth,
    private readonly fetchState: (jobId: string) => Promise<JobEventWire>,
    private readonly h: JobWatchHandlers,
    private readonly pollMs = 1500,
    private readonly silentMs = 4000,
  ) {}

  /** Open the socket, authenticate, subscribe; resolves once the server confirmed (or after `timeoutMs`). */
  async subscribe(timeoutMs = 3000): Promise<void> {
    const channel = `job:${this.jobId}`;
    let auth: string | null = null;
    try {
      auth = await this.auth(false);
    } catch {
      /* no token now: the HTTP poll follows the job */
    }
    if (!auth || this.closed) return;
    const first = auth;
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          resolve();
        }
      };
      setTimeout(finish, timeoutMs);
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url);
      } catch {
        finish();
        return;
      }
      this.ws = ws;
      ws.onopen = () => ws.send(first);
      ws.onmessage = (m) => {
        let msg: { type?: string; symbols?: unknown; event?: JobEventWire };
        try {
          msg = JSON.parse(typeof m.data === 'string' ? m.data : '');
        } catch {
          return;
        }
        if (isAuthReply(msg)) ws.send(JSON.stringify({ subscribe: [channel] }));
        else if (msg.type === 'subscribed' && Array.isArray(msg.symbols) && msg.symbols.includes(channel)) finish();
        else if (msg.type === 'job' && msg.event && msg.event.job_id === this.jobId) {
          this.wsEvents++;
          this.lastWsAt = Date.now();
          this.h.onCount(this.wsEvents);
          this.apply(msg.event);
        }
      };
      ws.onclose = () => finish();
      ws.onerror = () => finish();
    });
  }

  /** Start the fallback poll (after the submit). */
  startPolling(): void {
    if (this.closed || this.pollTimer) return;
    this.lastWsAt = Date.now();
    this.pollTimer = setInterval(() => {
      if (this.closed || Date.now() - this.lastWsAt < this.silentMs) return;
      this.fetchState(this.jobId).then(
        (ev) => this.apply(ev),
        () => {},
      );
    }, this.pollMs);
  }

  apply(ev: JobEventWire): void {
    if (this.closed || !newer(this.current, ev)) return;
    this.current = ev;
    if (isTerminal(ev.status) && ev.status === 'succeeded' && !ev.result) {
      // A final event without the result: fetch it.
      this.fetchState(this.jobId).then(
        (full) => {
          if (!this.closed) {
            this.current = full;
            this.h.onEvent(full);
            this.close();
          }
        },
        () => {},
      );
      this.h.onEvent({ ...ev, status: 'running', progress: 1, message: 'fetching result' });
      return;
    }
    this.h.onEvent(ev);
    if (isTerminal(ev.status)) this.close();
  }

  close(): void {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        /* ignore */
      }
    }
  }
}
