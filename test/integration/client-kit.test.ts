/**
 * breakwater/client against a real gateway and real upstreams (README "Caller kit"): what is
 * retried and what is not is decided by the problem's members, the Idempotency-Key is the same
 * on every attempt, CIRCUIT_OPEN waits for Retry-After, the budget stops retries in an outage,
 * the caller's signal and the per-attempt deadline end attempts, and watchConnection reports
 * loss, return and restart of the gateway itself.
 */
import { parseConfig } from '../../src/config/load';
import { Gateway } from '../../src/gateway';
import { createLogger } from '../../src/server/logging';
import { createClient, ProblemError, watchConnection, type ConnectionEvents, type RetryInfo } from '../../src/client';
import { oneRoute, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const noBreaker = { volumeThreshold: 10_000, errorThresholdPercentage: 100, resetTimeoutMs: 60_000, rollingWindowMs: 10_000 };

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('client.request through a real gateway', () => {
  let upstream: ControlledUpstream;
  let gw: StartedGateway;
  beforeEach(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    await upstream.close();
  });

  it('sends a POST without a key once on UPSTREAM_TIMEOUT and rejects with its problem', async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 200, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const retries: RetryInfo[] = [];
    const client = createClient({ baseUrl: gw.url, retry: { baseDelayMs: 10 }, onRetry: (i) => retries.push(i) });
    const err = await rejection(client.request('/api/loans', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }));
    expect(err).toBeInstanceOf(ProblemError);
    const problem = (err as ProblemError).problem;
    expect(problem).toMatchObject({ code: 'UPSTREAM_TIMEOUT', status: 504, retryable: false, forwarded: true });
    expect((err as ProblemError).attempts).toBe(1);
    expect((err as ProblemError).response.status).toBe(504);
    await sleep(300); // nothing more arrives
    expect(upstream.received).toHaveLength(1);
    expect(retries).toEqual([]);
  });

  it('retries a keyed POST after UPSTREAM_TIMEOUT with the same generated key', async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 200, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const client = createClient({ baseUrl: gw.url, retry: { baseDelayMs: 10 } });
    const pending = client.request('/api/loans', { method: 'POST', body: '{"a":1}', idempotencyKey: true });
    await waitFor(() => upstream.received.length === 1, 2000, 'the first attempt');
    upstream.setMode({ kind: 'ok' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(2);
    const [first, second] = upstream.received.map((r) => r.headers['idempotency-key']);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second).toBe(first);
    expect(upstream.received.map((r) => r.body)).toEqual(['{"a":1}', '{"a":1}']);
  });

  it('gives up after maxAttempts, a caller-given key on every attempt', async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 150, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const client = createClient({ baseUrl: gw.url, retry: { maxAttempts: 3, baseDelayMs: 10 } });
    const err = (await rejection(client.request('/api/x', { method: 'POST', body: 'x', idempotencyKey: 'case-42' }))) as ProblemError;
    expect([err.code, err.problem.retryable, err.attempts]).toEqual(['UPSTREAM_TIMEOUT', true, 3]);
    expect(upstream.received.map((r) => r.headers['idempotency-key'])).toEqual(['case-42', 'case-42', 'case-42']);
  });

  it('on CIRCUIT_OPEN waits for Retry-After (plus at most baseDelayMs), then gets through', async () => {
    const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1000, rollingWindowMs: 10_000 };
    gw = await startGateway(oneRoute(upstream.url, { breaker }));
    upstream.setMode({ kind: 'status', status: 503 });
    const client = createClient({ baseUrl: gw.url, retry: { baseDelayMs: 100 }, onRetry: (i) => retries.push(i) });
    const retries: RetryInfo[] = [];
    // An upstream's own 503 is an answer, not a gateway problem: resolved, not retried.
    for (let i = 0; i < 2; i++) expect((await client.request('/api/x')).status).toBe(503);
    expect(retries).toEqual([]);
    await waitFor(() => gw.gw.registry.get('backend').breaker.state().value === 'open', 2000, 'breaker open');
    upstream.setMode({ kind: 'ok' });
    upstream.reset();
    const t0 = Date.now();
    const res = await client.request('/api/x');
    const elapsed = Date.now() - t0;
    expect(res.status).toBe(200);
    expect(retries).toHaveLength(1);
    expect(retries[0]?.problem?.code).toBe('CIRCUIT_OPEN');
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(1000);
    expect(retries[0]?.delayMs).toBeLessThan(1100);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000);
    expect(upstream.received).toHaveLength(1); // the trial only
  });

  it('fails at once when Retry-After is beyond maxDelayMs', async () => {
    const breaker = { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 30_000, rollingWindowMs: 10_000 };
    gw = await startGateway(oneRoute(upstream.url, { breaker }));
    upstream.setMode({ kind: 'status', status: 503 });
    await createClient({ baseUrl: gw.url }).request('/api/x');
    const client = createClient({ baseUrl: gw.url, retry: { maxDelayMs: 5000 } });
    const t0 = Date.now();
    const err = (await rejection(client.request('/api/x'))) as ProblemError;
    expect(Date.now() - t0).toBeLessThan(500);
    expect([err.code, err.problem.retryable, err.attempts]).toEqual(['CIRCUIT_OPEN', true, 1]);
    expect(err.retryAfterMs).toBeGreaterThan(5000);
  });

  it('stops retrying once the shared budget is spent under a total outage, and successes refill it', async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 100, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const client = createClient({ baseUrl: gw.url, retry: { maxAttempts: 3, baseDelayMs: 5 }, budget: { tokens: 4, perSuccess: 0.5 } });
    const attempts: number[] = [];
    // Ten callers at once: without a budget 30 requests would reach the upstream.
    await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const err = (await rejection(client.request(`/api/r${i}`))) as ProblemError;
      expect(err.code).toBe('UPSTREAM_TIMEOUT');
      attempts.push(err.attempts);
    }));
    expect(upstream.received).toHaveLength(14);
    expect(attempts.reduce((a, b) => a + b, 0)).toBe(14);
    expect(client.budget.available).toBe(0);
    upstream.setMode({ kind: 'ok' });
    for (let i = 0; i < 3; i++) expect((await client.request('/api/ok')).status).toBe(200);
    expect(client.budget.available).toBe(1.5);
  });

  it('per-attempt timeout: ends an attempt that gets no headers, and retries a GET', async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 10_000, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const client = createClient({ baseUrl: gw.url, timeoutMs: 200, retry: { maxAttempts: 2, baseDelayMs: 5 } });
    const t0 = Date.now();
    const err = (await rejection(client.request('/api/slow'))) as DOMException;
    expect(err.name).toBe('TimeoutError');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(upstream.received).toHaveLength(2);
    // The gateway saw the caller go away and let go of the upstream requests.
    await waitFor(() => upstream.openSockets === 0, 3000, 'upstream sockets closed');
  });

  it("the caller's AbortSignal cancels an attempt in flight and a wait between attempts", async () => {
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 10_000, breaker: noBreaker }));
    upstream.setMode({ kind: 'hang' });
    const client = createClient({ baseUrl: gw.url, retry: { baseDelayMs: 2000, maxDelayMs: 2000 }, random: () => 0.99 });
    const t0 = Date.now();
    const err = await rejection(client.request('/api/x', { signal: AbortSignal.timeout(200) }));
    expect((err as DOMException).name).toBe('TimeoutError');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(upstream.received).toHaveLength(1);

    // During the backoff: the first attempt times out at the gateway, the wait is cut short.
    await gw.close();
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 100, breaker: noBreaker }));
    upstream.reset();
    const slowBackoff = createClient({ baseUrl: gw.url, retry: { baseDelayMs: 2000, maxDelayMs: 2000 }, random: () => 0.99 });
    const controller = new AbortController();
    const retrying = slowBackoff.request('/api/x', { signal: controller.signal });
    await waitFor(() => upstream.received.length === 1, 2000, 'first attempt');
    await sleep(300);
    const t1 = Date.now();
    controller.abort(new Error('user left'));
    expect(((await rejection(retrying)) as Error).message).toBe('user left');
    expect(Date.now() - t1).toBeLessThan(500); // not the 2 s backoff
    await sleep(200);
    expect(upstream.received).toHaveLength(1);
  });
});

