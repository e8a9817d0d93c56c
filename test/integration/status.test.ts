/**
 * SPEC §6: /status for polling clients (ok → degraded → down → ok, restarts of upstreams and
 * of the gateway, no upstream call at request time, no caching), /healthz and /readyz; every
 * answer validated against openapi.yaml.
 */
import http from 'node:http';
import { request, startGateway, waitFor, type Reply, type StartedGateway } from '../helpers/gateway';
import { expectResponseToMatch } from '../helpers/openapi';
import { startStallMeter } from '../helpers/stall-meter';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const HC = { path: '/health', intervalMs: 100, timeoutMs: 200, unhealthyThreshold: 1, healthyThreshold: 1 };

interface StatusBody {
  status: string;
  instanceId: string;
  startedAt: string;
  upstreams: Record<string, { state: string; breaker: string; since: string; restartedAt: string | null; recoveredAt: string | null }>;
}

async function status(g: StartedGateway): Promise<StatusBody & { reply: Reply }> {
  const reply = await request(g.url, '/status');
  expect(reply.status).toBe(200);
  expect(reply.headers['cache-control']).toBe('no-store');
  expectResponseToMatch('/status', 'get', reply);
  return { ...(reply.json as unknown as StatusBody), reply };
}

describe('/status', () => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    [business, bureau] = await Promise.all([startUpstream(), startUpstream()]);
    g = await startGateway({
      upstreams: { business: { url: business.url, healthCheck: HC }, bureau: { url: bureau.url, healthCheck: HC } },
      routes: [
        { path: '/api/loans', upstream: 'business' },
        { path: '/api/applications', upstream: 'business', requires: ['bureau'] },
      ],
    });
    await waitFor(() => g.gw.registry.all().every((u) => u.health.state === 'up'), 2000, 'all up');
  });
  afterAll(async () => {
    await g.close();
    await business.close();
    await bureau.close();
  });

  it('ok when every upstream is up, with the gateway identity', async () => {
    const s = await status(g);
    expect(s.status).toBe('ok');
    expect(s.instanceId).toBe(g.gw.instance.instanceId);
    expect(Date.parse(s.startedAt)).toBe(g.gw.instance.startedAt);
    expect(s.upstreams.business).toMatchObject({ state: 'up', breaker: 'closed', restartedAt: null });
    expect(s.upstreams.bureau).toMatchObject({ state: 'up', breaker: 'closed', restartedAt: null });
  });

  it('degraded when some upstream is down (some routes can still be served)', async () => {
    bureau.setHealth(false);
    await waitFor(() => g.gw.registry.get('bureau').health.state === 'down', 2000, 'bureau down');
    const s = await status(g);
    expect(s.status).toBe('degraded');
    expect(s.upstreams.bureau).toMatchObject({ state: 'down', breaker: 'open' });
    expect(s.upstreams.business).toMatchObject({ state: 'up', breaker: 'closed' });
  });

  it('down when the gateway can serve nothing', async () => {
    business.setHealth(false);
    await waitFor(() => g.gw.registry.get('business').health.state === 'down', 2000, 'business down');
    const s = await status(g);
    expect(s.status).toBe('down');
    expect(s.upstreams.business).toMatchObject({ state: 'down', breaker: 'open' });
  });

  it('ok again after recovery, with recoveredAt; a restarted upstream shows restartedAt', async () => {
    const before = Date.now();
    bureau.setInstanceId('bureau-2'); // restarted while it was down
    business.setHealth(true);
    bureau.setHealth(true);
    await waitFor(() => g.gw.registry.all().every((u) => u.health.state === 'up'), 2000, 'all up again');
    const s = await status(g);
    expect(s.status).toBe('ok');
    expect(Date.parse(s.upstreams.bureau?.recoveredAt ?? '')).toBeGreaterThanOrEqual(before);
    expect(Date.parse(s.upstreams.bureau?.restartedAt ?? '')).toBeGreaterThanOrEqual(before);
    expect(s.upstreams.business?.restartedAt).toBeNull();
  });

  it('is computed from memory: polling it calls no upstream', async () => {
    business.reset();
    bureau.reset();
    const checks = [business.healthChecks, bureau.healthChecks];
    // 20 pollers on keep-alive connections, 10 polls each.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    const poll = (): Promise<number> => new Promise((resolve, reject) => {
      http.get(`${g.url}/status`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
    const stalls = startStallMeter();
    const held = stalls.mark();
    const t = Date.now();
    const codes = (await Promise.all(Array.from({ length: 20 }, async () => {
      const mine: number[] = [];
      for (let i = 0; i < 10; i++) mine.push(await poll());
      return mine;
    }))).flat();
    agent.destroy();
    expect(codes).toHaveLength(200);
    expect(codes.every((c) => c === 200)).toBe(true);
    const elapsed = Date.now() - t;
    // 200 polls in 2 s, plus whatever time this process (gateway included) was held up.
    expect(elapsed).toBeLessThan(2000 + stalls.lostSince(held));
    stalls.stop();
    expect(business.received).toHaveLength(0);
    expect(bureau.received).toHaveLength(0);
    // Only the periodic checks touched /health meanwhile: one per interval (less 10 % jitter)
    // of however long the polls took, not one per poll.
    const periodic = elapsed / (HC.intervalMs * 0.9) + 5;
    expect(business.healthChecks - (checks[0] ?? 0)).toBeLessThan(periodic);
    expect(bureau.healthChecks - (checks[1] ?? 0)).toBeLessThan(periodic);
  });

  it('answers other methods with METHOD_NOT_ALLOWED', async () => {
    const r = await request(g.url, '/status', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.json?.code).toBe('METHOD_NOT_ALLOWED');
    expectResponseToMatch('/status', 'get', r); // openapi.yaml lists the 405 under the one operation there is
  });
});

describe('/healthz, /readyz and a gateway restart', () => {
  it('/healthz and /readyz answer as documented; a new process has a new instanceId', async () => {
    const u = await startUpstream({ mode: { kind: 'hang' } });
    const first = await startGateway({ upstreams: { slow: { url: u.url } }, routes: [{ path: '/api', upstream: 'slow' }], shutdown: { drainTimeoutMs: 5000 } });
    const second = await startGateway({ upstreams: { slow: { url: u.url } }, routes: [{ path: '/api', upstream: 'slow' }] });
    try {
      const live = await request(first.url, '/healthz');
      expect(live.status).toBe(200);
      expectResponseToMatch('/healthz', 'get', live);
      expect(live.json).toMatchObject({ status: 'ok', instanceId: first.gw.instance.instanceId });
      const ready = await request(first.url, '/readyz');
      expect(ready.status).toBe(200);
      expectResponseToMatch('/readyz', 'get', ready);

      const s1 = await status(first);
      const s2 = await status(second);
      expect(s1.instanceId).not.toBe(s2.instanceId); // what a polling client sees after a restart

      // Draining (a request is in flight on a hanging upstream): not ready, and /status says down.
      const inFlight = request(first.url, '/api/x', { timeoutMs: 5000 });
      await waitFor(() => u.received.length === 1, 2000, 'request in flight');
      const draining = first.gw.shutdown();
      const notReady = await request(first.url, '/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.json).toEqual({ status: 'draining' });
      expectResponseToMatch('/readyz', 'get', notReady);
      expect((await status(first)).status).toBe('down');
      await first.close();
      await draining;
      await inFlight;
    } finally {
      await first.close();
      await second.close();
      await u.close();
    }
  });
});
