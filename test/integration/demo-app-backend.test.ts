/**
 * The demo app's server side through a real gateway (docs/demo-app.md): the identity
 * provider's login and refresh tokens, the business layer's in-memory sessions (lost on
 * restart: 401), cases stored exactly once per Idempotency-Key, and the server's printout.
 */
import { request, type Reply } from '../helpers/gateway';
import { startDemoStack, type DemoStack } from '../helpers/demo-stack';

const json = (body: unknown) => ({ 'content-type': 'application/json', body: JSON.stringify(body) });
const aCase = { borrower: 'Norrlandsbygg i Umeå AB', orgNumber: '556677-8899', amountSek: 1_250_000, purpose: 'Ny hjullastare', notes: 'Säkerhet: företagsinteckning' };

describe('demo app backend', () => {
  let stack: DemoStack;
  beforeAll(async () => {
    stack = await startDemoStack({ accessTtlMs: 1500 });
  });
  afterAll(() => stack.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const { body: text, ...h } = json(body);
    return request(stack.gw.url, path, { method: 'POST', headers: { ...h, ...headers }, body: text });
  };
  const login = async () => (await post('/auth/login', { username: 'demo', password: 'demo' })).json as { accessToken: string; refreshToken: string; expiresIn: number };
  const session = async (accessToken: string): Promise<string> => {
    const reply = await post('/api/session', {}, { authorization: `Bearer ${accessToken}` });
    expect(reply.status).toBe(201);
    const cookie = String(reply.headers['set-cookie']?.[0] ?? '');
    expect(cookie).toMatch(/^demo_session=[A-Za-z0-9_-]+; HttpOnly; SameSite=Lax; Path=\/$/);
    return cookie.split(';')[0] ?? '';
  };

  it('logs the demo user in, refuses a wrong password, and rotates refresh tokens', async () => {
    expect((await post('/auth/login', { username: 'demo', password: 'nope' })).status).toBe(401);
    const tokens = await login();
    expect(tokens.expiresIn).toBe(1);
    const refreshed = await post('/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json?.refreshToken).not.toBe(tokens.refreshToken);
    // The old one was used up.
    expect((await post('/auth/refresh', { refreshToken: tokens.refreshToken })).json).toMatchObject({ error: 'invalid_refresh_token' });
  });

  it('needs a session for cases, and a genuine, unexpired access token for a session', async () => {
    expect((await request(stack.gw.url, '/api/cases')).status).toBe(401);
    expect((await post('/api/session', {}, { authorization: 'Bearer forged.token' })).status).toBe(401);
    const { accessToken } = await login();
    const [payload] = accessToken.split('.');
    expect((await post('/api/session', {}, { authorization: `Bearer ${payload}.AAAA` })).status).toBe(401);
    const cookie = await session(accessToken);
    const list = await request(stack.gw.url, '/api/cases', { headers: { cookie } });
    expect(list.status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600)); // access token expired
    expect((await post('/api/session', {}, { authorization: `Bearer ${accessToken}` })).status).toBe(401);
    // The session itself outlives the short access token.
    expect((await request(stack.gw.url, '/api/cases', { headers: { cookie } })).status).toBe(200);
  });

  it('stores a case once per Idempotency-Key, and answers a repeat with the first reply', async () => {
    const cookie = await session((await login()).accessToken);
    const before = (await request(stack.gw.url, '/api/cases', { headers: { cookie } })).json?.total as number;
    const first = await post('/api/cases', aCase, { cookie, 'idempotency-key': 'k-1' });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ ...aCase, createdBy: 'demo' });
    const again = await post('/api/cases', aCase, { cookie, 'idempotency-key': 'k-1' });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json).toEqual(first.json);
    expect((await post('/api/cases', { ...aCase, amountSek: 1 }, { cookie, 'idempotency-key': 'k-1' })).status).toBe(422);
    const after = await request(stack.gw.url, '/api/cases', { headers: { cookie } });
    expect(after.json?.total).toBe(before + 1);
    const id = first.json?.id as string;
    const put = await request(stack.gw.url, `/api/cases/${id}`, { method: 'PUT', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify({ ...aCase, notes: 'ändrad' }) });
    expect(put.json).toMatchObject({ id, notes: 'ändrad' });
  });

  it('refuses an invalid case naming every bad field', async () => {
    const cookie = await session((await login()).accessToken);
    const reply = await post('/api/cases', { borrower: ' ', orgNumber: '556677-8898', amountSek: -5 }, { cookie });
    expect(reply.status).toBe(400);
    expect(Object.keys(reply.json?.fields as object).sort()).toEqual(['amountSek', 'borrower', 'orgNumber']);
  });

  it('prints a case as HTML rendered by the server, escaped', async () => {
    const cookie = await session((await login()).accessToken);
    const reply = await post('/api/cases/printout', { ...aCase, notes: '<script>alert(1)</script>' }, { cookie });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.body).toContain('Norrlandsbygg i Umeå AB');
    expect(reply.body).toMatch(/1[\s\u202f]250[\s\u202f]000 SEK/); // sv-SE digit grouping
    expect(reply.body).toContain('&#60;script&#62;');
    expect(reply.body).not.toContain('<script>');
    expect(reply.body).toContain('Dana Demo');
  });

  it('loses every session when the business layer restarts (401), and a refresh token buys a new one', async () => {
    const tokens = await login();
    const cookie = await session(tokens.accessToken);
    expect((await post('/api/cases', aCase, { cookie, 'idempotency-key': 'before' })).status).toBe(201);
    await stack.stopBusiness();
    await stack.startBusiness();
    const lost = await post('/api/cases', aCase, { cookie, 'idempotency-key': 'after' });
    expect(lost.status).toBe(401);
    expect(lost.json).toMatchObject({ error: 'session_required' });
    const refreshed = (await post('/auth/refresh', { refreshToken: tokens.refreshToken })).json as { accessToken: string };
    const fresh = await session(refreshed.accessToken);
    expect((await post('/api/cases', aCase, { cookie: fresh, 'idempotency-key': 'after' })).status).toBe(201);
    // The same holds for a restart in place.
    expect((await request(stack.business().url, '/_demo/restart', { method: 'POST' })).status).toBe(200);
    expect((await request(stack.gw.url, '/api/cases', { headers: { cookie: fresh } })).status).toBe(401);
  });

  it('makes silent re-login impossible once refresh tokens are revoked', async () => {
    const tokens = await login();
    expect((await request(stack.identity.url, '/_demo/revoke', { method: 'POST' })).json).toMatchObject({ revoked: expect.any(Number) });
    expect((await post('/auth/refresh', { refreshToken: tokens.refreshToken })).status).toBe(401);
  });
});
