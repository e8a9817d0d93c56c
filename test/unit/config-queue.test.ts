/**
 * Queued delivery's configuration (README "Queued delivery"): the `queue` section, a route's
 * `delivery` and `queue`, an upstream's `headers`, their defaults and every refusal by key.
 */
import { parseConfig, parseConfigText } from '../../src/config/load';
import { RouteTable } from '../../src/routing/match';
import { issuesOf } from '../helpers/config-issues';

const minimal = (route: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Record<string, unknown> => ({
  upstreams: { business: { url: 'http://127.0.0.1:9001' }, 'credit-bureau': { url: 'http://127.0.0.1:9002' } },
  routes: [{ path: '/api/loan-applications', upstream: 'business', ...route }],
  ...rest,
});

describe('queue configuration defaults', () => {
  it('a file without a queue section gets the embedded sqlite store', () => {
    const c = parseConfig(minimal());
    expect(c.queue).toEqual({ store: 'sqlite', path: './data/queue.db', prefix: 'breakwater', concurrency: 4, leaseMs: 30000, pollIntervalMs: 250, retentionMs: 604800000 });
    expect(c.routes[0]?.delivery).toBe('direct');
  });

  it('a queued route gets the documented queue defaults', () => {
    const c = parseConfig(minimal({ delivery: 'queued', requires: ['credit-bureau'] }));
    expect(c.routes[0]).toMatchObject({
      delivery: 'queued',
      queue: { maxAttempts: 10, initialBackoffMs: 1000, maxBackoffMs: 60000, ttlMs: 86400000, keepHeaders: [] },
    });
  });

  it('takes the example of the README as it is written', () => {
    const c = parseConfigText(
      [
        'queue: { store: redis, url: "redis://127.0.0.1:6379" }',
        'upstreams:',
        '  business: { url: http://127.0.0.1:9001, headers: { Authorization: "Bearer ${TOKEN}" } }',
        '  credit-bureau: { url: http://127.0.0.1:9002 }',
        'routes:',
        '  - path: /api/loan-applications',
        '    upstream: business',
        '    requires: [credit-bureau]',
        '    delivery: queued',
        '    queue: { maxAttempts: 10, initialBackoffMs: 1000, maxBackoffMs: 60000, ttlMs: 86400000, keepHeaders: [Cookie] }',
      ].join('\n'),
      'yaml',
      { TOKEN: 's3cret' },
    );
    expect(c.queue).toMatchObject({ store: 'redis', url: 'redis://127.0.0.1:6379' });
    expect(c.upstreams[0]?.headers).toEqual({ Authorization: 'Bearer s3cret' });
    expect(c.routes[0]?.queue.keepHeaders).toEqual(['Cookie']);
  });

  it('a queued route without `methods` allows POST, PUT, PATCH and DELETE only', () => {
    const table = new RouteTable(parseConfig(minimal({ delivery: 'queued' })).routes);
    const route = table.match('/api/loan-applications')?.route;
    expect([...(route?.methods ?? [])]).toEqual(['POST', 'PUT', 'PATCH', 'DELETE']);
    expect(route?.allow).toBe('POST, PUT, PATCH, DELETE');
  });
});

describe('queue configuration refusals', () => {
  it('a queued route listing GET, HEAD or OPTIONS is refused, naming each such method by its key', () => {
    expect(issuesOf(() => parseConfig(minimal({ delivery: 'queued', methods: ['POST', 'GET', 'HEAD'] })))).toEqual([
      'routes[0].methods[1]: GET cannot be queued (delivery: queued accepts POST, PUT, PATCH, DELETE)',
      'routes[0].methods[2]: HEAD cannot be queued (delivery: queued accepts POST, PUT, PATCH, DELETE)',
    ]);
  });

  it('refuses unknown keys and bad values in every queue setting, each by its path', () => {
    const issues = issuesOf(() => parseConfig(minimal(
      { delivery: 'later', queue: { maxAttempts: 0, initialBackoffMs: -1, ttlMs: 1.5, keepHeaders: ['bad header'], retries: 3 } },
      { queue: { store: 'kafka', concurrency: 0, leaseMs: 10, prefix: 'a b', extra: true } },
    )));
    expect(issues).toEqual(expect.arrayContaining([
      'routes[0].delivery: expected one of direct, queued',
      'routes[0].queue.maxAttempts: expected a positive integer',
      'routes[0].queue.initialBackoffMs: expected a positive integer',
      'routes[0].queue.ttlMs: expected a positive integer',
      'routes[0].queue.keepHeaders[0]: expected a header name',
      'routes[0].queue.retries: unknown key',
      'queue.store: expected one of sqlite, redis',
      'queue.concurrency: expected a positive integer',
      'queue.leaseMs: expected at least 1000 ms',
      'queue.prefix: expected 1-64 letters, digits, ".", "_", ":" or "-"',
      'queue.extra: unknown key',
      // A route's queue settings on a direct route would be silently ignored.
      'routes[0].queue: applies only to delivery: queued',
    ]));
  });

  it('store: redis needs a url, and a url is only for redis', () => {
    expect(issuesOf(() => parseConfig(minimal({}, { queue: { store: 'redis' } })))).toEqual(['queue.url: required with store: redis']);
    expect(issuesOf(() => parseConfig(minimal({}, { queue: { url: 'redis://127.0.0.1:6379' } })))).toEqual(['queue.url: applies only to store: redis']);
    expect(issuesOf(() => parseConfig(minimal({}, { queue: { store: 'redis', url: 'http://127.0.0.1:6379' } })))).toEqual([
      'queue.url: expected a redis:// or rediss:// URL, or unix:///path/to/redis.sock',
    ]);
  });

  it('with a queued route, a route under /messages (the gateway\'s own GET /messages/{id}) is refused', () => {
    const c = minimal({ delivery: 'queued' });
    (c.routes as unknown[]).push({ path: '/messages', upstream: 'business' });
    expect(issuesOf(() => parseConfig(c))).toEqual(['routes[1].path: /messages is the gateway\'s own (GET /messages/{id}) when a route has delivery: queued']);
    // Without a queued route the path is an ordinary route.
    expect(() => parseConfig({ ...minimal(), routes: [{ path: '/messages', upstream: 'business' }] })).not.toThrow();
  });

  it('maxBackoffMs below initialBackoffMs is refused', () => {
    expect(issuesOf(() => parseConfig(minimal({ delivery: 'queued', queue: { initialBackoffMs: 5000, maxBackoffMs: 1000 } })))).toEqual([
      'routes[0].queue.maxBackoffMs: must be at least initialBackoffMs (5000)',
    ]);
  });

  it('upstream headers must be valid names and values, and cannot set what the gateway owns', () => {
    const issues = issuesOf(() => parseConfig({
      ...minimal(),
      upstreams: { business: { url: 'http://127.0.0.1:9001', headers: { 'Bad Name': 'x', Host: 'evil', 'X-Ok': 'a\r\nInjected: 1', 'X-Num': 5 } } },
    }));
    expect(issues).toEqual(expect.arrayContaining([
      'upstreams.business.headers.Bad Name: expected a header name',
      'upstreams.business.headers.Host: set by the gateway itself; cannot be configured',
      'upstreams.business.headers.X-Ok: expected a header value without line breaks',
      'upstreams.business.headers.X-Num: expected a string',
    ]));
  });
});
