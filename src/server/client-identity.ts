import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { withoutHeaders } from '../proxy/headers';

/**
 * Whether a request arrived over TLS on the gateway's own listener. X-Forwarded-Proto says
 * this, and anything that must know it (a `Secure` cookie flag) asks here.
 */
export function isTls(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/** What the caller's TLS client certificate proved: a verified subject, or why there is none. */
export type ClientCert =
  | { readonly verified: true; readonly subject: string }
  | { readonly verified: false; readonly reason: string };

/** OpenSSL's verification errors that callers meet most, in words (others are named by their code). */
const REASONS: Readonly<Record<string, string>> = {
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: 'it is not valid yet',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is not issued by a CA this gateway trusts',
  UNABLE_TO_GET_ISSUER_CERT: 'it is not issued by a CA this gateway trusts',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is not issued by a CA this gateway trusts',
  SELF_SIGNED_CERT_IN_CHAIN: 'it is not issued by a CA this gateway trusts',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  CERT_REVOKED: 'it is revoked',
  INVALID_PURPOSE: 'it is not meant for TLS clients',
};

const NO_TLS: ClientCert = Object.freeze({ verified: false, reason: 'the connection does not use TLS' });
const NONE: ClientCert = Object.freeze({ verified: false, reason: 'no client certificate was presented' });

/**
 * The client certificate of each connection of a listener with `requestCert`, verified
 * against the listener's `ca` during the handshake (Node's `socket.authorized`). The
 * listener does not refuse unverified callers at the handshake (`rejectUnauthorized: false`),
 * so that routes without `clientCert: required` stay open to them; each request asks here.
 * Worked out once per connection: a keep-alive connection carries many requests.
 */
export class ClientIdentity {
  private readonly byConnection = new WeakMap<Socket, ClientCert>();

  of(req: IncomingMessage): ClientCert {
    const socket = req.socket;
    let cert = this.byConnection.get(socket);
    if (cert === undefined) {
      cert = certificateOf(socket as Partial<TLSSocket>);
      this.byConnection.set(socket, cert);
    }
    return cert;
  }
}

function certificateOf(socket: Partial<TLSSocket>): ClientCert {
  if (socket.encrypted !== true || socket.getPeerX509Certificate === undefined) return NO_TLS;
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return NONE;
  if (socket.authorized !== true) {
    const code = String(socket.authorizationError ?? 'unknown');
    return { verified: false, reason: `the client certificate was not accepted: ${REASONS[code] ?? code}` };
  }
  return { verified: true, subject: rfc4514(peer.subject) };
}

/**
 * Node gives the subject as one RDN per line, most significant first, already escaped as
 * RFC 2253 wants (`O=Bygg\, i Umeå AB`). RFC 4514 (what nginx's `$ssl_client_s_dn` and
 * Java's `getName()` print) lists them the other way round, comma-separated:
 * `CN=loan-system,O=Capitex Test`. Bytes outside printable ASCII become `\XX` escapes
 * (RFC 4514 §2.4), so the subject is always a valid, unambiguous header value.
 */
export function rfc4514(nodeSubject: string): string {
  const dn = nodeSubject.split('\n').reverse().map((rdn) => rdn.split(' + ').join('+')).join(',');
  let out = '';
  for (const ch of dn) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0x20 && c < 0x7f) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Puts the verified subject in `header` for the upstream, and always takes the caller's own
 * copy out first: a caller must never be able to name itself. Runs after hop-by-hop headers
 * were stripped, so a `Connection` header can no longer take the gateway's value out.
 * Replaces `req.headers` with a copy rather than deleting (see proxy/headers.ts stripHopByHop for why).
 */
export function setClientCertHeader(req: IncomingMessage, header: string, cert: ClientCert): void {
  const name = header.toLowerCase();
  if (req.headers[name] !== undefined) req.headers = withoutHeaders(req.headers, new Set([name]));
  if (cert.verified) req.headers[name] = cert.subject;
}
