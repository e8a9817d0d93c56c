/**
 * Queued delivery and the drain (README "Queued delivery", "Lifecycle"): on shutdown no new
 * delivery starts, one in flight finishes within the drain time, and everything else stays
 * in the store for the next start; a delivery cut by the drain deadline is delivered again
 * after the restart, with the same Idempotency-Key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

let dir: string;
let upstream: ControlledUpstream;
const gateways: StartedGateway[] = [];
beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bw-qdrain-'));
  upstream = await startUpstream();
});
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.close();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(drainTimeoutMs: number): Promise<StartedGateway> {
  const g = await startGateway({
    shutdown: { drainTimeoutMs },
    queue: { path: path.join(dir, 'queue.db'), concurrency: 1, pollIntervalMs: 50 },
    upstreams: { business: { url: upstream.url, timeoutMs: 10000 } },
    routes: [{ path: '/api/applications', upstream: 'business', delivery: 'queued' }],
  });
  gateways.push(g);
  return g;
}

const submit = async (g: StartedGateway, n: number): Promise<string> => {
  const r = await request(g.url, '/api/applications', { method: 'POST', body: `{"n":${n}}` });
  expect(r.status).toBe(202);
  return (r.json as { id: string }).id;
};

it('lets the delivery in flight finish, starts no other, and leaves the rest for the next start', async () => {
  upstream.setMode({ kind: 'slow', delayMs: 800 });
  const g1 = await start(5000);
  const ids = [await submit(g1, 0), await submit(g1, 1), await submit(g1, 2)];
  await waitFor(() => upstream.received.length === 1, 3000, 'first delivery');
  const t0 = Date.now();
  await g1.gw.shutdown();
  // It waited for the slow answer, and no second delivery began meanwhile.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
  expect(upstream.received).toHaveLength(1);
  upstream.setMode({ kind: 'ok' });
  const g2 = await start(5000);
  await waitFor(() => upstream.received.length === 3, 5000, 'the rest delivered after the restart');
  for (const id of ids) expect(((await request(g2.url, `/messages/${id}`)).json as { status: string }).status).toBe('delivered');
  expect(upstream.received.map((r) => r.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
  await sleep(200);
  expect(upstream.received).toHaveLength(3);
});

it('a delivery still running at the drain deadline is cut, stays in the store, and is delivered again after the restart', async () => {
  upstream.setMode({ kind: 'hang' });
  const g1 = await start(300);
  const id = await submit(g1, 7);
  await waitFor(() => upstream.received.length === 1, 3000, 'delivery started');
  const t0 = Date.now();
  await g1.gw.shutdown();
  expect(Date.now() - t0).toBeLessThan(2000);
  upstream.setMode({ kind: 'ok' });
  const g2 = await start(5000);
  await waitFor(() => upstream.received.length === 2, 5000, 'delivered again');
  const m = (await request(g2.url, `/messages/${id}`)).json as { status: string; attempts: number };
  expect(m.status).toBe('delivered');
  // Both attempts carried the same key, so the upstream can tell the second is the first again.
  expect(upstream.received.map((r) => r.headers['idempotency-key'])).toEqual([id, id]);
});
