/**
 * Pre-flight decisions (SPEC §5) on an injected clock and scripted probes: which upstreams
 * are named, Retry-After, when `preflight: probe` probes live, caching and coalescing.
 */
import { parseConfig } from '../../src/config/load';
import type { GatewayError } from '../../src/errors/gateway-error';
import { RouteTable, type CompiledRoute } from '../../src/routing/match';
import { checkPreflight } from '../../src/routing/preflight';
import { DEFAULT_PROBE_TIMEOUT_MS, Preflight } from '../../src/routing/preflight-probe';
import type { Probe, ProbeResult } from '../../src/upstreams/probe';
import { UpstreamRegistry } from '../../src/upstreams/registry';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function setup(route: Record<string, unknown> = {}) {
  const clock = { t: T0, now(): number { return this.t; } };
  const config = parseConfig({
    upstreams: {
      business: { url: 'http://127.0.0.1:1', healthCheck: { intervalMs: 2000, timeoutMs: 300 } },
      bureau: { url: 'http://127.0.0.1:2', healthCheck: { intervalMs: 2000, timeoutMs: 300 }, breaker: { resetTimeoutMs: 7000 } },
      archive: { url: 'http://127.0.0.1:3' },
    },
    routes: [
      { path: '/apply', upstream: 'business', requires: ['bureau', 'archive'], ...route },
      { path: '/plain', upstream: 'business' },
    ],
  });
  const registry = new UpstreamRegistry(config.upstreams, clock);
  const table = new RouteTable(config.routes);
  const routeOf = (p: string): CompiledRoute => (table.match(p) as { route: CompiledRoute }).route;
  const calls: { name: string; timeoutMs: number; kind: 'http' | 'connect' }[] = [];
  const answers = new Map<string, ProbeResult>();
  let gate: Promise<void> = Promise.resolve();
  const probe = (kind: 'http' | 'connect'): Probe => async (u, timeoutMs) => {
    calls.push({ name: u.name, timeoutMs, kind });
    await gate;
    return answers.get(u.name) ?? { ok: true };
  };
  const preflight = new Preflight({ registry, clock, httpProbe: probe('http'), connectProbe: probe('connect') });
  return {
    clock, registry, routeOf, calls, answers, preflight,
    hold(): () => void {
      let open: () => void = () => undefined;
      gate = new Promise((r) => (open = r));
      return () => open();
    },
    close(): void {
      preflight.close();
      registry.close();
    },
  };
}

const body = (err: GatewayError | null) => ({ code: err?.code, unavailable: err?.options.extra?.unavailable, retryAfterSeconds: err?.options.retryAfterSeconds, forwarded: err?.forwarded });

describe('checkPreflight (state)', () => {
  it('passes when every requirement is available, and skips routes without requires', () => {
    const s = setup();
    expect(checkPreflight(s.routeOf('/apply'), s.registry, s.clock)).toBeNull();
    s.registry.get('business').breaker.forceOpen();
    expect(checkPreflight(s.routeOf('/plain'), s.registry, s.clock)).toBeNull(); // its own breaker answers CIRCUIT_OPEN
    s.close();
  });

  it('names every unavailable upstream, own first, with Retry-After to the soonest of them', () => {
    const s = setup();
    s.registry.get('bureau').health.state = 'down';
    s.registry.get('bureau').breaker.markHealthDown(T0 + 4500);
    s.registry.get('business').breaker.forceOpen(); // forced: no trial due → its resetTimeoutMs from now, later than bureau's probe
    const err = checkPreflight(s.routeOf('/apply'), s.registry, s.clock);
    expect(body(err)).toEqual({ code: 'DEPENDENCY_UNAVAILABLE', unavailable: ['business', 'bureau'], retryAfterSeconds: 5, forwarded: false });
    expect(err?.options.upstream).toBe('business');
    s.close();
  });

  it('a requirement an operator holds open suggests its resetTimeoutMs, not a one-second poll', () => {
    const s = setup();
    s.registry.get('business').breaker.forceOpen();
    const resetSeconds = s.registry.get('business').config.breaker.resetTimeoutMs / 1000;
    expect(resetSeconds).toBeGreaterThan(1);
    expect(body(checkPreflight(s.routeOf('/apply'), s.registry, s.clock))).toMatchObject({ unavailable: ['business'], retryAfterSeconds: resetSeconds });
    s.close();
  });

  it('counts a forced-closed breaker as available even while health says down', () => {
    const s = setup();
    const bureau = s.registry.get('bureau');
    bureau.health.state = 'down';
    bureau.breaker.markHealthDown(T0 + 1000);
    expect(checkPreflight(s.routeOf('/apply'), s.registry, s.clock)?.code).toBe('DEPENDENCY_UNAVAILABLE');
    bureau.breaker.forceClose();
    expect(checkPreflight(s.routeOf('/apply'), s.registry, s.clock)).toBeNull();
    s.close();
  });
});

