/** SPEC §4 problem bodies and the retryable rule: transient AND (not forwarded OR idempotent OR Idempotency-Key). */
import { ERROR_CODES } from '../../src/errors/catalog';
import { GatewayError } from '../../src/errors/gateway-error';
import { isRetryable, toProblem } from '../../src/errors/problem';

describe('isRetryable', () => {
  it.each<[string, boolean, string, boolean, boolean]>([
    // code, forwarded, method, idempotency key, retryable
    ['UPSTREAM_TIMEOUT', true, 'GET', false, true],
    ['UPSTREAM_TIMEOUT', true, 'HEAD', false, true],
    ['UPSTREAM_TIMEOUT', true, 'PUT', false, true],
    ['UPSTREAM_TIMEOUT', true, 'DELETE', false, true],
    ['UPSTREAM_TIMEOUT', true, 'OPTIONS', false, true],
    ['UPSTREAM_TIMEOUT', true, 'POST', false, false],
    ['UPSTREAM_TIMEOUT', true, 'PATCH', false, false],
    ['UPSTREAM_TIMEOUT', true, 'POST', true, true],
    ['UPSTREAM_TIMEOUT', true, 'post', false, false],
    ['UPSTREAM_TIMEOUT', true, 'get', false, true],
    ['UPSTREAM_CONNECTION_LOST', true, 'POST', false, false],
    ['UPSTREAM_UNREACHABLE', false, 'POST', false, true],
    ['CIRCUIT_OPEN', false, 'PATCH', false, true],
    ['GATEWAY_SHUTTING_DOWN', false, 'POST', false, true],
    ['UPSTREAM_TLS_ERROR', false, 'GET', true, false],
    ['ROUTE_NOT_FOUND', false, 'GET', false, false],
    ['PAYLOAD_TOO_LARGE', false, 'PUT', true, false],
    ['INTERNAL_ERROR', true, 'POST', false, false],
    ['INTERNAL_ERROR', true, 'GET', false, true],
  ])('%s forwarded=%s %s key=%s → %s', (code, forwarded, method, key, expected) => {
    expect(isRetryable(code as (typeof ERROR_CODES)[number], forwarded, method, key)).toBe(expected);
  });

  it('an unknown method is not idempotent', () => {
    expect(isRetryable('UPSTREAM_TIMEOUT', true, undefined, false)).toBe(false);
  });
});

describe('toProblem', () => {
  const req = (method: string, url: string, headers: Record<string, string> = {}) => ({ method, url, headers });

  it('renders every catalog code with the RFC 9457 members and ours', () => {
    for (const code of ERROR_CODES) {
      const p = toProblem(new GatewayError(code), req('GET', '/x'), 'rid-1');
      expect(p).toMatchObject({ code, status: expect.any(Number), title: expect.any(String), detail: expect.any(String), instance: '/x', requestId: 'rid-1' });
      expect(p.type).toBe(`/problems/${code.toLowerCase().replace(/_/g, '-')}`);
      expect(typeof p.retryable).toBe('boolean');
      expect(typeof p.forwarded).toBe('boolean');
    }
  });

  it('instance is the path without its query (which may carry secrets)', () => {
    expect(toProblem(new GatewayError('ROUTE_NOT_FOUND'), req('GET', '/a/b?token=secret'), 'r').instance).toBe('/a/b');
  });

  it('carries upstream, detail, extra members, and retryAfterSeconds only when retryable', () => {
    const err = new GatewayError('DEPENDENCY_UNAVAILABLE', { upstream: 'business', detail: 'Bureau down.', retryAfterSeconds: 3, extra: { unavailable: ['bureau'] } });
    expect(toProblem(err, req('POST', '/loans'), 'r')).toMatchObject({ upstream: 'business', detail: 'Bureau down.', retryAfterSeconds: 3, unavailable: ['bureau'], retryable: true });
    const notRetryable = new GatewayError('UPSTREAM_TIMEOUT', { retryAfterSeconds: 3 });
    const p = toProblem(notRetryable, req('POST', '/loans'), 'r');
    expect(p.retryable).toBe(false);
    expect(p.retryAfterSeconds).toBeUndefined();
  });

  it('forwarded comes from the catalog unless the error knows better', () => {
    expect(toProblem(new GatewayError('UPSTREAM_TIMEOUT'), req('GET', '/'), 'r').forwarded).toBe(true);
    const overridden = toProblem(new GatewayError('UPSTREAM_TIMEOUT', { forwarded: false }), req('POST', '/'), 'r');
    expect(overridden.forwarded).toBe(false);
    expect(overridden.retryable).toBe(true);
  });

  it('the Idempotency-Key header makes a forwarded POST retryable', () => {
    const p = toProblem(new GatewayError('UPSTREAM_CONNECTION_LOST'), req('POST', '/p', { 'idempotency-key': 'abc' }), 'r');
    expect(p.retryable).toBe(true);
  });

  it('the detail defaults to the title, never to the cause\'s message or stack', () => {
    const cause = new Error('connect ECONNREFUSED 10.1.2.3:9001');
    const p = toProblem(new GatewayError('UPSTREAM_UNREACHABLE', { cause }), req('GET', '/'), 'r');
    expect(p.detail).toBe(p.title);
    expect(JSON.stringify(p)).not.toContain('10.1.2.3');
  });
});
