import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The demo identity provider's access tokens: `base64url(claims).base64url(HMAC-SHA256)`, a
 * JWT in spirit without the header. The business layer verifies them with the key the demo
 * shares between the two at start; nothing else in the demo can mint one.
 */
export interface AccessClaims {
  /** The user name. */
  sub: string;
  /** The user's display name. */
  name: string;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
}

const b64 = (data: Buffer | string): string => Buffer.from(data).toString('base64url');
const mac = (payload: string, key: Buffer): Buffer => createHmac('sha256', key).update(payload).digest();

export function signAccessToken(claims: AccessClaims, key: Buffer): string {
  const payload = b64(JSON.stringify(claims));
  return `${payload}.${b64(mac(payload, key))}`;
}

/** The claims of a genuine, unexpired token, else null (which of the two is not told apart). */
export function verifyAccessToken(token: string, key: Buffer, now: number): AccessClaims | null {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) return null;
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(payload, key);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as AccessClaims;
    return typeof claims.sub === 'string' && typeof claims.exp === 'number' && claims.exp > now ? claims : null;
  } catch {
    return null;
  }
}
