import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the de-facto ones proxies strip too. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-connection', 'proxy-authenticate'];

/** End-to-end headers the gateway sets or relies on; a `Connection` header cannot nominate them. */
const PROTECTED = new Set(['host', 'content-length', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/**
 * Removes hop-by-hop headers and every header the `Connection` header names, in place.
 * `transfer-encoding` goes too: Node re-frames the body on each hop itself.
 */
export function stripHopByHop(headers: IncomingHttpHeaders | OutgoingHttpHeaders): void {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of String(connection).split(',')) {
      const name = token.trim().toLowerCase();
      // Never let a caller strip what the gateway itself relies on or sets: naming
      // X-Forwarded-For in `Connection` must not hide the caller's address from the upstream.
      if (name && !PROTECTED.has(name) && headers[name] !== undefined) delete headers[name];
    }
  }
  // Most messages carry one or two of these: test before deleting, `delete` is the slow part.
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
}
