/**
 * SPEC §7 admin authorization: with a token every admin endpoint needs it (401 otherwise,
 * missing, wrong or of another length alike); without one, reads are open and actions are 403.
 * Nothing of the admin listener is reachable through the traffic listener.
 */
import { expectProblem, oneRoute, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'correct-horse-battery-staple';
const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });

describe('admin listener with a token configured', () => {
  let upstream: ControlledUpstream;
  let gw: StartedGateway;
  let admin: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(oneRoute(upstream.url, {}, {}, { admin: { token: TOKEN } }), { processMetrics: false });
    admin = gw.gw.adminUrl;
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  const endpoints: [string, string][] = [
    ['GET', '/admin/breakers'],
    ['GET', '/admin/breakers/stream'],
    ['GET', '/metrics'],
    ['POST', '/admin/breakers/backend/open'],
    ['POST', '/admin/breakers/backend/close'],
    ['POST', '/admin/breakers/backend/reset'],
  ];

  it.each(endpoints)('%s %s without a token is 401 with a Bearer challenge', async (method, path) => {
    const reply = await request(admin, path, { method });
    expectProblem(reply, { status: 401, code: 'UNAUTHORIZED', forwarded: false, retryable: false });
    expect(reply.headers['www-authenticate']).toMatch(/^Bearer realm="breakwater-admin"$/);
  });

  it.each([
    ['a wrong token of the same length', 'x'.repeat(TOKEN.length)],
    ['a wrong token of another length', 'short'],
    ['a much longer token', TOKEN + TOKEN + TOKEN],
    ['the token with a suffix', `${TOKEN}x`],
    ['a prefix of the token', TOKEN.slice(0, -1)],
  ])('GET /admin/breakers with %s is 401 invalid_token', async (_what, token) => {
    const reply = await request(admin, '/admin/breakers', { headers: bearer(token) });
    expectProblem(reply, { status: 401, code: 'UNAUTHORIZED', forwarded: false, retryable: false });
    expect(reply.headers['www-authenticate']).toBe('Bearer realm="breakwater-admin", error="invalid_token"');
  });

  it.each([
    ['Basic credentials', `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`],
    ['the bare token', TOKEN],
    ['an empty bearer', 'Bearer '],
  ])('%s in Authorization is 401', async (_what, header) => {
    const reply = await request(admin, '/admin/breakers', { headers: { Authorization: header } });
    expectProblem(reply, { status: 401, code: 'UNAUTHORIZED', forwarded: false, retryable: false });
  });

  it('the right token opens every endpoint; the scheme is case-insensitive', async () => {
    expect((await request(admin, '/admin/breakers', { headers: bearer(TOKEN) })).status).toBe(200);
    expect((await request(admin, '/admin/breakers', { headers: { Authorization: `bearer ${TOKEN}` } })).status).toBe(200);
    expect((await request(admin, '/metrics', { headers: bearer(TOKEN) })).status).toBe(200);
    const forced = await request(admin, '/admin/breakers/backend/open', { method: 'POST', headers: bearer(TOKEN) });
    expect(forced.status).toBe(200);
    expect(forced.json).toMatchObject({ name: 'backend', state: 'open', forced: 'open' });
    expect((await request(admin, '/admin/breakers/backend/reset', { method: 'POST', headers: bearer(TOKEN) })).status).toBe(200);
  });

  it('a refused action changes nothing', async () => {
    await request(admin, '/admin/breakers/backend/open', { method: 'POST', headers: bearer('nope') });
    expect(gw.gw.registry.get('backend').breaker.state().value).toBe('closed');
  });

  it('serves the dashboard page and its assets without a token (the page asks for it)', async () => {
    for (const path of ['/dashboard', '/dashboard/dashboard.js', '/dashboard/dashboard.css']) {
      const reply = await request(admin, path);
      expect(reply.status).toBe(200);
    }
  });

  it('an unknown admin path needs the token before it tells anything (401, not 404)', async () => {
    const reply = await request(admin, '/admin/secret-thing');
    expect(reply.status).toBe(401);
  });
});

describe('admin listener without a token', () => {
  let upstream: ControlledUpstream;
  let gw: StartedGateway;
  let admin: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(oneRoute(upstream.url), { processMetrics: false });
    admin = gw.gw.adminUrl;
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('reads are open', async () => {
    expect((await request(admin, '/admin/breakers')).status).toBe(200);
    expect((await request(admin, '/metrics')).status).toBe(200);
  });

  it.each(['open', 'close', 'reset'])('POST …/%s is 403 FORBIDDEN, with or without an Authorization header', async (action) => {
    for (const headers of [{}, bearer('anything')]) {
      const reply = await request(admin, `/admin/breakers/backend/${action}`, { method: 'POST', headers });
      expectProblem(reply, { status: 403, code: 'FORBIDDEN', forwarded: false, retryable: false });
    }
    expect(gw.gw.registry.get('backend').breaker.override()).toBeNull();
  });

  it.each([
    ['POST', '/metrics', 405],
    ['POST', '/admin/breakers', 405],
    ['PUT', '/admin/breakers/stream', 405],
    ['PATCH', '/admin/breakers/backend/open', 405],
    ['DELETE', '/admin/breakers/backend/reset', 405],
    ['POST', '/admin/breakers/backend/frob', 404],
    ['POST', '/nothing', 404],
  ])('%s %s is %d, as with a token: only the actions are forbidden', async (method, path, status) => {
    const reply = await request(admin, path, { method });
    expectProblem(reply, { status, code: status === 405 ? 'METHOD_NOT_ALLOWED' : 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    if (status === 405) expect(reply.headers.allow).toBeDefined();
    expect(gw.gw.registry.get('backend').breaker.override()).toBeNull();
  });
});

describe('separation of the listeners', () => {
  let upstream: ControlledUpstream;
  let gw: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    // A route on "/" would forward anything; the admin paths must still never be served by the gateway itself.
    gw = await startGateway(oneRoute(upstream.url), { processMetrics: false });
  });
  afterAll(async () => {
    await gw.close();
    await upstream.close();
  });

  it('listens on its own port, on loopback', () => {
    expect(gw.gw.adminUrl).not.toBe(gw.url);
    expect(gw.gw.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each(['/admin/breakers', '/admin/breakers/stream', '/metrics', '/dashboard', '/dashboard/dashboard.js'])('%s is not served on the traffic listener', async (path) => {
    const reply = await request(gw.url, path);
    expectProblem(reply, { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('POST /admin/breakers/backend/open on the traffic listener does not force anything', async () => {
    await request(gw.url, '/admin/breakers/backend/open', { method: 'POST' });
    expect(gw.gw.registry.get('backend').breaker.override()).toBeNull();
  });
});
