import type { IncomingMessage, ServerResponse } from 'node:http';
import { CATALOG, typeUri, type ErrorCode } from './catalog';
import { pathOf } from '../core/request-path';
import { GatewayError } from './gateway-error';

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The RFC 9457 body the gateway sends for every failure it answers itself. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  retryable: boolean;
  forwarded: boolean;
  requestId: string;
  upstream?: string;
  retryAfterSeconds?: number;
  [member: string]: unknown;
}

/**
 * SPEC §4: retryable = transient AND (not forwarded OR idempotent method OR Idempotency-Key).
 * A forwarded POST without a key may already have taken effect, so resending it is not safe.
 */
export function isRetryable(code: ErrorCode, forwarded: boolean, method: string | undefined, hasIdempotencyKey: boolean): boolean {
  if (!CATALOG[code].transient) return false;
  return !forwarded || IDEMPOTENT.has((method ?? '').toUpperCase()) || hasIdempotencyKey;
}

/** Builds the problem body of an error for one request. */
export function toProblem(err: GatewayError, req: Pick<IncomingMessage, 'method' | 'headers' | 'url'>, requestId: string): Problem {
  const entry = CATALOG[err.code];
  const forwarded = err.forwarded;
  const retryable = isRetryable(err.code, forwarded, req.method, req.headers['idempotency-key'] !== undefined);
  const problem: Problem = {
    type: typeUri(err.code),
    title: entry.title,
    status: entry.status,
    detail: err.options.detail ?? entry.title,
    instance: instanceOf(req.url),
    code: err.code,
    retryable,
    forwarded,
    requestId,
  };
  if (err.options.upstream !== undefined) problem.upstream = err.options.upstream;
  if (retryable && err.options.retryAfterSeconds !== undefined) problem.retryAfterSeconds = err.options.retryAfterSeconds;
  if (err.options.extra) Object.assign(problem, err.options.extra);
  return problem;
}

/**
 * The request path without its query (it may carry secrets the caller did not mean to echo)
 * or fragment. An absolute-form target gives only its path: `detail` and `instance` never
 * name a host; a target with no path at all (`*`, CONNECT's authority) gives `/`.
 */
function instanceOf(url: string | undefined): string {
  if (url && url.charCodeAt(0) !== 47 /* / */) return pathOfAbsolute(url);
  return pathOf(url);
}

function pathOfAbsolute(url: string): string {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) return '/';
  try {
    return new URL(url).pathname;
  } catch {
    return '/';
  }
}

/**
 * Writes the problem on a raw response (works for Express and the lean proxy path alike).
 * When headers were already sent the body cannot be replaced, so the connection is destroyed:
 * a truncated body must never look complete.
 */
export function sendProblem(
  res: ServerResponse,
  err: GatewayError,
  req: Pick<IncomingMessage, 'method' | 'headers' | 'url'>,
  requestId: string,
): Problem | undefined {
  if (res.headersSent) {
    res.destroy(err);
    return undefined;
  }
  const problem = toProblem(err, req, requestId);
  const body = JSON.stringify(problem);
  // Drop anything a half-finished handler may have set (e.g. a proxied Content-Length).
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = problem.status;
  // A failed writeHead leaves its reason phrase behind; the problem's status gets its own.
  res.statusMessage = '';
  res.setHeader('Content-Type', 'application/problem+json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Request-Id', requestId);
  if (problem.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(problem.retryAfterSeconds));
  for (const [name, value] of Object.entries(err.options.headers ?? {})) res.setHeader(name, value);
  res.end(req.method === 'HEAD' ? undefined : body);
  return problem;
}