describe('Preflight (preflight: probe)', () => {
  it('answers synchronously for state routes and when every health result is fresh', () => {
    const s = setup({ preflight: 'probe', preflightCacheMs: 500 });
    for (const name of ['business', 'bureau', 'archive']) s.registry.get(name).health.lastCheckAt = T0 - 100;
    expect(s.preflight.check(s.routeOf('/apply'))).toBeNull();
    expect(s.preflight.check(s.routeOf('/plain'))).toBeNull();
    expect(s.calls).toHaveLength(0);
    s.close();
  });

  it('probes stale requirements live: healthCheck GET with its timeout, connect probe (500 ms) without one', async () => {
    const s = setup({ preflight: 'probe', preflightCacheMs: 500 });
    s.registry.get('business').health.lastCheckAt = T0 - 100; // fresh
    s.registry.get('bureau').health.lastCheckAt = T0 - 600; // stale
    const verdict = s.preflight.check(s.routeOf('/apply'));
    expect(verdict).toBeInstanceOf(Promise);
    expect(await verdict).toBeNull();
    expect(s.calls).toEqual([
      { name: 'bureau', timeoutMs: 300, kind: 'http' },
      { name: 'archive', timeoutMs: DEFAULT_PROBE_TIMEOUT_MS, kind: 'connect' },
    ]);
    s.close();
  });

  it('refuses with the failed probes named, and caches the result for preflightCacheMs', async () => {
    const s = setup({ preflight: 'probe', preflightCacheMs: 1500 });
    s.registry.get('business').health.lastCheckAt = T0;
    s.registry.get('bureau').health.lastCheckAt = T0;
    s.answers.set('archive', { ok: false, error: 'ECONNREFUSED' });
    const err = await s.preflight.check(s.routeOf('/apply'));
    expect(body(err)).toEqual({ code: 'DEPENDENCY_UNAVAILABLE', unavailable: ['archive'], retryAfterSeconds: 2, forwarded: false });
    s.clock.t += 1000;
    s.registry.get('business').health.lastCheckAt = s.clock.t;
    s.registry.get('bureau').health.lastCheckAt = s.clock.t;
    const cached = s.preflight.check(s.routeOf('/apply')); // synchronous: the failure is still trusted
    expect(body(cached as GatewayError)).toMatchObject({ unavailable: ['archive'], retryAfterSeconds: 1 });
    expect(s.calls).toHaveLength(1);
    s.clock.t += 600; // expired: probed again
    s.registry.get('business').health.lastCheckAt = s.clock.t;
    s.registry.get('bureau').health.lastCheckAt = s.clock.t;
    s.answers.delete('archive');
    expect(await s.preflight.check(s.routeOf('/apply'))).toBeNull();
    expect(s.calls).toHaveLength(2);
    s.close();
  });

  it('shares one probe per upstream among concurrent requests', async () => {
    const s = setup({ preflight: 'probe' });
    const open = s.hold();
    const verdicts = [1, 2, 3, 4, 5].map(() => s.preflight.check(s.routeOf('/apply')));
    expect(s.calls.map((c) => c.name)).toEqual(['business', 'bureau', 'archive']);
    open();
    expect(await Promise.all(verdicts)).toEqual([null, null, null, null, null]);
    s.close();
  });

  it('does not probe when state already refuses (fail fast)', () => {
    const s = setup({ preflight: 'probe' });
    s.registry.get('bureau').breaker.forceOpen();
    const verdict = s.preflight.check(s.routeOf('/apply'));
    expect(verdict).not.toBeInstanceOf(Promise);
    expect(body(verdict as GatewayError)).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', unavailable: ['bureau'] });
    expect(s.calls).toHaveLength(0);
    s.close();
  });
});
