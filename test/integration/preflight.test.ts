/**
 * SPEC §5 pre-flight with real upstreams: a route's own upstream and its `requires` must all
 * be available before a byte is forwarded; otherwise DEPENDENCY_UNAVAILABLE names them and
 * no upstream receives anything. Also `preflight: probe` (live probes, cached).
 */
import { expectProblem, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { expectResponseToMatch } from '../helpers/openapi';
import { refusingPort, startUpstream, type ControlledUpstream } from '../helpers/upstream';

const HC = { path: '/health', intervalMs: 100, timeoutMs: 200, unhealthyThreshold: 1, healthyThreshold: 1 };
const JSON_BODY = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"orgNo":"556677-8899","amount":250000}' };

describe('pre-flight (preflight: state)', () => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let archive: ControlledUpstream;
  let g: StartedGateway;
  const all = (): ControlledUpstream[] => [business, bureau, archive];
  const received = (): number[] => all().map((u) => u.received.length);

  beforeAll(async () => {
    [business, bureau, archive] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
    g = await startGateway({
      upstreams: {
        business: { url: business.url, healthCheck: HC },
        bureau: { url: bureau.url, healthCheck: HC, breaker: { volumeThreshold: 1, resetTimeoutMs: 3000 } },
        archive: { url: archive.url, healthCheck: HC },
      },
      routes: [
        { path: '/api/applications', upstream: 'business', requires: ['bureau', 'archive'] },
        { path: '/api/loans', upstream: 'business' },
        { path: '/api/reports', upstream: 'bureau' },
      ],
    });
    await waitFor(() => g.gw.registry.all().every((u) => u.health.state === 'up'), 2000, 'all up');
  });
  afterAll(async () => {
    await g.close();
    await Promise.all(all().map((u) => u.close()));
  });
  beforeEach(() => all().forEach((u) => u.reset()));

  it('forwards when every requirement is available (control)', async () => {
    const r = await request(g.url, '/api/applications', JSON_BODY);
    expect(r.status).toBe(200);
    expect(received()).toEqual([1, 0, 0]);
  });

  it('answers DEPENDENCY_UNAVAILABLE naming every unavailable requirement; no upstream receives a byte', async () => {
    bureau.setHealth(false);
    archive.setHealth(false);
    await waitFor(() => g.gw.registry.get('bureau').health.state === 'down' && g.gw.registry.get('archive').health.state === 'down', 2000, 'both down');
    const r = await request(g.url, '/api/applications', JSON_BODY);
    const body = expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true, upstream: 'business' });
    expect(body.unavailable).toEqual(['bureau', 'archive']);
    // The soonest either may be back: its next probe, ~100 ms away → the minimum of 1 s.
    expect(body.retryAfterSeconds).toBe(1);
    expect(r.headers['retry-after']).toBe('1');
    expectResponseToMatch('/{routePath}', 'get', r);
    expect(received()).toEqual([0, 0, 0]);
    // A route without requires whose upstream is fine still works: pre-flight is per route.
    expect((await request(g.url, '/api/loans')).status).toBe(200);
  });

  it('lets traffic through again once the requirements recover', async () => {
    bureau.setHealth(true);
    archive.setHealth(true);
    await waitFor(() => g.gw.registry.all().every((u) => u.health.state === 'up'), 2000, 'all up again');
    const r = await request(g.url, '/api/applications', JSON_BODY);
    expect(r.status).toBe(200);
    expect(received()).toEqual([1, 0, 0]);
  });

  it('counts a breaker opened by failures, with Retry-After until its trial', async () => {
    bureau.setMode({ kind: 'status', status: 503 });
    expect((await request(g.url, '/api/reports/1')).status).toBe(503); // the upstream's own 503 passes through
    const bureauBreaker = g.gw.registry.get('bureau').breaker;
    expect(bureauBreaker.state()).toMatchObject({ value: 'open', reason: 'failures' });
    bureau.reset();
    const r = await request(g.url, '/api/applications', JSON_BODY);
    const body = expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true });
    expect(body.unavailable).toEqual(['bureau']);
    expect(body.retryAfterSeconds).toBeGreaterThanOrEqual(2);
    expect(body.retryAfterSeconds).toBeLessThanOrEqual(3); // resetTimeoutMs 3000
    expect(received()).toEqual([0, 0, 0]);
    bureau.setMode({ kind: 'ok' });
    bureauBreaker.reset();
  });

  it('the route\'s own upstream counts too; a route without requires answers CIRCUIT_OPEN instead', async () => {
    business.setHealth(false);
    await waitFor(() => g.gw.registry.get('business').breaker.isOpen(), 2000, 'business down');
    const r = await request(g.url, '/api/applications', JSON_BODY);
    expect(expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true }).unavailable).toEqual(['business']);
    const plain = await request(g.url, '/api/loans');
    expectProblem(plain, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'business' });
    expect(received()).toEqual([0, 0, 0]);
    business.setHealth(true);
    await waitFor(() => g.gw.registry.get('business').health.state === 'up', 2000, 'business up');
  });
});

