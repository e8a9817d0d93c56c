import { trimBaseUrl } from './base-url.js';
import { backoffDelay, retryAfterDelay, sleep, type RetryOptions, type RetryTiming } from './backoff.js';
import { ProblemError, readProblem, retryAfterMs, type Problem } from './problem.js';
import { createRetryBudget, type BudgetOptions, type RetryBudget } from './retry-budget.js';

/** Options of `createClient` (README "Caller kit"). */
export interface ClientOptions {
  /** Where the gateway is, e.g. `http://127.0.0.1:8080`; `''` in a browser means this page's origin. */
  baseUrl: string;
  retry?: RetryOptions;
  /** The retry budget shared by every request of this client. */
  budget?: BudgetOptions;
  /** Per attempt: how long to wait for the response headers. Default 15000, above the gateway's own 10 s default so its UPSTREAM_TIMEOUT arrives first. */
  timeoutMs?: number;
  /** Headers sent with every request (a request's own win). */
  headers?: Record<string, string>;
  /** The fetch to use; default the global one. */
  fetch?: typeof fetch;
  /** Source of randomness for jitter and keys' tests; default Math.random. */
  random?: () => number;
  /** Told before each retry is waited for (logs, a "retrying…" hint in a UI). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** The attempt that is about to be made (2 for the first retry). */
  attempt: number;
  delayMs: number;
  method: string;
  path: string;
  /** The problem of the failed attempt; absent after a network error. */
  problem?: Problem;
  /** The network error of the failed attempt. */
  error?: unknown;
}

/** `fetch`'s init, plus the kit's own members. */
export interface ClientRequestInit extends RequestInit {
  /** Sends `Idempotency-Key`: this string, or a generated one for `true`; the same on every attempt. */
  idempotencyKey?: string | true;
  /** Overrides the client's per-attempt `timeoutMs`. */
  timeoutMs?: number;
}

export interface Client {
  /**
   * Sends a request through the gateway. Resolves with the `Response` of any answer that is not
   * a gateway problem (an upstream's 4xx and 5xx included); rejects with `ProblemError` for a
   * problem that is not retried, with the caller's abort reason when its signal aborts, or with
   * the network error of the last attempt when no answer came.
   */
  request(path: string, init?: ClientRequestInit): Promise<Response>;
  /** The shared retry budget (read `budget.available`). */
  readonly budget: Pick<RetryBudget, 'available'>;
}

/** RFC 9110 §9.2.2: repeating these has the effect of sending them once. */
const IDEMPOTENT = ['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'];

/** A caller-side implementation of the gateway's error contract: retries only what a problem's members allow. */
export function createClient(options: ClientOptions): Client {
  const timing: RetryTiming = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000, ...options.retry };
  const budget = createRetryBudget(options.budget);
  const random = options.random ?? Math.random;
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = trimBaseUrl(options.baseUrl);

  async function request(path: string, init: ClientRequestInit = {}): Promise<Response> {
    const { idempotencyKey, timeoutMs = options.timeoutMs ?? 15000, signal, ...rest } = init;
    const method = (rest.method ?? 'GET').toUpperCase();
    const headers = new Headers(options.headers);
    new Headers(rest.headers).forEach((value, name) => headers.set(name, value));
    if (idempotencyKey !== undefined) headers.set('Idempotency-Key', idempotencyKey === true ? generateKey(random) : idempotencyKey);
    // Without an answer nobody can tell whether a POST took effect: only a request that may be
    // repeated safely is sent again then.
    const repeatable = IDEMPOTENT.includes(method) || headers.has('Idempotency-Key');
    // A stream can be read once: its request gets one attempt.
    const once = typeof ReadableStream !== 'undefined' && rest.body instanceof ReadableStream;
    const url = /^[a-z][a-z0-9+.-]*:/i.test(path) ? path : `${base}${path.startsWith('/') ? '' : '/'}${path}`;

    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      const last = once || attempt >= timing.maxAttempts;
      let res: Response;
      try {
        res = await attemptOnce(url, { ...rest, method, headers }, timeoutMs, signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (last || !repeatable || !budget.take()) throw error;
        await wait({ attempt: attempt + 1, delayMs: backoffDelay(attempt, timing, random), method, path, error }, signal);
        continue;
      }
      const problem = await readProblem(res);
      if (!problem) {
        if (res.status < 500) budget.success();
        return res;
      }
      if (!problem.retryable || last) throw new ProblemError(problem, res, attempt);
      const after = retryAfterMs(res.headers.get('retry-after'), problem);
      const delayMs = after === undefined ? backoffDelay(attempt, timing, random) : retryAfterDelay(after, timing, random);
      if (delayMs === undefined || !budget.take()) throw new ProblemError(problem, res, attempt);
      await res.body?.cancel().catch(() => undefined);
      await wait({ attempt: attempt + 1, delayMs, method, path, problem }, signal);
    }
  }

  function wait(info: RetryInfo, signal: AbortSignal | null | undefined): Promise<void> {
    options.onRetry?.(info);
    return sleep(info.delayMs, signal);
  }

  /**
   * One fetch with its own deadline for the response headers. A timer rather than
   * AbortSignal.timeout(): the deadline must end when the headers arrive, or a large body
   * read slowly by the caller would be cut off by it.
   */
  async function attemptOnce(url: string, init: RequestInit, timeoutMs: number, signal: AbortSignal | null | undefined): Promise<Response> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException(`no response headers within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    try {
      return await doFetch(url, { ...init, signal: controller.signal });
    } catch (err) {
      if (!signal?.aborted) signal?.removeEventListener('abort', onAbort);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  return { request, budget };
}

/** A random key (UUID v4 layout) from getRandomValues, which, unlike randomUUID, also works on plain-http pages. */
export function generateKey(random: () => number = Math.random): string {
  const bytes = new Uint8Array(16);
  if (globalThis.crypto?.getRandomValues) globalThis.crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(random() * 256);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
