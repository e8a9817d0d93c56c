/**
 * `upstreams.NAME.headers` on direct routes: added to every request the upstream receives;
 * a caller's own copy is replaced, and no Connection trick can strip the configured one.
 */
import { request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

let upstream: ControlledUpstream;
let g: StartedGateway;
beforeAll(async () => {
  upstream = await startUpstream();
  g = await startGateway({
    upstreams: { backend: { url: upstream.url, headers: { Authorization: 'Bearer from-gateway', 'X-Api-Key': 'k1' } } },
    routes: [{ path: '/api', upstream: 'backend' }],
  });
});
afterAll(async () => {
  await g.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

it('adds the configured headers to every request', async () => {
  expect((await request(g.url, '/api/a')).status).toBe(200);
  expect(upstream.received[0]?.headers).toMatchObject({ authorization: 'Bearer from-gateway', 'x-api-key': 'k1' });
});

it('replaces the caller\'s own copies, whatever their case', async () => {
  expect((await request(g.url, '/api/b', { method: 'POST', body: '{}', headers: { authorization: 'Bearer caller', 'X-API-KEY': 'mine' } })).status).toBe(200);
  expect(upstream.received[0]?.headers.authorization).toBe('Bearer from-gateway');
  expect(upstream.received[0]?.headers['x-api-key']).toBe('k1');
});

it('a caller\'s Connection header cannot strip a configured header', async () => {
  expect((await request(g.url, '/api/c', { headers: { Connection: 'keep-alive, Authorization, X-Api-Key' } })).status).toBe(200);
  expect(upstream.received[0]?.headers).toMatchObject({ authorization: 'Bearer from-gateway', 'x-api-key': 'k1' });
});
