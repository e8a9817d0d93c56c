import type { IncomingMessage } from 'node:http';
import { stripHopByHop } from './headers';

/**
 * `upstreams.NAME.headers`: set on every request the upstream receives, replacing the
 * caller's own copies (a caller must not choose the credentials the gateway presents).
 * Hop-by-hop headers go first, so that a caller's `Connection: authorization` cannot make
 * the forwarder strip a configured Authorization again.
 */
export function applyUpstreamHeaders(req: IncomingMessage, headers: Readonly<Record<string, string>> | undefined): void {
  if (headers === undefined) return;
  stripHopByHop(req);
  for (const [name, value] of Object.entries(headers)) req.headers[name.toLowerCase()] = value;
}
