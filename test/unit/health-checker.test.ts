/**
 * HealthChecker's decisions (thresholds, jitter, breaker calls, restart detection, events,
 * log lines) with jest's fake timers and a scripted probe: no sockets, no real waiting.
 */
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/server/logging';
import { systemClock } from '../../src/core/clock';
import { HealthChecker, type HealthChange, type UpstreamRestart } from '../../src/upstreams/health-checker';
import type { ProbeResult } from '../../src/upstreams/probe';
import { UpstreamRegistry, type Upstream } from '../../src/upstreams/registry';
import type { Target } from '../../src/upstreams/target';

const INTERVAL = 1000;

interface Rig {
  upstream: Upstream;
  registry: UpstreamRegistry;
  checker: HealthChecker;
  /** Results the probe returns, in order; when empty it answers ok. */
  script: ProbeResult[];
  probes: number[];
  logs: Record<string, unknown>[];
  health: HealthChange[];
  restarts: UpstreamRestart[];
}

function rig(healthCheck: Record<string, unknown> = {}, random = () => 0.5): Rig {
  const config = parseConfig({
    upstreams: { backend: { url: 'http://127.0.0.1:1', healthCheck: { intervalMs: INTERVAL, timeoutMs: 100, ...healthCheck } } },
    routes: [{ path: '/api', upstream: 'backend' }],
  });
  const registry = new UpstreamRegistry(config.upstreams, systemClock);
  const upstream = registry.get('backend');
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const r: Rig = { upstream, registry, checker: undefined as unknown as HealthChecker, script: [], probes: [], logs, health: [], restarts: [] };
  r.checker = new HealthChecker(upstream.targets[0] as Target, {
    clock: systemClock,
    logger: createLogger('info', sink),
    random,
    probe: async () => {
      r.probes.push(Date.now());
      return r.script.shift() ?? { ok: true };
    },
  });
  r.checker.on('health', (e) => r.health.push(e));
  r.checker.on('restart', (e) => r.restarts.push(e));
  return r;
}

const ok = (instanceId?: string): ProbeResult => ({ ok: true, status: 200, ...(instanceId ? { instanceId } : {}) });
const bad = (instanceId?: string): ProbeResult => ({ ok: false, status: 503, error: 'status 503', ...(instanceId ? { instanceId } : {}) });

