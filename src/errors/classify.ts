import type { ErrorCode } from './catalog';

/** What the exchange knew when the upstream failed. */
export interface FailureContext {
  /** Node's error code (`ECONNREFUSED`, `HPE_INVALID_CONSTANT`, …) or our own marker. */
  code: string | undefined;
  /** Our connect timer fired before the TCP connection was up. */
  connectTimedOut: boolean;
  /** Our response timer fired before the upstream's response headers arrived. */
  responseTimedOut: boolean;
  /** The socket was connected, so request bytes may have reached the upstream. */
  connected: boolean;
  /**
   * An earlier attempt of this request was written to a kept-alive connection that then broke
   * (the one stale-socket retry): the upstream may have read it, whatever became of the retry.
   */
  sentEarlier?: boolean;
}

export interface Classification {
  code: ErrorCode;
  /** Whether request bytes may have reached the upstream. */
  forwarded: boolean;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/**
 * The gateway's own resources ran out (file descriptors, buffers, memory, local ports for
 * connect): no fault of the upstream, which must not be blamed for it (its breaker does not
 * count these). The request was not sent.
 */
const LOCAL_RESOURCES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL']);

const TLS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_HANDSHAKE_TIMEOUT', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * The one table from a transport failure to the gateway's error code (SPEC §4).
 * Order matters: our own timers explain a destroyed socket better than the error it left.
 * Where the socket was connected, bytes of the request may have been sent, so the failure
 * is reported as forwarded: a caller must never be told "nothing happened" when it might have.
 */
export function classifyFailure(f: FailureContext): Classification {
  const c = classifyAttempt(f);
  return f.sentEarlier && !c.forwarded ? { code: 'UPSTREAM_CONNECTION_LOST', forwarded: true } : c;
}

function classifyAttempt(f: FailureContext): Classification {
  if (f.code === 'EOPENBREAKER') return { code: 'CIRCUIT_OPEN', forwarded: false };
  if (f.code === 'ESEMLOCKED') return { code: 'GATEWAY_OVERLOADED', forwarded: false };
  if (LOCAL_RESOURCES.has(f.code ?? '')) return { code: 'GATEWAY_OVERLOADED', forwarded: false };
  if (f.connectTimedOut) return { code: 'UPSTREAM_UNREACHABLE', forwarded: false };
  if (f.responseTimedOut) return { code: 'UPSTREAM_TIMEOUT', forwarded: true };
  const code = f.code ?? '';
  if (TLS.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { code: 'UPSTREAM_TLS_ERROR', forwarded: false };
  if (UNREACHABLE.has(code)) return { code: 'UPSTREAM_UNREACHABLE', forwarded: false };
  if (code.startsWith('HPE_')) return { code: 'UPSTREAM_BAD_RESPONSE', forwarded: true };
  if (!f.connected) return { code: 'UPSTREAM_UNREACHABLE', forwarded: false };
  return { code: 'UPSTREAM_CONNECTION_LOST', forwarded: true };
}
