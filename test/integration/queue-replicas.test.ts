/**
 * Several replicas on one Redis (README "Queued delivery"): two gateway processes share one
 * queue and deliver 1,000 messages between them; none is lost, none is delivered by both at
 * once (the upstream sees no second request for a message while its first is still open),
 * and SIGKILLing one of them midway changes nothing: the other takes over its leases.
 */
import http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { startGatewayProcess } from '../helpers/gateway-process';
import { startRedis, type TestRedis } from '../helpers/redis';

jest.setTimeout(120000);

const TOTAL = 1000;

let build: CliBuild;
let redis: TestRedis;
let dir: string;
beforeAll(async () => {
  build = buildCli();
  redis = await startRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), 'bw-replicas-'));
});
afterAll(async () => {
  build.remove();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Counts deliveries per message and catches overlap: a second request for a key whose first is still open. */
async function watchingUpstream(): Promise<{ url: string; deliveries: Map<string, number>; overlaps: string[]; close(): Promise<void> }> {
  const deliveries = new Map<string, number>();
  const open = new Set<string>();
  const overlaps: string[] = [];
  const server = http.createServer((req, res) => {
    const key = String(req.headers['idempotency-key']);
    if (open.has(key)) overlaps.push(key);
    open.add(key);
    const done = (): void => void open.delete(key);
    res.on('close', done);
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        res.end('{"ok":true}');
      }, 10 + Math.floor(Math.random() * 10));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    deliveries,
    overlaps,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

function post(url: string, n: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(`${url}/api/applications`, { method: 'POST', agent: false, headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `m-${n}` } });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 202));
    });
    req.on('error', () => resolve(false));
    req.end(JSON.stringify({ n }));
  });
}

it('two gateways on one Redis deliver 1,000 messages, none lost, none by both at once, one SIGKILLed midway', async () => {
  const upstream = await watchingUpstream();
  const config = {
    log: { level: 'info' },
    queue: { store: 'redis', url: redis.url, prefix: 'replicas', concurrency: 8, leaseMs: 1000, pollIntervalMs: 20 },
    upstreams: { business: { url: upstream.url, timeoutMs: 5000 } },
    routes: [{ path: '/api/applications', upstream: 'business', delivery: 'queued', queue: { initialBackoffMs: 50, maxBackoffMs: 200 } }],
  };
  const a = await startGatewayProcess(build, path.join(dir, 'a.json'), config);
  const b = await startGatewayProcess(build, path.join(dir, 'b.json'), config);
  let next = 0;
  let killed = false;
  const submitter = async (): Promise<void> => {
    while (next < TOTAL) {
      const n = next++;
      // Alternate replicas; after A is gone, B takes everything (a caller's load balancer would do the same).
      for (let tries = 0; tries < 50; tries++) {
        const target = killed || n % 2 === 1 ? b : a;
        if (await post(target.url, n)) break;
      }
    }
  };
  const submitting = Promise.all(Array.from({ length: 8 }, submitter));
  // Midway, while both are accepting and delivering.
  while (upstream.deliveries.size < TOTAL / 3) await new Promise((r) => setTimeout(r, 10));
  killed = true;
  await a.kill();
  const killedAt = upstream.deliveries.size;
  await submitting;
  const deadline = Date.now() + 60000;
  while (upstream.deliveries.size < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1500)); // any late second delivery would show now
  const metrics = await new Promise<string>((resolve) => {
    http.get(`${b.adminUrl}/metrics`, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve(text));
    });
  });
  const byB = Number(/breakwater_queue_deliveries_total\{[^}]*outcome="delivered"\} (\d+)/.exec(metrics)?.[1] ?? 0);
  await b.stop();
  await upstream.close();

  const missing = Array.from({ length: TOTAL }, (_, n) => `m-${n}`).filter((k) => !upstream.deliveries.has(k));
  const duplicates = [...upstream.deliveries.values()].reduce((d, c) => d + c - 1, 0);
  console.log(`queue replicas test: A SIGKILLed after ${killedAt} deliveries; ${upstream.deliveries.size} of ${TOTAL} delivered (${byB} by B), ${duplicates} delivered twice (A was killed holding them), ${upstream.overlaps.length} overlapping`);
  expect(missing).toEqual([]);
  // Both delivered: B alone did not.
  expect(byB).toBeGreaterThan(0);
  expect(byB).toBeLessThan(TOTAL);
  expect(upstream.overlaps).toEqual([]);
  expect(duplicates).toBeLessThanOrEqual(8);
});
