import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../config/types';
import type { StoredRequest } from './store';

/** Never stored: hop-by-hop, framing, or set again for each delivery attempt. */
const NOT_STORED = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'expect', 'host', 'content-length', 'idempotency-key']);
/** Credentials: not kept at rest unless the route lists them in `queue.keepHeaders`. */
const CREDENTIALS = ['authorization', 'cookie', 'proxy-authorization'];

/** What an Idempotency-Key may be: visible ASCII, 1-255 characters. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The caller's Idempotency-Key; undefined when absent, null when present but unusable. */
export function idempotencyKeyOf(headers: IncomingHttpHeaders): string | null | undefined {
  const key = headers['idempotency-key'];
  if (key === undefined) return undefined;
  return typeof key === 'string' && IDEMPOTENCY_KEY.test(key) ? key : null;
}

/**
 * The request as it is stored: method, the path (and query) the upstream is to receive, the
 * end-to-end headers in their order (hop-by-hop ones, those `Connection` names and the
 * credentials the route does not keep left out), and the body.
 */
export function storedRequest(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer, route: RouteConfig): StoredRequest {
  const keep = new Set(route.queue.keepHeaders.map((h) => h.toLowerCase()));
  const drop = new Set(NOT_STORED);
  for (const c of CREDENTIALS) if (!keep.has(c)) drop.add(c);
  const connection = headers.connection;
  if (typeof connection === 'string') for (const t of connection.split(',')) drop.add(t.trim().toLowerCase());
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || drop.has(name)) continue;
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else pairs.push([name, value]);
  }
  return { method, path, headers: pairs, body };
}
