import type { RetrySettings } from '../config/types';
import type { Upstream } from '../upstreams/upstream';

/** What ended an attempt that may be retried on another target. */
export type RetryReason = 'not-forwarded' | 'connection-lost' | 'timeout' | 'status' | 'other';

/**
 * The retry rules (docs/failover.md): nothing forwarded (refused, connect timeout, TLS)
 * → any method; forwarded → only an idempotent or keyed request, and only after a lost
 * connection or a failureStatuses answer (before any byte of it went to the caller),
 * or a timeout with `onTimeout: true`. A POST without a key is never sent twice.
 */
export function allowsRetry(reason: RetryReason, forwarded: boolean, idempotentOrKeyed: boolean, settings: RetrySettings): boolean {
  if (!forwarded) return true;
  if (!idempotentOrKeyed) return false;
  if (reason === 'timeout') return settings.onTimeout;
  return reason === 'connection-lost' || reason === 'status';
}

/**
 * The retry budget: retries in flight stay ≤ max(minRetryConcurrency, budgetPercent % of the
 * upstream's requests in flight), so that when every target fails, retries cannot multiply
 * the load on them.
 */
export function budgetAllows(u: Upstream): boolean {
  const r = u.config.retry;
  return u.retriesInFlight + 1 <= Math.max(r.minRetryConcurrency, Math.floor((r.budgetPercent * u.requestsInFlight) / 100));
}
