/**
 * SPEC §4/§5: the problems the gateway answers before forwarding anything — an open breaker,
 * an unavailable dependency, a full concurrency limit — each with `forwarded: false`, a
 * `Retry-After`, and an upstream that received nothing.
 */
import { expectProblem, request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

describe('refusals before forwarding', () => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    [business, bureau] = await Promise.all([startUpstream(), startUpstream()]);
    g = await startGateway({
      upstreams: { business: { url: business.url, maxConcurrent: 1 }, bureau: { url: bureau.url } },
      routes: [
        { path: '/loans', upstream: 'business', requires: ['bureau'] },
        { path: '/business', upstream: 'business' },
        { path: '/bureau', upstream: 'bureau' },
      ],
    });
  });
  afterAll(async () => {
    await g.close();
    await Promise.all([business.close(), bureau.close()]);
  });
  beforeEach(() => {
    business.reset();
    bureau.reset();
    business.setMode({ kind: 'ok' });
    for (const u of g.gw.registry.all()) u.breaker.reset();
  });

  it('CIRCUIT_OPEN while an operator holds the breaker open: 503, Retry-After = resetTimeoutMs (no trial is due), nothing sent', async () => {
    g.gw.registry.get('bureau').breaker.forceOpen();
    const r = await request(g.url, '/bureau/score', { method: 'POST', body: '{}' });
    const body = expectProblem(r, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'bureau' });
    const resetSeconds = g.gw.registry.get('bureau').config.breaker.resetTimeoutMs / 1000;
    expect(resetSeconds).toBeGreaterThan(1);
    expect(r.headers['retry-after']).toBe(String(resetSeconds));
    expect(body.retryAfterSeconds).toBe(resetSeconds);
    expect(bureau.received).toHaveLength(0);
  });

  it('DEPENDENCY_UNAVAILABLE when a required upstream is unavailable: no upstream receives anything', async () => {
    g.gw.registry.get('bureau').breaker.forceOpen();
    const r = await request(g.url, '/loans/1', { method: 'POST', body: '{"amount":5}' });
    const body = expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true, upstream: 'business' });
    expect(body.unavailable).toEqual(['bureau']);
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(business.received).toHaveLength(0);
    expect(bureau.received).toHaveLength(0);
  });

  it('the same route forwards once the requirement is available again (control)', async () => {
    const r = await request(g.url, '/loans/1', { method: 'POST', body: '{"amount":5}' });
    expect(r.status).toBe(200);
    expect(business.received).toHaveLength(1);
    expect(bureau.received).toHaveLength(0);
  });

  it('GATEWAY_OVERLOADED when the upstream\'s maxConcurrent requests are in flight: 503, Retry-After 1, not sent', async () => {
    const stats = g.gw.registry.get('business').stats;
    const before = stats.snapshot();
    business.setMode({ kind: 'slow', delayMs: 300 });
    const first = request(g.url, '/business/a');
    await waitFor(() => business.received.length === 1, 2000, 'first request upstream');
    const second = await request(g.url, '/business/b', { method: 'POST', body: '{}' });
    expectProblem(second, { status: 503, code: 'GATEWAY_OVERLOADED', forwarded: false, retryable: true, upstream: 'business' });
    expect(second.headers['retry-after']).toBe('1');
    expect((await first).status).toBe(200);
    expect(business.received.map((q) => q.url)).toEqual(['/business/a']);
    // The slot is free again once the first exchange is over.
    business.setMode({ kind: 'ok' });
    expect((await request(g.url, '/business/c')).status).toBe(200);
    // Refusals for overload are not upstream failures (nor successes): counted once, as rejections.
    expect(g.gw.registry.get('business').breaker.state().value).toBe('closed');
    const after = stats.snapshot();
    expect({ rejections: after.rejections - before.rejections, successes: after.successes - before.successes, failures: after.failures - before.failures }).toEqual({ rejections: 1, successes: 2, failures: 0 });
  });
});
