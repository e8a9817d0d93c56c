/** The one table from a transport failure to a gateway error code (SPEC §4, STYLE). */
import { classifyFailure, type FailureContext } from '../../src/errors/classify';

const ctx = (over: Partial<FailureContext>): FailureContext => ({ code: undefined, connectTimedOut: false, responseTimedOut: false, connected: false, ...over });

describe('classifyFailure', () => {
  it.each<[string, Partial<FailureContext>, string, boolean]>([
    ['connection refused', { code: 'ECONNREFUSED' }, 'UPSTREAM_UNREACHABLE', false],
    ['DNS: no such host', { code: 'ENOTFOUND' }, 'UPSTREAM_UNREACHABLE', false],
    ['DNS: temporary failure', { code: 'EAI_AGAIN' }, 'UPSTREAM_UNREACHABLE', false],
    ['host unreachable', { code: 'EHOSTUNREACH' }, 'UPSTREAM_UNREACHABLE', false],
    ['network unreachable', { code: 'ENETUNREACH' }, 'UPSTREAM_UNREACHABLE', false],
    ['our connect timer', { connectTimedOut: true, code: 'ECONNRESET' }, 'UPSTREAM_UNREACHABLE', false],
    ['connect timer wins over a response timer', { connectTimedOut: true, responseTimedOut: true }, 'UPSTREAM_UNREACHABLE', false],
    ['our response timer (the destroyed socket looks like a reset)', { responseTimedOut: true, connected: true, code: 'ECONNRESET' }, 'UPSTREAM_TIMEOUT', true],
    ['reset after connect', { code: 'ECONNRESET', connected: true }, 'UPSTREAM_CONNECTION_LOST', true],
    ['broken pipe after connect', { code: 'EPIPE', connected: true }, 'UPSTREAM_CONNECTION_LOST', true],
    ['socket hang up after connect (no code)', { connected: true }, 'UPSTREAM_CONNECTION_LOST', true],
    ['reset before connect', { code: 'ECONNRESET', connected: false }, 'UPSTREAM_UNREACHABLE', false],
    ['invalid status line', { code: 'HPE_INVALID_CONSTANT', connected: true }, 'UPSTREAM_BAD_RESPONSE', true],
    ['oversized response headers', { code: 'HPE_HEADER_OVERFLOW', connected: true }, 'UPSTREAM_BAD_RESPONSE', true],
    ['bad chunk framing', { code: 'HPE_INVALID_CHUNK_SIZE', connected: true }, 'UPSTREAM_BAD_RESPONSE', true],
    ['self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', connected: true }, 'UPSTREAM_TLS_ERROR', false],
    ['unknown issuer', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'UPSTREAM_TLS_ERROR', false],
    ['expired certificate', { code: 'CERT_HAS_EXPIRED' }, 'UPSTREAM_TLS_ERROR', false],
    ['wrong host name', { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, 'UPSTREAM_TLS_ERROR', false],
    ['protocol mismatch', { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, 'UPSTREAM_TLS_ERROR', false],
    ['any other OpenSSL error', { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }, 'UPSTREAM_TLS_ERROR', false],
    ['the stale-socket retry refused, after the first attempt was written', { code: 'ECONNREFUSED', sentEarlier: true }, 'UPSTREAM_CONNECTION_LOST', true],
    ['the retry\'s connect timer, after the first attempt was written', { connectTimedOut: true, sentEarlier: true }, 'UPSTREAM_CONNECTION_LOST', true],
    ['the retry timed out waiting for headers', { responseTimedOut: true, connected: true, sentEarlier: true }, 'UPSTREAM_TIMEOUT', true],
    ['opossum: breaker open', { code: 'EOPENBREAKER' }, 'CIRCUIT_OPEN', false],
    ['opossum: semaphore full', { code: 'ESEMLOCKED' }, 'GATEWAY_OVERLOADED', false],
    ['the gateway is out of file descriptors', { code: 'EMFILE' }, 'GATEWAY_OVERLOADED', false],
    ['the system is out of file descriptors', { code: 'ENFILE' }, 'GATEWAY_OVERLOADED', false],
    ['no buffer space', { code: 'ENOBUFS' }, 'GATEWAY_OVERLOADED', false],
    ['out of memory', { code: 'ENOMEM' }, 'GATEWAY_OVERLOADED', false],
    ['no local port left for connect', { code: 'EADDRNOTAVAIL' }, 'GATEWAY_OVERLOADED', false],
  ])('%s → %s (forwarded %s)', (_what, failure, code, forwarded) => {
    expect(classifyFailure(ctx(failure))).toEqual({ code, forwarded });
  });
});
