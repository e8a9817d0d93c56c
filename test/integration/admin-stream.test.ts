/**
 * SPEC §7 GET /admin/breakers/stream: `state` on every transition (within a second), a
 * `snapshot` every second, heartbeats, many subscribers at once, bounded memory for slow
 * subscribers, and a clean end on shutdown.
 */
import net from 'node:net';
import { Registry } from 'prom-client';
import { AdminServer } from '../../src/admin/app';
import { parseConfig } from '../../src/config/load';
import { Metrics } from '../../src/metrics/metrics';
import { systemClock } from '../../src/core/clock';
import { createLogger } from '../../src/server/logging';
import { UpstreamRegistry } from '../../src/upstreams/registry';
import { expectToMatchComponent } from '../helpers/openapi';
import { request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { openSse, type SseClient, type SseEvent } from '../helpers/sse';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const isState = (from: string, to: string) => (e: SseEvent): boolean => {
  if (e.type !== 'state') return false;
  const d = JSON.parse(e.data) as { from: string; to: string };
  return d.from === from && d.to === to;
};

describe('event stream on a running gateway', () => {
  let upstream: ControlledUpstream;
  let gw: StartedGateway;
  const clients: SseClient[] = [];
  const open = async (): Promise<SseClient> => {
    const c = await openSse(gw.gw.adminUrl);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(
      { upstreams: { backend: { url: upstream.url, breaker: { volumeThreshold: 2, resetTimeoutMs: 300 } } }, routes: [{ path: '/api', upstream: 'backend' }] },
      { processMetrics: false },
    );
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('starts with a snapshot at once, then one every second', async () => {
    const c = await open();
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(c.headers['cache-control']).toBe('no-store');
    const t0 = Date.now();
    const first = await c.next((e) => e.type === 'snapshot', 500);
    expect(first.at - t0).toBeLessThan(500);
    const snapshot = JSON.parse(first.data) as unknown;
    expectToMatchComponent('BreakerList', snapshot);
    expect(snapshot).toMatchObject({ breakers: [{ name: 'backend', state: 'closed' }] });
    await waitFor(() => c.events.filter((e) => e.type === 'snapshot').length >= 3, 3000, 'three snapshots');
    const times = c.events.filter((e) => e.type === 'snapshot').map((e) => e.at);
    const gap = (times[2] as number) - (times[1] as number);
    expect(gap).toBeGreaterThan(700);
    expect(gap).toBeLessThan(1300);
  });

  it('sends a state event within a second of every transition, through trip and recovery', async () => {
    const c = await open();
    await c.next((e) => e.type === 'snapshot');
    upstream.setMode({ kind: 'status', status: 503 });
    await request(gw.url, '/api/x');
    await request(gw.url, '/api/x');
    const tripped = Date.now();
    expect(gw.gw.registry.get('backend').breaker.state().value).toBe('open');
    const opened = await c.next(isState('closed', 'open'), 1000);
    expect(opened.at - tripped).toBeLessThan(1000);
    const data = JSON.parse(opened.data) as Record<string, unknown>;
    expectToMatchComponent('BreakerTransition', data);
    expect(data).toMatchObject({ name: 'backend', from: 'closed', to: 'open', reason: 'failures' });
    expect(Math.abs(Date.parse(data.at as string) - tripped)).toBeLessThan(1000);

    upstream.setMode({ kind: 'ok' });
    const halfOpen = await c.next(isState('open', 'half-open'), 1500);
    expect(JSON.parse(halfOpen.data)).toMatchObject({ reason: 'reset-timeout' });
    expect(halfOpen.at - Date.parse((JSON.parse(halfOpen.data) as { at: string }).at)).toBeLessThan(1000);
    expect((await request(gw.url, '/api/x')).status).toBe(200);
    const recovered = Date.now();
    const closed = await c.next(isState('half-open', 'closed'), 1000);
    expect(closed.at - recovered).toBeLessThan(1000);
    expect(JSON.parse(closed.data)).toMatchObject({ reason: 'trial-succeeded' });
  });

  it('delivers the same transitions to many subscribers at once', async () => {
    const many = await Promise.all(Array.from({ length: 25 }, () => open()));
    await Promise.all(many.map((c) => c.next((e) => e.type === 'snapshot')));
    expect(gw.gw.admin.events.size).toBeGreaterThanOrEqual(25);
    const before = many.map((c) => c.events.length);
    gw.gw.registry.get('backend').breaker.forceOpen('test');
    const sent = Date.now();
    const got = await Promise.all(many.map((c, i) => c.next(isState('closed', 'open'), 1000, before[i])));
    for (const e of got) expect(e.at - sent).toBeLessThan(1000);
    expect(JSON.parse((got[0] as SseEvent).data)).toMatchObject({ reason: 'forced' });
    gw.gw.registry.get('backend').breaker.reset();
  });

  it('forgets subscribers that went away', async () => {
    await waitFor(() => gw.gw.admin.events.size === 0, 1000, 'earlier subscribers gone');
    const before = 0;
    const c = await open();
    await c.next((e) => e.type === 'snapshot');
    expect(gw.gw.admin.events.size).toBe(before + 1);
    c.close();
    await waitFor(() => gw.gw.admin.events.size === before, 1000, 'subscriber removed');
  });
});

describe('event stream lifecycle and flow control', () => {
  const logger = createLogger('silent');
  const names = Array.from({ length: 30 }, (_, i) => `upstream-${String(i).padStart(2, '0')}`);
  const config = parseConfig({
    upstreams: Object.fromEntries(names.map((n) => [n, { url: 'http://127.0.0.1:9' }])),
    routes: [{ path: '/x', upstream: names[0] }],
  });
  let registry: UpstreamRegistry;
  let admin: AdminServer;
  let base: string;

  const build = async (stream: ConstructorParameters<typeof AdminServer>[0]['stream']): Promise<void> => {
    registry = new UpstreamRegistry(config.upstreams, systemClock);
    const metrics = new Metrics({ register: new Registry(), registry, state: { draining: false, inFlight: 0 }, processMetrics: false });
    admin = new AdminServer({ token: '', registry, clock: systemClock, logger, metrics, stream });
    const a = await admin.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${a.port}`;
  };
  afterEach(async () => {
    await admin.close();
    registry.close();
  });

  it('sends heartbeat comments', async () => {
    await build({ heartbeatIntervalMs: 50 });
    const c = await openSse(base);
    await waitFor(() => c.comments.includes('heartbeat'), 1000, 'a heartbeat');
    c.close();
  });

  it('a subscriber that does not read skips snapshots, and is cut off when it falls too far behind; memory stays bounded', async () => {
    const soft = 4 * 1024;
    const hard = 64 * 1024;
    await build({ snapshotIntervalMs: 5, softLimitBytes: soft, hardLimitBytes: hard });
    const reader = await openSse(base);
    // The stalled subscriber: sends its request, then never reads a byte.
    const stalled = net.connect({ host: '127.0.0.1', port: Number(new URL(base).port) });
    await new Promise((r) => stalled.once('connect', r));
    stalled.pause();
    stalled.write('GET /admin/breakers/stream HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n');
    await waitFor(() => admin.events.size === 2, 1000, 'two subscribers');

    const snapshotBytes = Buffer.byteLength(reader.events.find((e) => e.type === 'snapshot')?.data ?? '');
    expect(snapshotBytes).toBeGreaterThan(soft); // each snapshot alone exceeds the soft limit
    // Until the reader has had 300 snapshots (~1.5 s on an idle machine): several MB for the
    // stalled one if nothing were skipped, far beyond what the kernel's socket buffers take.
    // A window by count, not by time: a loaded machine fires the 5 ms timer less often.
    const readerSnapshots = (): number => reader.events.filter((e) => e.type === 'snapshot').length;
    let maxPending = 0;
    const deadline = Date.now() + 15000;
    while (readerSnapshots() < 300 && Date.now() < deadline) {
      maxPending = Math.max(maxPending, admin.events.pendingBytes());
      await sleep(5);
    }
    expect(maxPending).toBeLessThan(soft + 2 * (snapshotBytes + 200));
    expect(admin.events.size).toBe(2); // skipping snapshots alone never cuts anyone off
    expect(readerSnapshots()).toBeGreaterThanOrEqual(300); // the reading subscriber was not held back

    // State events are never skipped; a flood of them pushes the stalled one over the hard
    // limit (however much the kernel's socket buffers take first), and it is cut off there.
    const breaker = registry.get(names[0] as string).breaker;
    const floodUntil = Date.now() + 10000;
    let floodPending = 0;
    while (admin.events.size === 2 && Date.now() < floodUntil) {
      for (let i = 0; i < 10; i++) {
        breaker.forceOpen('test');
        breaker.forceClose('test');
      }
      floodPending = Math.max(floodPending, admin.events.pendingBytes());
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => admin.events.size === 1, 2000, 'the stalled subscriber cut off');
    expect(floodPending).toBeLessThan(hard + snapshotBytes + 20 * 200);
    expect(admin.events.pendingBytes()).toBeLessThan(hard);
    expect(reader.aborted).toBe(false);
    stalled.destroy();
    reader.close();
  }, 40000);

  it('close() ends every stream cleanly and does not wait for the subscribers', async () => {
    await build({});
    const subs = await Promise.all(Array.from({ length: 5 }, () => openSse(base)));
    await Promise.all(subs.map((c) => c.next((e) => e.type === 'snapshot')));
    const t0 = Date.now();
    await admin.close();
    expect(Date.now() - t0).toBeLessThan(500);
    await waitFor(() => subs.every((c) => c.ended), 1000, 'every stream ended');
    expect(subs.some((c) => c.aborted)).toBe(false);
    const after = await request(base, '/admin/breakers', { timeoutMs: 500 });
    expect(after.error).toBe('ECONNREFUSED');
  });
});

describe('event stream and gateway shutdown', () => {
  it('open streams do not hold up the drain; they end cleanly', async () => {
    const upstream = await startUpstream();
    const gw = await startGateway({ upstreams: { backend: { url: upstream.url } }, routes: [{ path: '/api', upstream: 'backend' }], shutdown: { drainTimeoutMs: 5000 } }, { processMetrics: false });
    const subs = await Promise.all([openSse(gw.gw.adminUrl), openSse(gw.gw.adminUrl)]);
    await Promise.all(subs.map((c) => c.next((e) => e.type === 'snapshot')));
    const t0 = Date.now();
    await gw.gw.shutdown();
    expect(Date.now() - t0).toBeLessThan(1000);
    await waitFor(() => subs.every((c) => c.ended), 1000, 'streams ended');
    expect(subs.some((c) => c.aborted)).toBe(false);
    await gw.close();
    await upstream.close();
  });
});
