/**
 * SPEC §5 active health checks against real upstreams whose /health flips: the breaker opens
 * on health before any caller request, recovery closes it, a changed instance id is a
 * restart, probes never count as traffic, and checks stop with the gateway.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logging';
import type { HealthChange, UpstreamRestart } from '../../src/upstreams/health-checker';
import { expectProblem, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { expectResponseToMatch } from '../helpers/openapi';
import { fixtureCa, startUpstream, type ControlledUpstream } from '../helpers/upstream';

const HC = { path: '/health', intervalMs: 100, timeoutMs: 200, unhealthyThreshold: 2, healthyThreshold: 2 };

function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('active health checks', () => {
  let up: ControlledUpstream;
  let g: StartedGateway;
  let log: ReturnType<typeof logSink>;
  const health: HealthChange[] = [];
  const restarts: UpstreamRestart[] = [];
  let observed = 0;

  beforeAll(async () => {
    up = await startUpstream();
    up.setInstanceId('instance-a');
    up.setHealth(false); // down before the gateway even starts
    log = logSink();
    g = await startGateway(
      { upstreams: { backend: { url: up.url, healthCheck: HC } }, routes: [{ path: '/api', upstream: 'backend' }] },
      { logger: createLogger('info', log.stream), observers: [() => observed++] },
    );
    const checker = g.gw.healthCheckers[0];
    checker?.on('health', (e) => health.push(e));
    checker?.on('restart', (e) => restarts.push(e));
  });
  afterAll(async () => {
    await g.close();
    await up.close();
  });

  it('opens the breaker on health alone, before any caller request', async () => {
    const backend = g.gw.registry.get('backend');
    const started = Date.now();
    await waitFor(() => backend.breaker.isOpen(), 2000, 'breaker opened by health');
    // Two failed probes ~100 ms apart (the first within 10 ms of start): well under a second.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(backend.health.state).toBe('down');
    expect(backend.breaker.state()).toMatchObject({ value: 'open', reason: 'health' });
    expect(up.received).toHaveLength(0);
    expect(health.map((e) => `${e.from}→${e.to}`)).toEqual(['unknown→down']);
    expect(log.lines.find((l) => l.event === 'health-change')).toMatchObject({ upstream: 'backend', from: 'unknown', to: 'down', error: 'status 503' });
    expect(log.lines.find((l) => l.event === 'breaker-transition')).toMatchObject({ upstream: 'backend', to: 'open', reason: 'health' });
  });

  it('callers then fail fast with CIRCUIT_OPEN, and nothing reaches the upstream', async () => {
    const t = Date.now();
    const r = await request(g.url, '/api/items');
    expect(Date.now() - t).toBeLessThan(500);
    const body = expectProblem(r, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'backend' });
    // Retry-After: when health may bring it back (next probe + one more, ~200 ms) → at least 1 s.
    expect(body.retryAfterSeconds).toBe(1);
    expectResponseToMatch('/{routePath}', 'get', r);
    expect(up.received).toHaveLength(0);
  });

  it('health probes never count as caller traffic', () => {
    expect(up.healthChecks).toBeGreaterThanOrEqual(2);
    const stats = g.gw.registry.get('backend').stats.snapshot();
    // The one CIRCUIT_OPEN refusal above is the only thing the breaker saw.
    expect(stats).toMatchObject({ successes: 0, failures: 0, timeouts: 0, rejections: 1, requests: 1 });
    expect(observed).toBe(1);
  });

  it('recovers after healthyThreshold good probes: health up, breaker closed, traffic flows', async () => {
    const backend = g.gw.registry.get('backend');
    const flipped = Date.now();
    up.setHealth(true);
    await waitFor(() => backend.health.state === 'up', 2000, 'health up');
    expect(Date.now() - flipped).toBeLessThan(1000);
    expect(backend.breaker.state()).toMatchObject({ value: 'closed', reason: 'health' });
    expect(backend.health.recoveredAt).toBe(backend.health.since);
    expect(health.map((e) => `${e.from}→${e.to}`)).toEqual(['unknown→down', 'down→up']);
    expect(log.lines.find((l) => l.event === 'health-change' && l.to === 'up')).toMatchObject({ from: 'down', msg: 'upstream backend recovered' });
    const r = await request(g.url, '/api/items');
    expect(r.status).toBe(200);
    expect(up.received).toHaveLength(1);
  });

  it('detects a restart from a changed instance id, and shows it in /status', async () => {
    const backend = g.gw.registry.get('backend');
    expect(backend.health.instanceId).toBe('instance-a');
    expect(backend.health.restartedAt).toBeNull();
    up.setInstanceId('instance-b');
    await waitFor(() => backend.health.restartedAt !== null, 2000, 'restart detected');
    expect(restarts).toEqual([{ name: 'backend', target: 'backend-1', at: backend.health.restartedAt, previousInstanceId: 'instance-a', instanceId: 'instance-b' }]);
    expect(log.lines.find((l) => l.event === 'upstream-restart')).toMatchObject({ upstream: 'backend', previousInstanceId: 'instance-a', instanceId: 'instance-b' });
    const s = await request(g.url, '/status');
    expectResponseToMatch('/status', 'get', s);
    expect((s.json?.upstreams as Record<string, Record<string, unknown>>).backend).toMatchObject({
      state: 'up',
      restartedAt: new Date(backend.health.restartedAt as number).toISOString(),
    });
  });

  it('stops probing when the gateway closes (timers stopped, nothing in flight)', async () => {
    await g.close();
    const count = up.healthChecks;
    await sleep(350);
    expect(up.healthChecks).toBe(count);
  });
});

describe('health check probes', () => {
  it('count a health answer slower than timeoutMs as a failure', async () => {
    // A health endpoint that never answers.
    const server = http.createServer(() => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const g = await startGateway({
      upstreams: { slow: { url, healthCheck: { ...HC, timeoutMs: 100, unhealthyThreshold: 1 } } },
      routes: [{ path: '/api', upstream: 'slow' }],
    });
    try {
      const slow = g.gw.registry.get('slow');
      await waitFor(() => slow.health.state === 'down', 2000, 'probe timeout marks it down');
      expect(slow.breaker.isOpen()).toBe(true);
    } finally {
      await g.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('honour the upstream TLS options: trusted CA → up, untrusted certificate → down', async () => {
    const good = await startUpstream({ tls: 'valid-for-localhost' });
    const bad = await startUpstream({ tls: 'self-signed' });
    const g = await startGateway({
      upstreams: {
        good: { url: good.url, tls: { ca: fixtureCa() }, healthCheck: { ...HC, unhealthyThreshold: 1 } },
        bad: { url: bad.url, healthCheck: { ...HC, unhealthyThreshold: 1 } },
      },
      routes: [{ path: '/good', upstream: 'good' }, { path: '/bad', upstream: 'bad' }],
    });
    try {
      await waitFor(() => g.gw.registry.get('good').health.state === 'up' && g.gw.registry.get('bad').health.state === 'down', 2000, 'TLS verdicts');
      expect(good.healthChecks).toBeGreaterThan(0);
      expect(bad.healthChecks).toBe(0); // the handshake failed: no request was ever sent
    } finally {
      await g.close();
      await good.close();
      await bad.close();
    }
  });

  it('leave an upstream without healthCheck unknown, judged by its breaker alone', async () => {
    const u = await startUpstream();
    const g = await startGateway({ upstreams: { plain: { url: u.url } }, routes: [{ path: '/api', upstream: 'plain' }] });
    try {
      expect(g.gw.healthCheckers).toHaveLength(0);
      await sleep(250);
      expect(u.healthChecks).toBe(0);
      expect(g.gw.registry.get('plain').health.state).toBe('unknown');
      expect((await request(g.url, '/api/x')).status).toBe(200);
    } finally {
      await g.close();
      await u.close();
    }
  });
});
