import type { IncomingMessage } from 'node:http';

/**
 * `upstreams.NAME.headers`: set on every request the upstream receives, replacing the
 * caller's own copies (a caller must not choose the credentials the gateway presents).
 * Called after hop-by-hop headers were stripped, so that a caller's `Connection:
 * authorization` cannot strip a configured Authorization.
 */
export function applyUpstreamHeaders(req: IncomingMessage, headers: Readonly<Record<string, string>> | undefined): void {
  if (headers === undefined) return;
  for (const [name, value] of Object.entries(headers)) req.headers[name.toLowerCase()] = value;
}
