import type { IncomingMessage } from 'node:http';
import type { TrustedProxies } from './forwarded-for';
import { withoutHeaders } from './headers';

/** Headers only a trusted peer may send on, whatever the configured list says. */
const ALWAYS_UNTRUSTED: readonly string[] = ['forwarded', 'x-forwarded-host'];

/**
 * Sets what the upstream learns of the caller (README "Request flow", headers):
 * X-Forwarded-For/Proto/Host and X-Real-IP describe what the gateway itself saw; a caller's
 * own values are kept (X-Forwarded-For appended to) only when the peer is a trusted proxy,
 * and the untrusted headers are dropped from everyone else.
 */
export class CallerIdentity {
  private readonly untrusted: readonly string[];

  constructor(
    private readonly trusted: TrustedProxies,
    untrustedHeaders: readonly string[],
  ) {
    this.untrusted = [...new Set([...ALWAYS_UNTRUSTED, ...untrustedHeaders.map((h) => h.toLowerCase())])];
  }

  apply(req: IncomingMessage): void {
    const peer = req.socket.remoteAddress ?? '';
    const proto = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    if (this.trusted.trusts(peer)) {
      const h = req.headers;
      h['x-forwarded-for'] = h['x-forwarded-for'] ? `${h['x-forwarded-for']}, ${peer}` : peer;
      h['x-forwarded-proto'] ??= proto;
      if (h['x-forwarded-host'] === undefined && h.host !== undefined) h['x-forwarded-host'] = h.host;
      h['x-real-ip'] ??= peer;
      return;
    }
    // A copy rather than `delete` when the caller's own values must go (see stripHopByHop).
    // X-Forwarded-Host is kept only where the gateway sets it anew (the caller sent a Host).
    let drop: Set<string> | undefined;
    for (const name of this.untrusted) {
      if (req.headers[name] !== undefined && (name !== 'x-forwarded-host' || req.headers.host === undefined)) (drop ??= new Set()).add(name);
    }
    if (drop !== undefined) req.headers = withoutHeaders(req.headers, drop);
    const h = req.headers;
    h['x-forwarded-for'] = peer;
    h['x-forwarded-proto'] = proto;
    h['x-real-ip'] = peer;
    if (h.host !== undefined) h['x-forwarded-host'] = h.host;
  }
}
