import type { CountRow, MessageStatus, QueueMessage } from './store';
import { MESSAGE_STATUSES } from './store';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** GET /messages/{id}: what the caller who handed the message over may see of it. */
export function messageView(m: QueueMessage): Record<string, unknown> {
  return {
    id: m.id,
    status: m.status,
    attempts: m.attempts,
    createdAt: iso(m.createdAt),
    nextAttemptAt: iso(m.nextAttemptAt),
    lastProblem: m.lastProblem ? { ...m.lastProblem, at: iso(m.lastProblem.at) } : null,
    response: m.response,
  };
}

/** The admin listener's view of a message: the caller's view plus route, key and request line (never its headers or body). */
export function adminMessageView(m: QueueMessage): Record<string, unknown> {
  return {
    ...messageView(m),
    route: m.route,
    idempotencyKey: m.idempotencyKey,
    request: { method: m.request.method, path: m.request.path, bodyBytes: m.request.body.length },
    expiresAt: iso(m.expiresAt),
    updatedAt: iso(m.updatedAt),
  };
}

/** GET /admin/queue: counts by route and status, and each route's oldest undelivered message. */
export function queueSummary(store: string, routes: readonly { path: string; upstream: string }[], rows: readonly CountRow[], now: number): Record<string, unknown> {
  const byRoute: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
    let oldest: number | null = null;
    for (const row of rows) {
      if (row.route !== r.path) continue;
      counts[row.status] = row.count;
      if ((row.status === 'queued' || row.status === 'delivering') && row.oldestCreatedAt !== null) oldest = Math.min(oldest ?? Infinity, row.oldestCreatedAt);
    }
    byRoute[r.path] = { upstream: r.upstream, counts, oldestPendingAt: iso(oldest), oldestPendingAgeSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000) };
  }
  return { store, generatedAt: iso(now), routes: byRoute };
}
