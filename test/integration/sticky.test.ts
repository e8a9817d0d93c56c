/**
 * Sticky sessions (README "Failover", docs/failover.md): a cookie pins a caller's session to
 * one target; when that target is lost (unavailable, or restarted: a new instance id) the
 * caller is told at once, with `SESSION_LOST` or by `Breakwater-Session-Moved`.
 */
import { expectProblem, request, sleep, startGateway, waitFor, type Reply, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const INTERVAL = 150;

function config(a: string, b: string, onLost: 'fail' | 'failover', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    upstreams: {
      business: {
        targets: [{ url: a, name: 'b1' }, { url: b, name: 'b2' }],
        sticky: { cookie: 'bw_business', onLost },
        healthCheck: { intervalMs: INTERVAL, timeoutMs: 100, unhealthyThreshold: 1 },
        ...extra,
      },
    },
    routes: [{ path: '/api', upstream: 'business' }],
  };
}

/** The cookie pair (`name=value`) a response sets, or undefined. */
function cookieOf(r: Reply): string | undefined {
  const set = r.headers['set-cookie'];
  return set?.[0]?.split(';')[0];
}

describe('sticky sessions', () => {
  let a: ControlledUpstream;
  let b: ControlledUpstream;
  let g: StartedGateway | undefined;
  let g2: StartedGateway | undefined;
  beforeEach(async () => {
    a = await startUpstream();
    b = await startUpstream();
  });
  afterEach(async () => {
    await g?.close();
    await g2?.close();
    g = g2 = undefined;
    await a.close();
    await b.close();
  });

  /** Starts a session; returns its cookie and the upstream it is pinned to (and the other). */
  async function login(gw: StartedGateway): Promise<{ cookie: string; pinned: ControlledUpstream; other: ControlledUpstream }> {
    const before = a.received.length;
    const r = await request(gw.url, '/api/login', { method: 'POST', body: 'user' });
    expect(r.status).toBe(200);
    const cookie = cookieOf(r);
    expect(cookie).toMatch(/^bw_business=[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(r.headers['set-cookie']?.[0]).toMatch(/; Path=\/; HttpOnly; SameSite=Lax$/);
    const pinned = a.received.length > before ? a : b;
    return { cookie: cookie as string, pinned, other: pinned === a ? b : a };
  }

  const until = (gw: StartedGateway, state: 'up' | 'down', name: string): Promise<void> =>
    waitFor(() => gw.gw.registry.get('business').target(name)?.health.state === state, 3000, `${name} ${state}`);

  it('pins a session to one target; the cookie names no address, and every replica with the same configuration reads it the same', async () => {
    g = await startGateway(config(a.url, b.url, 'fail'));
    await until(g, 'up', 'b1');
    await until(g, 'up', 'b2');
    const { cookie, pinned, other } = await login(g);
    expect(cookie).not.toMatch(/127|localhost|b1|b2|business-/);
    const otherBefore = other.received.length;
    for (let i = 0; i < 20; i++) {
      const r = await request(g.url, `/api/case/${i}`, { headers: { cookie: `theme=dark; ${cookie}` } });
      expect(r.status).toBe(200);
      expect(r.headers['set-cookie']).toBeUndefined(); // the session has its cookie already
    }
    expect(other.received.length).toBe(otherBefore);
    expect(pinned.received.filter((x) => x.url.startsWith('/api/case/'))).toHaveLength(20);
    // A second gateway with the same configuration sends the session to the same target.
    g2 = await startGateway(config(a.url, b.url, 'fail'));
    await until(g2, 'up', 'b1');
    await until(g2, 'up', 'b2');
    for (let i = 0; i < 5; i++) expect((await request(g2.url, `/api/again/${i}`, { headers: { cookie } })).status).toBe(200);
    expect(pinned.received.filter((x) => x.url.startsWith('/api/again/'))).toHaveLength(5);
  });

  it('a cookie the gateway cannot read is treated as absent: served, and a new cookie set', async () => {
    g = await startGateway(config(a.url, b.url, 'fail'));
    const r = await request(g.url, '/api/x', { headers: { cookie: 'bw_business=forged.0' } });
    expect(r.status).toBe(200);
    expect(cookieOf(r)).toMatch(/^bw_business=/);
    expect(cookieOf(r)).not.toBe('bw_business=forged.0');
  });

  it('onLost: fail — its target down: SESSION_LOST, nothing forwarded, the cookie cleared; the next request (a new login) goes to the other target', async () => {
    g = await startGateway(config(a.url, b.url, 'fail'));
    await until(g, 'up', 'b1');
    await until(g, 'up', 'b2');
    const { cookie, pinned, other } = await login(g);
    const pinnedName = pinned === a ? 'b1' : 'b2';
    pinned.setHealth(false);
    await until(g, 'down', pinnedName);
    const seen = a.received.length + b.received.length;
    const lost = await request(g.url, '/api/case/1', { headers: { cookie } });
    const body = expectProblem(lost, { status: 409, code: 'SESSION_LOST', forwarded: false, retryable: false, upstream: 'business' });
    expect(body.detail).toMatch(/unavailable/);
    expect(lost.headers['set-cookie']?.[0]).toMatch(/^bw_business=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
    expect(a.received.length + b.received.length).toBe(seen);
    const relogin = await request(g.url, '/api/login', { method: 'POST', body: 'user' });
    expect(relogin.status).toBe(200);
    expect(other.received.at(-1)?.url).toBe('/api/login');
    expect(cookieOf(relogin)).not.toBe(cookie);
  });

  it('onLost: failover — its target taken out by an operator: forwarded to the other, Breakwater-Session-Moved: down, a new cookie; no fail-back when it returns', async () => {
    g = await startGateway(config(a.url, b.url, 'failover', { healthCheck: undefined }));
    const { cookie, pinned, other } = await login(g);
    const u = g.gw.registry.get('business');
    const pinnedTarget = u.targets[pinned === a ? 0 : 1];
    pinnedTarget?.breaker.forceOpen('maintenance');
    const moved = await request(g.url, '/api/case/1', { headers: { cookie } });
    expect(moved.status).toBe(200);
    expect(moved.headers['breakwater-session-moved']).toBe('down');
    expect(other.received.at(-1)?.url).toBe('/api/case/1');
    const newCookie = cookieOf(moved) as string;
    expect(newCookie).toMatch(/^bw_business=/);
    expect(newCookie).not.toBe(cookie);
    pinnedTarget?.breaker.reset();
    const pinnedBefore = pinned.received.length;
    for (let i = 0; i < 10; i++) {
      const r = await request(g.url, `/api/case/${i}`, { headers: { cookie: newCookie } });
      expect(r.status).toBe(200);
      expect(r.headers['breakwater-session-moved']).toBeUndefined();
    }
    expect(pinned.received.length).toBe(pinnedBefore);
  });

  it('restart detection: a new instance id on its target loses the session within one health interval (fail), or moves it (failover: restarted)', async () => {
    for (const onLost of ['fail', 'failover'] as const) {
      g = await startGateway(config(a.url, b.url, onLost));
      await until(g, 'up', 'b1');
      await until(g, 'up', 'b2');
      const { cookie, pinned, other } = await login(g);
      const name = pinned === a ? 'b1' : 'b2';
      const t = g.gw.registry.get('business').target(name);
      const restartedBefore = t?.health.restartedAt ?? null;
      pinned.setInstanceId(`restarted-${onLost}`);
      const changedAt = Date.now();
      await waitFor(() => (t?.health.restartedAt ?? null) !== restartedBefore, 3000, 'restart seen');
      // Within one health interval (plus its 10 % jitter and scheduling slack on a loaded machine).
      expect(Date.now() - changedAt).toBeLessThan(INTERVAL * 1.1 + 400);
      const r = await request(g.url, '/api/case/1', { headers: { cookie } });
      if (onLost === 'fail') {
        const body = expectProblem(r, { status: 409, code: 'SESSION_LOST', forwarded: false, retryable: false, upstream: 'business' });
        expect(body.detail).toMatch(/restarted/);
      } else {
        expect(r.status).toBe(200);
        expect(r.headers['breakwater-session-moved']).toBe('restarted');
        expect(other.received.at(-1)?.url).toBe('/api/case/1');
      }
      await g.close();
      g = undefined;
      await sleep(10);
    }
  });
});
