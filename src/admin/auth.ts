import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { GatewayError } from '../errors/gateway-error';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares a presented token with the configured one in constant time. Both sides are hashed
 * first: `timingSafeEqual` needs equal lengths, and comparing lengths directly would leak
 * the token's length through the timing of an early return.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +(\S.*?) *$/i.exec(header);
  return match ? (match[1] as string) : null;
}

const CHALLENGE = 'Bearer realm="breakwater-admin"';

/**
 * SPEC §7 admin authorization.
 * - With a token configured: every request through this middleware needs
 *   `Authorization: Bearer <token>`; otherwise 401 UNAUTHORIZED with a `WWW-Authenticate` challenge.
 * - Without a token: reads (GET, HEAD) are open, and the actions (POST to a breaker's
 *   open/close/reset) are 403 FORBIDDEN, since there is no way to authorize them. Any other
 *   request goes on to routing, so a wrong method or path gets the same 405 or 404 as with a token.
 */
export function adminAuth(token: string): RequestHandler {
  const expected = token;
  return (req, _res, next) => {
    if (expected === '') {
      if (!isAction(req.method, req.path)) return next();
      return next(new GatewayError('FORBIDDEN', { detail: 'No admin token is configured (admin.token), so admin actions are disabled.' }));
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented !== null && tokenMatches(presented, expected)) return next();
    const error = presented === null ? '' : ', error="invalid_token"';
    next(new GatewayError('UNAUTHORIZED', {
      detail: presented === null ? 'This endpoint needs an Authorization: Bearer <admin token> header.' : 'The admin token is not valid.',
      headers: { 'WWW-Authenticate': CHALLENGE + error },
    }));
  };
}

/** The admin requests that change state: POST /admin/breakers/{name}/{open|close|reset}. */
const ACTION_PATH = /^\/admin\/breakers\/[^/]+\/(?:open|close|reset)\/?$/;

function isAction(method: string, path: string): boolean {
  return method === 'POST' && ACTION_PATH.test(path);
}
