/** The delivery rules that need no server: backoff with jitter, Retry-After, the headers of an attempt, what is stored. */
import { parseRetryAfterMs } from '../../src/core/retry-after';
import { attemptHeaders } from '../../src/queue/deliver';
import { idempotencyKeyOf, storedRequest } from '../../src/queue/intake';
import type { QueueMessage } from '../../src/queue/store';
import { backoffMs } from '../../src/queue/worker';
import { parseConfig } from '../../src/config/load';

describe('backoffMs', () => {
  it('doubles from initialBackoffMs up to maxBackoffMs, between half and all of it', () => {
    const low = (n: number) => backoffMs(n, 1000, 60000, () => 0);
    const high = (n: number) => backoffMs(n, 1000, 60000, () => 0.999999);
    expect([1, 2, 3, 4].map(low)).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map(high)).toEqual([1000, 2000, 4000, 8000]);
    expect(low(20)).toBe(30000);
    expect(high(20)).toBe(60000);
    // No overflow however many attempts.
    expect(high(10000)).toBe(60000);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delay-seconds and HTTP dates, and ignores what it cannot read', () => {
    expect(parseRetryAfterMs('3')).toBe(3000);
    expect(parseRetryAfterMs(' 0 ')).toBe(0);
    const now = Date.parse('2026-12-03T10:00:00Z');
    expect(parseRetryAfterMs('Thu, 03 Dec 2026 10:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs('Thu, 03 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('soon')).toBeNull();
    expect(parseRetryAfterMs(undefined)).toBeNull();
  });
});

const config = parseConfig({
  upstreams: { business: { url: 'http://127.0.0.1:9001/base', headers: { Authorization: 'Bearer gw' } } },
  routes: [{ path: '/q', upstream: 'business', delivery: 'queued', queue: { keepHeaders: ['Cookie'] } }],
});

describe('what is stored and sent', () => {
  it('stores end-to-end headers only, credentials only when kept', () => {
    const stored = storedRequest('POST', '/q?x=1', {
      host: 'gw.example', 'content-length': '2', connection: 'keep-alive, x-secret', 'x-secret': 's', authorization: 'Bearer caller',
      cookie: 'a=1', 'proxy-authorization': 'Basic x', 'idempotency-key': 'k', 'x-multi': ['1', '2'] as unknown as string, 'content-type': 'text/plain',
    }, Buffer.from('hi'), config.routes[0]!);
    expect(stored.headers).toEqual([['cookie', 'a=1'], ['x-multi', '1'], ['x-multi', '2'], ['content-type', 'text/plain']]);
  });

  it('an attempt carries its key, the target\'s Host, a fresh length and the upstream\'s headers over the caller\'s', () => {
    const message = {
      id: 'm-1', idempotencyKey: null,
      request: { method: 'POST', path: '/q', headers: [['authorization', 'Bearer old'], ['Connection', 'x-drop'], ['x-drop', '1'], ['x-keep', 'y'], ['host', 'evil']], body: Buffer.from('abc') },
    } as unknown as QueueMessage;
    const headers = attemptHeaders(message, config.upstreams[0]!, new URL(config.upstreams[0]!.url));
    expect(headers).toEqual({ 'x-keep': 'y', host: '127.0.0.1:9001', 'content-length': '3', 'idempotency-key': 'm-1', authorization: 'Bearer gw' });
    expect(attemptHeaders({ ...message, idempotencyKey: 'caller-key' }, config.upstreams[0]!, new URL(config.upstreams[0]!.url))['idempotency-key']).toBe('caller-key');
  });

  it('takes an Idempotency-Key of 1-255 visible characters, refuses others', () => {
    expect(idempotencyKeyOf({})).toBeUndefined();
    expect(idempotencyKeyOf({ 'idempotency-key': 'abc-123' })).toBe('abc-123');
    expect(idempotencyKeyOf({ 'idempotency-key': '' })).toBeNull();
    expect(idempotencyKeyOf({ 'idempotency-key': 'a b' })).toBeNull();
    expect(idempotencyKeyOf({ 'idempotency-key': 'x'.repeat(256) })).toBeNull();
  });
});
