import { z } from 'zod';
import { isObject } from '../core/is-object';
import { formatPath } from './key-path';

/*
 * Queued delivery's configuration (README "Queued delivery"): the top-level `queue` section,
 * a route's `delivery` and `queue`, and an upstream's `headers`. Kept apart from schema.ts so
 * that the queue's keys, defaults and checks can be read in one place.
 */

const MAX_TIMER_MS = 2147483647;
const posInt = () => z.number({ error: 'expected a positive integer' }).int('expected a positive integer').positive('expected a positive integer');
const ms = () => posInt().max(MAX_TIMER_MS, `expected at most ${MAX_TIMER_MS} ms (about 24.8 days)`);

/** RFC 9110 §5.6.2 token: what a header name may be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Methods a queued route accepts: the ones that change something. A GET answered later makes no sense. */
export const QUEUED_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;

export const REDIS_URL_RULE = 'expected a redis:// or rediss:// URL, or unix:///path/to/redis.sock';
const redisUrl = z.string({ error: REDIS_URL_RULE }).refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === 'redis:' || u.protocol === 'rediss:' || (u.protocol === 'unix:' && u.pathname.length > 1);
  } catch {
    return false;
  }
}, REDIS_URL_RULE);

/** The top-level `queue` section: where queued messages are kept and how many are delivered at once. */
export const queueSchema = z.strictObject({
  /** `sqlite`: embedded, one gateway process per file; `redis`: shared by several gateway replicas. */
  store: z.enum(['sqlite', 'redis']).default('sqlite'),
  /** SQLite file (created readable by its owner only); with `store: sqlite`. */
  path: z.string({ error: 'expected a file path' }).min(1, 'expected a file path').default('./data/queue.db'),
  /** Redis server; required with `store: redis`. */
  url: redisUrl.optional(),
  /** Prefix of every Redis key, so that several gateways (or tests) can share one Redis. */
  prefix: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'expected 1-64 letters, digits, ".", "_", ":" or "-"').default('breakwater'),
  /** Deliveries in flight at most, over all queued routes of this gateway process. */
  concurrency: posInt().default(4),
  /** A delivery not renewed for this long is taken over by another worker (a replica that died). */
  leaseMs: ms().min(1000, 'expected at least 1000 ms').default(30000),
  /** How often the worker looks for due messages when nothing wakes it earlier. */
  pollIntervalMs: ms().default(250),
  /** Delivered and rejected messages are deleted this long after they were accepted (dead ones stay until an operator acts). */
  retentionMs: posInt().default(604800000),
});

/** A route's `queue` settings, for `delivery: queued`. */
export const routeQueueSchema = z.strictObject({
  /** Attempts at most; then the message is `dead`. */
  maxAttempts: posInt().default(10),
  /** Backoff after the first failed attempt; doubles after each further one (with jitter). */
  initialBackoffMs: ms().default(1000),
  /** Backoff at most. */
  maxBackoffMs: ms().default(60000),
  /** Time from acceptance after which an undelivered message is `dead`. */
  ttlMs: posInt().default(86400000),
  /** Credentials kept in the stored request (by default Authorization, Cookie and Proxy-Authorization are dropped). */
  keepHeaders: z.array(z.string().regex(HEADER_NAME, 'expected a header name')).default([]),
});

/** `delivery` of a route: `direct` (the default) or `queued`. */
export const deliverySchema = z.enum(['direct', 'queued']).default('direct');

/** `upstreams.NAME.headers`: added to every request the upstream receives, replacing the caller's copies. */
export const upstreamHeadersSchema = z.record(z.string(), z.string({ error: 'expected a string' }).regex(/^[^\r\n\0]*$/, 'expected a header value without line breaks')).optional();

/** Headers the gateway itself owns on the way to an upstream; an upstream's `headers` cannot set them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'expect', 'x-request-id', 'idempotency-key']);

type Issue = string;

/** Checks on the raw file that one key's schema cannot make: run beside schema errors, like load.ts's cross-checks. */
export function queueCrossCheck(raw: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    const queued = route.delivery === 'queued';
    if (!queued && route.queue !== undefined) issues.push(`${formatPath(['routes', i, 'queue'])}: applies only to delivery: queued`);
    if (queued && Array.isArray(route.methods)) {
      route.methods.forEach((m, j) => {
        if (typeof m === 'string' && !(QUEUED_METHODS as readonly string[]).includes(m)) {
          issues.push(`${formatPath(['routes', i, 'methods', j])}: ${m} cannot be queued (delivery: queued accepts ${QUEUED_METHODS.join(', ')})`);
        }
      });
    }
    const q = route.queue;
    if (isObject(q) && typeof q.initialBackoffMs === 'number' && typeof q.maxBackoffMs === 'number' && q.maxBackoffMs < q.initialBackoffMs) {
      issues.push(`${formatPath(['routes', i, 'queue', 'maxBackoffMs'])}: must be at least initialBackoffMs (${q.initialBackoffMs})`);
    }
  });
  // GET /messages/{id} is the gateway's own once a route is queued; a route there would never be reached.
  if (routes.some((r) => isObject(r) && r.delivery === 'queued')) {
    routes.forEach((route, i) => {
      if (isObject(route) && typeof route.path === 'string' && (route.path === '/messages' || route.path.startsWith('/messages/'))) {
        issues.push(`${formatPath(['routes', i, 'path'])}: ${route.path} is the gateway's own (GET /messages/{id}) when a route has delivery: queued`);
      }
    });
  }
  const queue = isObject(raw.queue) ? raw.queue : {};
  if (queue.store === 'redis' && queue.url === undefined) issues.push(`${formatPath(['queue', 'url'])}: required with store: redis`);
  if (queue.store !== 'redis' && queue.url !== undefined) issues.push(`${formatPath(['queue', 'url'])}: applies only to store: redis`);
  if (isObject(raw.upstreams)) {
    for (const [name, u] of Object.entries(raw.upstreams)) {
      if (!isObject(u) || !isObject(u.headers)) continue;
      for (const header of Object.keys(u.headers)) {
        const at = formatPath(['upstreams', name, 'headers', header]);
        if (!HEADER_NAME.test(header)) issues.push(`${at}: expected a header name`);
        else if (RESERVED_HEADERS.has(header.toLowerCase())) issues.push(`${at}: set by the gateway itself; cannot be configured`);
      }
    }
  }
  return issues;
}
