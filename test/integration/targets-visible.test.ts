/**
 * Targets where operators and clients look (docs/failover.md "Where targets show"): /status,
 * /admin/breakers, the target actions, the event stream and the metrics, each checked
 * against openapi.yaml.
 */
import { expectResponseToMatch, expectToMatchComponent } from '../helpers/openapi';
import { openSse } from '../helpers/sse';
import { request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'targets-secret';

describe('targets visible', () => {
  let a: ControlledUpstream;
  let b: ControlledUpstream;
  let g: StartedGateway;
  beforeAll(async () => {
    [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    g = await startGateway({
      admin: { token: TOKEN },
      upstreams: {
        business: { targets: [{ url: a.url, name: 'business-a' }, { url: b.url }], healthCheck: { intervalMs: 100, timeoutMs: 100 } },
        bureau: { url: b.url },
      },
      routes: [{ path: '/api', upstream: 'business' }],
    });
    await waitFor(() => g.gw.registry.get('business').targets.every((t) => t.health.state === 'up'), 3000, 'targets up');
  });
  afterAll(async () => {
    await g.close();
    await Promise.all([a.close(), b.close()]);
  });
  const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${g.gw.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });

  it('/status lists every upstream\'s targets by name; one url is one target named <upstream>-1', async () => {
    const r = await request(g.url, '/status');
    expectResponseToMatch('/status', 'get', r);
    const upstreams = (r.json as { upstreams: Record<string, { targets: Record<string, unknown> }> }).upstreams;
    expect(Object.keys(upstreams.business?.targets ?? {})).toEqual(['business-a', 'business-2']);
    expect(upstreams.business?.targets['business-a']).toMatchObject({ state: 'up', breaker: 'closed' });
    expect(Object.keys(upstreams.bureau?.targets ?? {})).toEqual(['bureau-1']);
  });

  it('GET /admin/breakers has each target\'s breaker; a target action takes one out of rotation and back, the upstream stays closed', async () => {
    const list = await admin('/admin/breakers');
    const body = (await list.json()) as { breakers: { name: string; targets: { name: string; state: string }[] }[] };
    expectToMatchComponent('BreakerList', body);
    expect(body.breakers.find((x) => x.name === 'business')?.targets.map((t) => t.name)).toEqual(['business-a', 'business-2']);

    const stream = await openSse(g.gw.adminUrl, '/admin/breakers/stream', { authorization: `Bearer ${TOKEN}` });
    try {
      const open = await admin('/admin/breakers/business/targets/business-a/open', { method: 'POST' });
      expect(open.status).toBe(200);
      const view = (await open.json()) as Record<string, unknown>;
      expectToMatchComponent('TargetBreaker', view);
      expect(view).toMatchObject({ name: 'business-a', state: 'open', forced: 'open', forcedBy: 'POST /admin/breakers/business/targets/business-a/open' });
      const event = await stream.next((e) => e.type === 'state', 2000);
      const data = JSON.parse(event.data) as Record<string, unknown>;
      expectToMatchComponent('BreakerTransition', data);
      expect(data).toMatchObject({ name: 'business', target: 'business-a', from: 'closed', to: 'open', reason: 'forced' });

      a.reset();
      for (let i = 0; i < 5; i++) expect((await request(g.url, `/api/${i}`)).status).toBe(200);
      expect(a.received).toHaveLength(0); // out of rotation
      expect(g.gw.registry.get('business').breaker.state().value).toBe('closed');

      const reset = await admin('/admin/breakers/business/targets/business-a/reset', { method: 'POST' });
      expect(((await reset.json()) as { state: string }).state).toBe('closed');
      for (let i = 0; i < 10; i++) await request(g.url, `/api/back-${i}`);
      expect(a.received.length).toBeGreaterThan(0); // back in rotation
    } finally {
      stream.close();
    }
  });

  it('target actions: 404 for an unknown target, 401 without the token, 405 for GET', async () => {
    expect((await admin('/admin/breakers/business/targets/nope/open', { method: 'POST' })).status).toBe(404);
    expect((await admin('/admin/breakers/nope/targets/business-a/open', { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${g.gw.adminUrl}/admin/breakers/business/targets/business-a/open`, { method: 'POST' })).status).toBe(401);
    expect((await admin('/admin/breakers/business/targets/business-a/open')).status).toBe(405);
  });

  it('metrics carry the target label', async () => {
    const text = await (await admin('/metrics')).text();
    expect(text).toMatch(/breakwater_breaker_state\{upstream="business",target="business-a",state="closed"\} 1/);
    expect(text).toMatch(/breakwater_upstream_health\{upstream="business",target="business-2",state="up"\} 1/);
    expect(text).toMatch(/breakwater_requests_total\{route="\/api",upstream="business",target="business-(a|2)",method="GET",status="200"/);
    expect(text).toMatch(/breakwater_retry_budget_refusals_total\{upstream="business"\} 0/);
  });
});
