/** Errors of gateway HTTP answers: the status, the server's detail, and how long a 429 asks to wait. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** For a 429: seconds until a retry may succeed (Retry-After), when the server said. */
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** Human-readable text of a FastAPI-style error body: {"detail": "..."} or {"detail": [{loc, msg}, ...]}. */
export function errorDetail(body: unknown, fallback: string): string {
  if (body && typeof body === 'object' && 'detail' in body) {
    const d = (body as { detail: unknown }).detail;
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) {
      const parts = d.map((e) => {
        if (e && typeof e === 'object') {
          const msg = String((e as { msg?: unknown }).msg ?? JSON.stringify(e));
          const loc = (e as { loc?: unknown }).loc;
          const where = Array.isArray(loc) ? loc.filter((x) => x !== 'query' && x !== 'body').join('.') : '';
          return where ? `${where}: ${msg}` : msg;
        }
        return String(e);
      });
      if (parts.length) return parts.join('; ');
    }
    if (d != null) return JSON.stringify(d);
  }
  return fallback;
}

/**
 * Seconds to wait before retrying a 429, rounded up: `Retry-After` (delay-seconds or an HTTP date),
 * else `RateLimit-Reset` (seconds); undefined when neither header says.
 */
export function retryAfterSeconds(headers: Headers, nowMs: number = Date.now()): number | undefined {
  const ra = headers.get('Retry-After')?.trim();
  if (ra) {
    if (/^\d+(\.\d+)?$/.test(ra)) return Math.ceil(Number(ra));
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, Math.ceil((at - nowMs) / 1000));
  }
  const reset = Number(headers.get('RateLimit-Reset') ?? NaN);
  return Number.isFinite(reset) && reset >= 0 ? Math.ceil(reset) : undefined;
}

/**
 * The ApiError for a non-OK answer: the server's detail, except that a 429 reads
 * "<limitText>, try again in N s" (with the detail in brackets when there is one).
 */
export async function errorFromResponse(res: Response, limitText = 'quota reached'): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const detail = errorDetail(body, res.statusText || 'request failed');
  if (res.status !== 429) return new ApiError(res.status, detail);
  const wait = retryAfterSeconds(res.headers);
  const when = wait === undefined ? 'try again later' : `try again in ${wait} s`;
  const extra = errorDetail(body, '');
  return new ApiError(429, `${limitText}, ${when}${extra ? ` (${extra})` : ''}`, wait);
}

/** A rejected fetch (no HTTP answer) as an ApiError with status 0; an abort or an ApiError as is. */
export function networkError(e: unknown): Error {
  if (e instanceof ApiError || (e as Error).name === 'AbortError') return e as Error;
  return new ApiError(0, `network error: ${(e as Error).message}`);
}
