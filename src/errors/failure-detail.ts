import type { ErrorCode } from './catalog';

/**
 * The caller-facing `detail` of a transport failure: names the upstream, never its address.
 * `afterHead`: its response head had arrived; `sentEarlier`: an earlier attempt may have
 * reached a target. One wording for direct requests and queued deliveries.
 */
export function failureDetail(code: ErrorCode, upstream: string, timeoutMs: number, afterHead: boolean, sentEarlier = false): string {
  const notSent = sentEarlier ? '; an earlier attempt may have reached it' : '; the request was not sent';
  switch (code) {
    case 'UPSTREAM_UNREACHABLE': return `Upstream "${upstream}" could not be reached${notSent}.`;
    case 'UPSTREAM_TIMEOUT': return afterHead
      ? `Upstream "${upstream}" sent its response headers, then nothing for ${timeoutMs} ms.`
      : `Upstream "${upstream}" sent no response headers within ${timeoutMs} ms.`;
    case 'UPSTREAM_TLS_ERROR': return `The TLS handshake with upstream "${upstream}" failed${notSent}.`;
    case 'UPSTREAM_BAD_RESPONSE': return `Upstream "${upstream}" answered with invalid HTTP.`;
    case 'GATEWAY_OVERLOADED': return `The gateway has run out of local resources (file descriptors or ports) to reach upstream "${upstream}"; the request was not sent.`;
    default: return `The connection to upstream "${upstream}" was lost before its answer was complete.`;
  }
}
