/**
 * SPEC §7 breaker API: GET /admin/breakers (state, since, next trial, forced flag, health,
 * rolling stats) and POST …/open|close|reset, against real upstreams over real HTTP.
 * Every admin JSON answer is validated against openapi.yaml.
 */
import { expectResponseToMatch } from '../helpers/openapi';
import { expectProblem, request, sleep, startGateway, waitFor, type Reply, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'admin-test-token';
const auth = { Authorization: `Bearer ${TOKEN}` };
const RESET_TIMEOUT_MS = 400;

interface BreakerJson {
  name: string;
  state: string;
  since: string;
  nextTrialAt: string | null;
  forced: string | null;
  forcedBy: string | null;
  reason: string;
  health: { state: string; since: string | null; lastCheckAt: string | null; restartedAt: string | null; instanceId: string | null };
  stats: { windowMs: number; requests: number; successes: number; failures: number; timeouts: number; rejections: number; errorPercentage: number; latencyMs: { p50: number | null; p95: number | null; p99: number | null } };
}

describe('admin breakers API', () => {
  let backend: ControlledUpstream;
  let checked: ControlledUpstream;
  let gw: StartedGateway;
  let admin: string;

  const list = async (): Promise<BreakerJson[]> => {
    const reply = await request(admin, '/admin/breakers', { headers: auth });
    expect(reply.status).toBe(200);
    expectResponseToMatch('/admin/breakers', 'get', reply);
    return (reply.json as { breakers: BreakerJson[] }).breakers;
  };
  const one = async (name: string): Promise<BreakerJson> => (await list()).find((b) => b.name === name) as BreakerJson;
  const act = async (name: string, action: string): Promise<Reply> => {
    const reply = await request(admin, `/admin/breakers/${name}/${action}`, { method: 'POST', headers: auth });
    if (reply.status === 200) expectResponseToMatch('/admin/breakers/{name}/{action}', 'post', reply);
    return reply;
  };
  const call = (path = '/api/x'): Promise<Reply> => request(gw.url, path);

  beforeAll(async () => {
    backend = await startUpstream();
    checked = await startUpstream();
    const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: RESET_TIMEOUT_MS, rollingWindowMs: 5000 };
    gw = await startGateway(
      {
        admin: { token: TOKEN },
        upstreams: {
          backend: { url: backend.url, breaker },
          checked: { url: checked.url, breaker, healthCheck: { path: '/health', intervalMs: 50, timeoutMs: 200, unhealthyThreshold: 1, healthyThreshold: 1 } },
        },
        routes: [
          { path: '/api', upstream: 'backend' },
          { path: '/checked', upstream: 'checked' },
        ],
      },
      { processMetrics: false },
    );
    admin = gw.gw.adminUrl;
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([backend.close(), checked.close()]);
  });
  beforeEach(async () => {
    backend.setMode({ kind: 'ok' });
    checked.setMode({ kind: 'ok' });
    checked.setHealth(true);
    await act('backend', 'reset');
    await act('checked', 'reset');
    backend.reset();
    checked.reset();
  });

  it('lists every upstream in configuration order with the documented shape', async () => {
    const reply = await request(admin, '/admin/breakers', { headers: auth });
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.headers['cache-control']).toBe('no-store');
    const body = reply.json as { generatedAt: string; breakers: BreakerJson[] };
    expect(Math.abs(Date.parse(body.generatedAt) - Date.now())).toBeLessThan(2000);
    expect(body.breakers.map((b) => b.name)).toEqual(['backend', 'checked']);
    const b = body.breakers[0] as BreakerJson;
    expect(b).toMatchObject({ state: 'closed', nextTrialAt: null, forced: null, forcedBy: null });
    expect(b.health).toEqual({ state: 'unknown', since: null, lastCheckAt: null, restartedAt: null, instanceId: null });
    expect(b.stats).toMatchObject({ windowMs: 5000, requests: 0, errorPercentage: 0, latencyMs: { p50: null, p95: null, p99: null } });
    await waitFor(() => gw.gw.registry.get('checked').health.state === 'up', 2000, 'checked up');
    const c = await one('checked');
    expect(c.health.state).toBe('up');
    expect(c.health.lastCheckAt).not.toBeNull();
    expect(c.health.instanceId).toEqual(expect.any(String));
  });

  it('counts real traffic in the rolling stats, with latency percentiles', async () => {
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    backend.setMode({ kind: 'status', status: 500 });
    expect((await call()).status).toBe(500);
    const b = await one('backend');
    expect(b.stats).toMatchObject({ requests: 4, successes: 3, failures: 1, timeouts: 0, rejections: 0, errorPercentage: 25 });
    expect(b.stats.latencyMs.p50).toEqual(expect.any(Number));
    expect(b.stats.latencyMs.p99 as number).toBeGreaterThanOrEqual(b.stats.latencyMs.p50 as number);
  });

  it('shows a breaker tripped by a failing upstream, with its next trial time', async () => {
    backend.setMode({ kind: 'status', status: 503 });
    await call();
    await call();
    expect((await call()).status).toBe(503);
    const b = await one('backend');
    expect(b).toMatchObject({ state: 'open', reason: 'failures', forced: null, forcedBy: null });
    const trialIn = Date.parse(b.nextTrialAt as string) - Date.parse(b.since);
    expect(trialIn).toBe(RESET_TIMEOUT_MS);
    expect(b.stats.rejections).toBeGreaterThanOrEqual(1);
  });

  it('open: holds the breaker open, refusing every call, and records the call that forced it', async () => {
    const reply = await act('backend', 'open');
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ name: 'backend', state: 'open', forced: 'open', forcedBy: 'POST /admin/breakers/backend/open', reason: 'forced', nextTrialAt: null });
    const refused = await call();
    expectProblem(refused, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'backend' });
    // No half-open trial: the reset timeout passes and the breaker stays open.
    await sleep(RESET_TIMEOUT_MS * 2);
    expect(await one('backend')).toMatchObject({ state: 'open', forced: 'open' });
    expectProblem(await call(), { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true });
    expect(backend.received).toHaveLength(0);
  });

  it('open: passing health checks do not close a forced-open breaker', async () => {
    await waitFor(() => gw.gw.registry.get('checked').health.state === 'up', 2000, 'checked up');
    await act('checked', 'open');
    checked.setHealth(false);
    await waitFor(() => gw.gw.registry.get('checked').health.state === 'down', 2000, 'checked down');
    checked.setHealth(true);
    await waitFor(() => gw.gw.registry.get('checked').health.state === 'up', 2000, 'checked up again');
    await sleep(200);
    expect(await one('checked')).toMatchObject({ state: 'open', forced: 'open', health: { state: 'up' } });
    expectProblem(await call('/checked/x'), { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true });
    expect(checked.received).toHaveLength(0);
  });

  it('close: holds the breaker closed while the upstream keeps failing', async () => {
    backend.setMode({ kind: 'status', status: 503 });
    for (let i = 0; i < 3; i++) await call();
    expect((await one('backend')).state).toBe('open');
    const reply = await act('backend', 'close');
    expect(reply.json).toMatchObject({ state: 'closed', forced: 'closed', forcedBy: 'POST /admin/breakers/backend/close', reason: 'forced' });
    for (let i = 0; i < 6; i++) expect((await call()).status).toBe(503); // the upstream's own 503, passed through
    expect(await one('backend')).toMatchObject({ state: 'closed', forced: 'closed' });
    expect(backend.received.length).toBeGreaterThanOrEqual(6);
  });

  it('close after open: an operator closes a forced-open breaker', async () => {
    await act('backend', 'open');
    const reply = await act('backend', 'close');
    expect(reply.json).toMatchObject({ state: 'closed', forced: 'closed' });
    expect((await call()).status).toBe(200);
  });

  it('reset: clears the forced state and the statistics; the breaker is automatic again', async () => {
    backend.setMode({ kind: 'status', status: 503 });
    for (let i = 0; i < 3; i++) await call();
    await act('backend', 'open');
    const reply = await act('backend', 'reset');
    expect(reply.json).toMatchObject({ state: 'closed', forced: null, forcedBy: null, reason: 'reset', stats: { requests: 0 } });
    // Automatic: it trips again on failures.
    for (let i = 0; i < 3; i++) await call();
    expect(await one('backend')).toMatchObject({ state: 'open', reason: 'failures', forced: null });
  });

  it('answers 404 ROUTE_NOT_FOUND for an unknown upstream or action, 405 for a wrong method', async () => {
    const unknown = await act('nope', 'open');
    expectProblem(unknown, { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expectResponseToMatch('/admin/breakers/{name}/{action}', 'post', unknown);
    expectProblem(await act('backend', 'explode'), { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    const get = await request(admin, '/admin/breakers/backend/open', { headers: auth });
    expectProblem(get, { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false });
    expect(get.headers.allow).toBe('POST');
    const del = await request(admin, '/admin/breakers', { method: 'DELETE', headers: auth });
    expectProblem(del, { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false });
    expect(del.headers.allow).toBe('GET, HEAD');
    expectResponseToMatch('/admin/breakers', 'get', del);
  });

  it('401 answers match the contract', async () => {
    const reply = await request(admin, '/admin/breakers');
    expectResponseToMatch('/admin/breakers', 'get', reply);
    const post = await request(admin, '/admin/breakers/backend/open', { method: 'POST' });
    expectResponseToMatch('/admin/breakers/{name}/{action}', 'post', post);
  });
});
