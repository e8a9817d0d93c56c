/** Retry timing of `createClient` (README "Caller kit"). */
export interface RetryOptions {
  /** Attempts in all, the first one included. Default 3. */
  maxAttempts?: number;
  /** First backoff ceiling, and the most jitter added to a Retry-After wait. Default 200. */
  baseDelayMs?: number;
  /** Longest wait; a Retry-After beyond it is not waited for: the request fails at once. Default 5000. */
  maxDelayMs?: number;
}

export type RetryTiming = Required<RetryOptions>;

/**
 * Exponential backoff with full jitter (uniform in [0, min(max, base·2^(n-1)))): callers that
 * failed together spread out instead of coming back together.
 */
export function backoffDelay(retry: number, timing: RetryTiming, random: () => number): number {
  const ceiling = Math.min(timing.maxDelayMs, timing.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before the next attempt for an answer that said how long to wait: that long plus
 * up to `baseDelayMs` of jitter, or undefined when the wait exceeds `maxDelayMs` (then the
 * caller is better served by failing now than by hanging on).
 */
export function retryAfterDelay(retryAfterMs: number, timing: RetryTiming, random: () => number): number | undefined {
  if (retryAfterMs > timing.maxDelayMs) return undefined;
  return retryAfterMs + Math.floor(random() * timing.baseDelayMs);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
