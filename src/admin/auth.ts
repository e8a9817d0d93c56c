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

/**
 * The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, spaces
 * around the token ignored), or null. Read by hand: the header comes from anyone who can
 * connect, before authentication, and a backtracking pattern spent 0.5 s of CPU on 16 KB of
 * spaces (SECURITY.md, "Regular expressions").
 */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined || header.length < 8 || header.slice(0, 6).toLowerCase() !== 'bearer' || header[6] !== ' ') return null;
  let start = 7;
  while (header.charCodeAt(start) === 32) start++;
  let end = header.length;
  while (end > start && header.charCodeAt(end - 1) === 32) end--;
  // Like the token68 of RFC 9110 §11.2, a token starts with a visible character.
  if (end === start || isSpace(header[start] as string)) return null;
  return header.slice(start, end);
}

/** One character: a fixed, bounded test. */
const isSpace = (c: string): boolean => c.trim() === '';

const CHALLENGE = 'Bearer realm="breakwater-admin"';

/**
 * SPEC §7 admin authorization.
 * - With a token configured: every request through this middleware needs
 *   `Authorization: Bearer <token>`; otherwise 401 UNAUTHORIZED with a `WWW-Authenticate` challenge.
 * - Without a token: every request goes on to routing; reads are open, and the action handler
 *   (breakers.ts) answers 403 FORBIDDEN, since there is no way to authorize an action. A wrong
 *   method or path so gets the same 405 or 404 as with a token.
 */
export function adminAuth(token: string): RequestHandler {
  const expected = token;
  return (req, _res, next) => {
    if (expected === '') return next();
    const presented = bearerToken(req.headers.authorization);
    if (presented !== null && tokenMatches(presented, expected)) return next();
    const error = presented === null ? '' : ', error="invalid_token"';
    next(new GatewayError('UNAUTHORIZED', {
      detail: presented === null ? 'This endpoint needs an Authorization: Bearer <admin token> header.' : 'The admin token is not valid.',
      headers: { 'WWW-Authenticate': CHALLENGE + error },
    }));
  };
}