describe('client.request without an answer', () => {
  let resetting: ControlledUpstream;
  beforeEach(async () => {
    resetting = await startUpstream({ mode: { kind: 'reset' } });
  });
  afterEach(() => resetting.close());

  it('retries a network error only for idempotent or keyed requests', async () => {
    const client = createClient({ baseUrl: resetting.url, retry: { maxAttempts: 3, baseDelayMs: 5 } });
    const post = await rejection(client.request('/x', { method: 'POST', body: 'once' }));
    // fetch's own TypeError (from Node's realm, not jest's: compared by name).
    expect([(post as Error).name, (post as Error).message]).toEqual(['TypeError', 'fetch failed']);
    expect(resetting.received).toHaveLength(1);
    resetting.reset();
    await rejection(client.request('/x', { method: 'POST', body: 'keyed', idempotencyKey: 'k1' }));
    expect(resetting.received.map((r) => r.headers['idempotency-key'])).toEqual(['k1', 'k1', 'k1']);
    resetting.reset();
    await rejection(client.request('/x', { method: 'PUT', body: 'idempotent' }));
    expect(resetting.received).toHaveLength(3);
  });
});

describe('watchConnection against a real gateway', () => {
  const upstreams: ControlledUpstream[] = [];
  const gateways: Gateway[] = [];
  const watches: Array<{ stop(): void }> = [];
  const watch = (options: Parameters<typeof watchConnection>[0]) => {
    const w = watchConnection(options);
    watches.push(w);
    return w;
  };
  afterEach(() => watches.forEach((w) => w.stop()));
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.close()));
    await Promise.all(upstreams.map((u) => u.close()));
  });

  function record(watch: ReturnType<typeof watchConnection>): Array<{ event: string; at: number; detail: unknown }> {
    const seen: Array<{ event: string; at: number; detail: unknown }> = [];
    for (const event of ['lost', 'degraded', 'back', 'restarted'] as const) {
      watch.on(event, (detail: ConnectionEvents[typeof event]) => seen.push({ event, at: Date.now(), detail }));
    }
    return seen;
  }

  it('reports lost within one interval of the gateway stopping, then restarted and back from a new gateway process on the same port', async () => {
    const a = await startUpstream();
    upstreams.push(a);
    const raw = { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, ...oneRoute(a.url) };
    const first = new Gateway(parseConfig(raw), { logger: createLogger('silent') });
    gateways.push(first);
    const { port } = await first.start({ port: 0, host: '127.0.0.1' });
    const intervalMs = 400;
    const w = watch({ baseUrl: first.url, intervalMs });
    const seen = record(w);
    await waitFor(() => w.status !== null, 2000, 'first poll');
    expect(w.state).toBe('online');
    const firstId = w.status?.instanceId;

    const stoppedAt = Date.now();
    await first.close();
    await waitFor(() => w.state === 'offline', 3000, 'offline');
    const lost = seen.find((s) => s.event === 'lost');
    expect(lost?.detail).toMatchObject({ reason: 'unreachable', lost: [] });
    // One interval, plus slack for a loaded machine.
    expect((lost?.at ?? Infinity) - stoppedAt).toBeLessThanOrEqual(intervalMs + 400);

    await sleep(intervalMs * 2); // still offline, and said once
    expect(seen.filter((s) => s.event === 'lost')).toHaveLength(1);

    const second = new Gateway(parseConfig(raw), { logger: createLogger('silent') });
    gateways.push(second);
    await second.start({ port, host: '127.0.0.1', adminPort: 0 });
    const startedAt = Date.now();
    await waitFor(() => w.state === 'online', 3000, 'online again');
    expect(Date.now() - startedAt).toBeLessThanOrEqual(intervalMs + 400);
    const after = seen.filter((s) => s.at >= startedAt).map((s) => s.event);
    expect(after).toEqual(['restarted', 'back']);
    expect(seen.find((s) => s.event === 'restarted')?.detail).toEqual({ previous: firstId, current: w.status?.instanceId });
    expect(w.status?.instanceId).not.toBe(firstId);
    w.stop();
  });

  it('reports degraded with the names lost, offline when an essential upstream is lost, and back', async () => {
    const [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    upstreams.push(a, b);
    const healthCheck = { path: '/health', intervalMs: 100, timeoutMs: 100, unhealthyThreshold: 1, healthyThreshold: 1 };
    const gw = await startGateway({
      upstreams: { business: { url: a.url, healthCheck }, archive: { url: b.url, healthCheck } },
      routes: [{ path: '/api/loans', upstream: 'business' }, { path: '/api/documents', upstream: 'archive' }],
    });
    gateways.push(gw.gw);
    const plain = watch({ baseUrl: gw.url, intervalMs: 200 });
    const strict = watch({ baseUrl: gw.url, intervalMs: 200, essential: ['business'] });
    const seenPlain = record(plain);
    const seenStrict = record(strict);
    await waitFor(() => plain.status?.status === 'ok' && strict.status?.status === 'ok', 3000, 'ok');

    b.setHealth(false);
    await waitFor(() => plain.state === 'degraded' && strict.state === 'degraded', 3000, 'degraded');
    expect(seenPlain.map((s) => [s.event, s.detail])).toEqual([['degraded', { lost: ['archive'] }]]);

    a.setHealth(false);
    // Both lost: every route has a lost upstream, so the gateway itself says down.
    await waitFor(() => plain.state === 'offline', 3000, 'offline');
    expect(seenPlain.at(-1)).toMatchObject({ event: 'lost', detail: { reason: 'down', lost: ['archive', 'business'] } });

    b.setHealth(true);
    await waitFor(() => plain.state === 'degraded', 3000, 'degraded again');
    expect(seenPlain.at(-1)).toMatchObject({ event: 'degraded', detail: { lost: ['business'] } });
    // The same status is offline to a caller that needs the business layer (it polls on its own clock).
    await waitFor(() => strict.lost.join() === 'business', 3000, 'strict sees only business lost');
    expect(strict.state).toBe('offline');
    expect(seenStrict.map((s) => s.event)).toEqual(['degraded', 'lost']);

    a.setHealth(true);
    await waitFor(() => plain.state === 'online' && strict.state === 'online', 3000, 'online');
    expect(seenPlain.at(-1)?.event).toBe('back');
    expect(seenStrict.at(-1)?.event).toBe('back');
    expect(seenPlain.some((s) => s.event === 'restarted')).toBe(false);
    plain.stop();
    strict.stop();
  });

  it('check() polls at once, and stop() ends polling and listeners', async () => {
    const a = await startUpstream();
    upstreams.push(a);
    const gw = await startGateway(oneRoute(a.url));
    gateways.push(gw.gw);
    const w = watch({ baseUrl: gw.url, intervalMs: 60_000 });
    await waitFor(() => w.status !== null, 2000, 'first poll');
    const seen = record(w);
    await gw.close();
    expect(await w.check()).toBe('offline');
    expect(seen.map((s) => s.event)).toEqual(['lost']);
    w.stop();
    expect(await w.check()).toBe('offline');
  });
});