describe('HealthChecker', () => {
  let r: Rig;
  beforeEach(() => jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z') }));
  afterEach(() => {
    r.checker.close();
    r.registry.close();
    jest.useRealTimers();
  });

  it('runs the first probe within the first tenth of an interval, then every interval ± 10 %', async () => {
    const values = [0.99, 0, 0.999, 0.5];
    r = rig({}, () => values.shift() ?? 0.5);
    const t0 = Date.now();
    r.checker.start();
    await jest.advanceTimersByTimeAsync(98);
    expect(r.probes).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(r.probes).toEqual([t0 + 99]); // 0.99 × 10 % of 1000
    await jest.advanceTimersByTimeAsync(900);
    expect(r.probes).toHaveLength(2); // random 0 → × 0.9
    expect((r.probes[1] ?? 0) - (r.probes[0] ?? 0)).toBe(900);
    await jest.advanceTimersByTimeAsync(1100);
    expect((r.probes[2] ?? 0) - (r.probes[1] ?? 0)).toBe(1100); // random ~1 → × 1.1
  });

  it('marks an upstream down after unhealthyThreshold failures in a row and opens its breaker (reason health)', async () => {
    r = rig({ unhealthyThreshold: 3 });
    r.script.push(bad(), bad(), ok(), bad(), bad(), bad());
    const transitions: string[] = [];
    r.upstream.breaker.on('transition', (t) => transitions.push(`${t.from}→${t.to}:${t.reason}`));
    r.checker.start();
    await jest.advanceTimersByTimeAsync(50 + 4 * INTERVAL); // 5 probes: bad bad ok bad bad
    expect(r.probes).toHaveLength(5);
    expect(r.upstream.health.state).toBe('up'); // the ok in between reset the count
    expect(r.upstream.breaker.isOpen()).toBe(false);
    await jest.advanceTimersByTimeAsync(INTERVAL); // third failure in a row
    expect(r.upstream.health.state).toBe('down');
    expect(r.upstream.health.since).toBe(Date.now());
    expect(r.upstream.breaker.state()).toMatchObject({ value: 'open', reason: 'health' });
    expect(transitions).toEqual(['closed→open:health']);
    expect(r.health.map((e) => `${e.from}→${e.to}`)).toEqual(['unknown→up', 'up→down']);
    const line = r.logs.find((l) => l.event === 'health-change' && l.to === 'down');
    expect(line).toMatchObject({ upstream: 'backend', from: 'up', to: 'down', error: 'status 503', level: 40 });
  });

  it('tells the breaker when the next probe may bring the upstream back (Retry-After), and keeps it current', async () => {
    r = rig({ unhealthyThreshold: 1, healthyThreshold: 2 });
    r.script.push(bad(), bad());
    r.checker.start();
    await jest.advanceTimersByTimeAsync(50);
    expect(r.upstream.health.state).toBe('down');
    const next = r.checker.nextProbeAt as number;
    expect(next).toBe(Date.now() + INTERVAL);
    // Two good probes are needed: the next one and one interval later.
    expect(r.upstream.breaker.retryAt()).toBe(next + INTERVAL);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(r.upstream.breaker.retryAt()).toBe((r.checker.nextProbeAt as number) + INTERVAL);
  });

  it('marks it up after healthyThreshold good probes and CLOSES the breaker (no half-open trial)', async () => {
    r = rig({ unhealthyThreshold: 1, healthyThreshold: 2 });
    r.script.push(bad(), ok(), bad(), ok(), ok());
    r.checker.start();
    await jest.advanceTimersByTimeAsync(50);
    expect(r.upstream.health.state).toBe('down');
    await jest.advanceTimersByTimeAsync(3 * INTERVAL); // ok, bad, ok: never two in a row
    expect(r.upstream.health.state).toBe('down');
    expect(r.upstream.breaker.isOpen()).toBe(true);
    await jest.advanceTimersByTimeAsync(INTERVAL);
    expect(r.upstream.health.state).toBe('up');
    expect(r.upstream.health.recoveredAt).toBe(Date.now());
    expect(r.upstream.breaker.state()).toMatchObject({ value: 'closed', reason: 'health' });
    expect(r.logs.find((l) => l.event === 'health-change' && l.to === 'up' && l.from === 'down')).toBeDefined();
  });

  it('goes from unknown to up on the first good probe, without recording a recovery', async () => {
    r = rig({ healthyThreshold: 3 });
    r.checker.start();
    expect(r.upstream.health).toMatchObject({ state: 'unknown', lastCheckAt: null });
    await jest.advanceTimersByTimeAsync(50);
    expect(r.upstream.health).toMatchObject({ state: 'up', recoveredAt: null, lastCheckAt: Date.now() });
    expect(r.health).toEqual([{ name: 'backend', target: 'backend-1', from: 'unknown', to: 'up', at: Date.now() }]);
  });

  it('records a changed instance identity as a restart, from any answer, but not the first one seen', async () => {
    r = rig();
    r.script.push(ok('a'), ok('a'), bad('b'), ok(), ok('b'));
    r.checker.start();
    await jest.advanceTimersByTimeAsync(50 + INTERVAL);
    expect(r.upstream.health).toMatchObject({ instanceId: 'a', restartedAt: null });
    await jest.advanceTimersByTimeAsync(INTERVAL);
    const at = Date.now();
    expect(r.upstream.health).toMatchObject({ instanceId: 'b', restartedAt: at });
    expect(r.restarts).toEqual([{ name: 'backend', target: 'backend-1', at, previousInstanceId: 'a', instanceId: 'b' }]);
    expect(r.logs.find((l) => l.event === 'upstream-restart')).toMatchObject({ upstream: 'backend', previousInstanceId: 'a', instanceId: 'b' });
    await jest.advanceTimersByTimeAsync(2 * INTERVAL); // an answer without identity, then the same one
    expect(r.restarts).toHaveLength(1);
    expect(r.upstream.health.restartedAt).toBe(at);
  });

  it('close() stops probing and ignores a probe in flight', async () => {
    r = rig();
    let release: (v: ProbeResult) => void = () => undefined;
    let signal: AbortSignal | undefined;
    let calls = 0;
    const slow = new HealthChecker(r.upstream.targets[0] as Target, {
      clock: systemClock,
      logger: createLogger('silent'),
      probe: (_u, _t, s) => {
        calls++;
        signal = s;
        return new Promise((resolve) => (release = resolve));
      },
    });
    slow.start();
    await jest.advanceTimersByTimeAsync(100);
    expect(signal?.aborted).toBe(false);
    slow.close();
    expect(signal?.aborted).toBe(true);
    release(bad());
    await jest.advanceTimersByTimeAsync(10 * INTERVAL);
    expect(r.upstream.health.state).toBe('unknown');
    expect(calls).toBe(1);
    expect(slow.nextProbeAt).toBeNull();
  });

  it('refuses an upstream without healthCheck', () => {
    r = rig();
    const config = parseConfig({ upstreams: { plain: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/', upstream: 'plain' }] });
    const registry = new UpstreamRegistry(config.upstreams, systemClock);
    expect(() => new HealthChecker(registry.get('plain').targets[0] as Target, { clock: systemClock, logger: createLogger('silent') })).toThrow(/no healthCheck/);
    registry.close();
  });
});