describe('pre-flight (preflight: probe)', () => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let g: StartedGateway;

  afterEach(async () => {
    await g.close();
    await business.close();
    await bureau.close();
  });

  it('probes a stale requirement live before forwarding, caches the result, and refuses when it fails', async () => {
    [business, bureau] = await Promise.all([startUpstream(), startUpstream()]);
    g = await startGateway({
      upstreams: {
        business: { url: business.url },
        // A long interval: between periodic checks, the last health result is stale.
        bureau: { url: bureau.url, healthCheck: { ...HC, intervalMs: 60_000, unhealthyThreshold: 3 } },
      },
      routes: [{ path: '/api/applications', upstream: 'business', requires: ['bureau'], preflight: 'probe', preflightCacheMs: 300 }],
    });
    // Stop the periodic checks so that only pre-flight probes reach /health.
    g.gw.healthCheckers.forEach((c) => c.close());
    const probes = bureau.healthChecks;

    expect((await request(g.url, '/api/applications', JSON_BODY)).status).toBe(200);
    expect(bureau.healthChecks).toBe(probes + 1);
    // Within preflightCacheMs the result is trusted: no second probe, even for concurrent requests.
    const replies = await Promise.all([1, 2, 3].map(() => request(g.url, '/api/applications', JSON_BODY)));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(bureau.healthChecks).toBe(probes + 1);

    bureau.setHealth(false);
    await sleep(350); // past preflightCacheMs
    business.reset();
    const r = await request(g.url, '/api/applications', JSON_BODY);
    const body = expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true });
    expect(body.unavailable).toEqual(['bureau']);
    expect(body.retryAfterSeconds).toBe(1);
    expectResponseToMatch('/{routePath}', 'get', r);
    expect(bureau.healthChecks).toBe(probes + 2);
    expect(business.received).toHaveLength(0);
    expect(bureau.received).toHaveLength(0);
    // One failed probe is not a health verdict: the upstream is not marked down by pre-flight.
    expect(g.gw.registry.get('bureau').health.state).not.toBe('down');
  });

  it('probes a requirement without healthCheck by connecting to it', async () => {
    [business, bureau] = await Promise.all([startUpstream(), startUpstream()]);
    const port = await refusingPort();
    g = await startGateway({
      upstreams: { business: { url: business.url }, gone: { url: `http://127.0.0.1:${port}` }, bureau: { url: bureau.url } },
      routes: [
        { path: '/a', upstream: 'business', requires: ['gone'], preflight: 'probe' },
        { path: '/b', upstream: 'business', requires: ['bureau'], preflight: 'probe' },
      ],
    });
    const r = await request(g.url, '/a', JSON_BODY);
    expect(expectProblem(r, { status: 503, code: 'DEPENDENCY_UNAVAILABLE', forwarded: false, retryable: true }).unavailable).toEqual(['gone']);
    expect(business.received).toHaveLength(0);
    expect((await request(g.url, '/b', JSON_BODY)).status).toBe(200);
    expect(bureau.connections).toBe(1); // connected to, never sent a request
    expect(bureau.received).toHaveLength(0);
    expect(bureau.healthChecks).toBe(0);
  });
});
