/**
 * Queued delivery end to end (README "Queued delivery"), against real upstreams and both real
 * stores: accepted with 202 and delivered once; waiting (nothing sent anywhere) while a
 * required system is down, delivered soon after it returns; one message per Idempotency-Key;
 * dead after maxAttempts and delivered after an admin retry; 4xx rejected with the answer kept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { expectProblem, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { expectResponseToMatch, expectToMatchComponent } from '../helpers/openapi';
import { startRedis, type TestRedis } from '../helpers/redis';
import { openSse } from '../helpers/sse';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const TOKEN = 'queue-test-token';
const AUTH = { Authorization: `Bearer ${TOKEN}` };

let redis: TestRedis;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), 'bw-queue-'));
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const stores: [string, () => Record<string, unknown>][] = [
  ['sqlite', () => ({ store: 'sqlite', path: path.join(dir, randomUUID(), 'queue.db') })],
  ['redis', () => ({ store: 'redis', url: redis.url, prefix: `t-${randomUUID().slice(0, 8)}` })],
];

describe.each(stores)('queued delivery (%s store)', (_name, storeConfig) => {
  let business: ControlledUpstream;
  let bureau: ControlledUpstream;
  let gw: StartedGateway | undefined;
  beforeEach(async () => {
    business = await startUpstream({ mode: { kind: 'ok', status: 201, body: '{"applicationId":"A-1"}' } });
    bureau = await startUpstream();
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await business.close();
    await bureau.close();
  });

  /** business behind /api/loan-applications (queued, requires credit-bureau); `route` and `queue` are merged in. */
  async function start(route: Record<string, unknown> = {}, queue: Record<string, unknown> = {}, business_: Record<string, unknown> = {}): Promise<StartedGateway> {
    gw = await startGateway({
      admin: { token: TOKEN },
      queue: { ...storeConfig(), pollIntervalMs: 50, ...queue },
      defaults: { breaker: { volumeThreshold: 100 } },
      upstreams: {
        business: { url: business.url, headers: { Authorization: 'Bearer gateway-credential' }, ...business_ },
        'credit-bureau': { url: bureau.url, healthCheck: { path: '/health', intervalMs: 100, timeoutMs: 500, unhealthyThreshold: 1, healthyThreshold: 1 } },
      },
      routes: [{
        path: '/api/loan-applications', upstream: 'business', requires: ['credit-bureau'], delivery: 'queued',
        queue: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 400 }, ...route,
      }],
    });
    return gw;
  }

  const submit = (g: StartedGateway, body = '{"orgNumber":"556677-8899"}', headers: Record<string, string> = {}) =>
    request(g.url, '/api/loan-applications?channel=web', { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });

  async function messageOf(g: StartedGateway, id: string): Promise<Record<string, unknown>> {
    const r = await request(g.url, `/messages/${id}`);
    expect(r.status).toBe(200);
    expectResponseToMatch('/messages/{id}', 'get', r);
    return r.json as Record<string, unknown>;
  }

  async function until(g: StartedGateway, id: string, status: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await messageOf(g, id);
      if (m.status === status) return m;
      if (Date.now() > deadline) throw new Error(`message ${id} is ${String(m.status)}, not ${status}, after ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  it('accepts with 202 after committing, then delivers once, with the message id as Idempotency-Key and the upstream\'s own credentials', async () => {
    const g = await start();
    const r = await submit(g, '{"orgNumber":"556677-8899"}', { Authorization: 'Bearer caller-secret', Cookie: 'session=abc', 'X-Trace': 't-1' });
    expect(r.status).toBe(202);
    const { id, status } = r.json as { id: string; status: string };
    expect(status).toBe('queued');
    expectToMatchComponent('MessageAccepted', r.json);
    expect(r.headers.location).toBe(`/messages/${id}`);
    expect(r.headers['x-request-id']).toBeDefined();
    const m = await until(g, id, 'delivered');
    expect(m).toMatchObject({ id, status: 'delivered', attempts: 1, lastProblem: null, nextAttemptAt: null });
    expect(m.response).toMatchObject({ status: 201, body: '{"applicationId":"A-1"}' });
    expect(typeof m.createdAt).toBe('string');
    expect(business.received).toHaveLength(1);
    const got = business.received[0]!;
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/api/loan-applications?channel=web');
    expect(got.body).toBe('{"orgNumber":"556677-8899"}');
    expect(got.headers['idempotency-key']).toBe(id);
    expect(got.headers['x-request-id']).toBe(r.headers['x-request-id']);
    expect(got.headers['x-trace']).toBe('t-1');
    expect(got.headers['content-type']).toBe('application/json');
    // Credentials never stored: the upstream sees the gateway's own, and no cookie.
    expect(got.headers.authorization).toBe('Bearer gateway-credential');
    expect(got.headers.cookie).toBeUndefined();
    expect(got.headers.host).toBe(new URL(business.url).host);
    await sleep(200);
    expect(business.received).toHaveLength(1);
  });

  it('keeps a credential the route lists in keepHeaders, and passes a caller\'s Idempotency-Key on', async () => {
    const g = await start({ queue: { keepHeaders: ['Cookie'] } });
    const r = await submit(g, '{}', { Cookie: 'session=abc', 'Idempotency-Key': 'caller-key-1' });
    await until(g, (r.json as { id: string }).id, 'delivered');
    expect(business.received[0]?.headers.cookie).toBe('session=abc');
    expect(business.received[0]?.headers['idempotency-key']).toBe('caller-key-1');
  });

  it('waits without sending anything while a required system is down, then delivers within one backoff of its return', async () => {
    const g = await start({ queue: { maxAttempts: 3, initialBackoffMs: 1000, maxBackoffMs: 1000 } });
    bureau.setHealth(false);
    await waitFor(() => g.gw.registry.get('credit-bureau').breaker.isOpen(), 3000, 'credit-bureau down');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await submit(g, `{"n":${i}}`);
      expect(r.status).toBe(202);
      ids.push((r.json as { id: string }).id);
    }
    await sleep(800);
    expect(business.received).toHaveLength(0);
    expect(bureau.received).toHaveLength(0);
    for (const id of ids) expect(await messageOf(g, id)).toMatchObject({ status: 'queued', attempts: 0 });
    const summary = await request(g.gw.adminUrl, '/admin/queue', { headers: AUTH });
    expect(summary.json).toMatchObject({ routes: { '/api/loan-applications': { upstream: 'business', counts: { queued: 3, delivering: 0, delivered: 0, dead: 0 } } } });
    bureau.setHealth(true);
    const back = Date.now();
    for (const id of ids) await until(g, id, 'delivered', 3000);
    expect(Date.now() - back).toBeLessThan(1000 + 500);
    // In the order they were accepted, each once.
    expect(business.received.map((x) => x.body)).toEqual(['{"n":0}', '{"n":1}', '{"n":2}']);
    for (const id of ids) expect((await messageOf(g, id)).attempts).toBe(1);
  });

  it('the same Idempotency-Key on the same route is one message, delivered once', async () => {
    const g = await start();
    bureau.setHealth(false);
    await waitFor(() => g.gw.registry.get('credit-bureau').breaker.isOpen(), 3000, 'credit-bureau down');
    const a = await submit(g, '{"first":true}', { 'Idempotency-Key': 'k-42' });
    const b = await submit(g, '{"second":true}', { 'Idempotency-Key': 'k-42' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect((b.json as { id: string }).id).toBe((a.json as { id: string }).id);
    expect(b.headers.location).toBe(a.headers.location);
    bureau.setHealth(true);
    await until(g, (a.json as { id: string }).id, 'delivered');
    const c = await submit(g, '{"third":true}', { 'Idempotency-Key': 'k-42' });
    expect(c.json).toEqual({ id: (a.json as { id: string }).id, status: 'delivered' });
    await sleep(300);
    expect(business.received.map((x) => x.body)).toEqual(['{"first":true}']);
  });

  it('is dead after maxAttempts of failureStatuses answers, announced on the event stream; an admin retry delivers it', async () => {
    business.setMode({ kind: 'status', status: 503 });
    const g = await start();
    const sse = await openSse(g.gw.adminUrl, '/admin/breakers/stream', AUTH);
    try {
      const r = await submit(g);
      const id = (r.json as { id: string }).id;
      const dead = await until(g, id, 'dead');
      expect(dead).toMatchObject({ attempts: 3, lastProblem: { code: 'UPSTREAM_ANSWER', status: 503 } });
      expect(business.received).toHaveLength(3);
      const event = await sse.next((e) => e.type === 'message-dead', 3000);
      expect(JSON.parse(event.data)).toMatchObject({ id, status: 'dead', attempts: 3, route: '/api/loan-applications' });
      const list = await request(g.gw.adminUrl, '/admin/queue/messages?status=dead', { headers: AUTH });
      expectResponseToMatch('/admin/queue/messages', 'get', list);
      expect((list.json as { messages: { id: string }[] }).messages.map((m) => m.id)).toEqual([id]);
      business.setMode({ kind: 'ok', status: 200 });
      const retry = await request(g.gw.adminUrl, `/admin/queue/messages/${id}/retry`, { method: 'POST', headers: AUTH });
      expect(retry.status).toBe(200);
      expectResponseToMatch('/admin/queue/messages/{id}/retry', 'post', retry);
      expect(retry.json).toMatchObject({ id, status: 'queued', attempts: 0 });
      expect(await until(g, id, 'delivered')).toMatchObject({ attempts: 1, response: { status: 200 } });
      expect(business.received).toHaveLength(4);
      expect(new Set(business.received.map((x) => x.headers['idempotency-key']))).toEqual(new Set([id]));
    } finally {
      sse.close();
    }
  });

  it('a 4xx answer ends it as rejected with the answer kept; 429 is tried again after its Retry-After', async () => {
    business.setMode({ kind: 'ok', status: 422, body: '{"error":"bad orgNumber"}' });
    const g = await start();
    const r = await submit(g);
    const id = (r.json as { id: string }).id;
    const m = await until(g, id, 'rejected');
    expect(m).toMatchObject({ attempts: 1, response: { status: 422, body: '{"error":"bad orgNumber"}' } });
    expect((m.response as { headers: Record<string, string> }).headers['content-type']).toBe('application/json');
    await sleep(300);
    expect(business.received).toHaveLength(1);

    business.reset();
    business.setMode({ kind: 'ok', status: 429, body: '{}', headers: { 'Retry-After': '1' } });
    const r2 = await submit(g);
    const id2 = (r2.json as { id: string }).id;
    await waitFor(() => business.received.length === 1, 3000, 'first attempt');
    business.setMode({ kind: 'ok', status: 200 });
    const waiting = await messageOf(g, id2);
    expect(waiting).toMatchObject({ status: 'queued', attempts: 1, lastProblem: { code: 'UPSTREAM_ANSWER', status: 429 } });
    // Retry-After: 1 wins over the 100-200 ms backoff.
    await sleep(600);
    expect(business.received).toHaveLength(1);
    await until(g, id2, 'delivered', 3000);
    expect(business.received[1]!.at - business.received[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('transport failures are tried again: an unreachable upstream spends attempts and goes dead', async () => {
    const g = await start({}, {}, { url: 'http://127.0.0.1:1', connectTimeoutMs: 200 });
    const r = await submit(g);
    const m = await until(g, (r.json as { id: string }).id, 'dead');
    expect(m).toMatchObject({ attempts: 3, lastProblem: { code: 'UPSTREAM_UNREACHABLE' }, response: null });
  });

  it('a message still waiting for its systems when its ttlMs runs out is dead, without an attempt', async () => {
    const g = await start({ queue: { ttlMs: 300 } });
    bureau.setHealth(false);
    await waitFor(() => g.gw.registry.get('credit-bureau').breaker.isOpen(), 3000, 'credit-bureau down');
    const id = ((await submit(g)).json as { id: string }).id;
    const dead = await until(g, id, 'dead', 4000);
    expect(dead).toMatchObject({ attempts: 0, lastProblem: { code: 'TTL_EXPIRED' }, nextAttemptAt: null });
    bureau.setHealth(true);
    await sleep(400);
    expect(business.received).toHaveLength(0);
  });

  it('never has more than queue.concurrency deliveries in flight', async () => {
    business.setMode({ kind: 'slow', delayMs: 150 });
    const g = await start({}, { concurrency: 2 });
    let open = 0;
    let most = 0;
    const watch = setInterval(() => {
      open = business.openSockets;
      most = Math.max(most, open);
    }, 5);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(((await submit(g, `{"n":${i}}`)).json as { id: string }).id);
      for (const id of ids) await until(g, id, 'delivered', 5000);
    } finally {
      clearInterval(watch);
    }
    expect(business.received).toHaveLength(6);
    expect(most).toBeGreaterThanOrEqual(1);
    expect(most).toBeLessThanOrEqual(2);
    // In flight two at a time: six 150 ms answers take at least three rounds.
    const span = business.received[5]!.at - business.received[0]!.at;
    expect(span).toBeGreaterThanOrEqual(250);
  });

  it('refuses methods that cannot be queued, unknown messages, and bad keys with problems', async () => {
    const g = await start();
    const get = await request(g.url, '/api/loan-applications');
    expectProblem(get, { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false });
    expect(get.headers.allow).toBe('POST, PUT, PATCH, DELETE');
    expectProblem(await request(g.url, `/messages/${randomUUID()}`), { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    const post = await request(g.url, `/messages/${randomUUID()}`, { method: 'POST' });
    expectProblem(post, { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false });
    const badKey = await submit(g, '{}', { 'Idempotency-Key': 'x'.repeat(300) });
    expectProblem(badKey, { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
    await sleep(100);
    expect(business.received).toHaveLength(0);
  });

  it('admin: counts, lists, delete, and actions refused without a token', async () => {
    business.setMode({ kind: 'status', status: 503 });
    const g = await start({ queue: { maxAttempts: 1 } });
    const id = ((await submit(g)).json as { id: string }).id;
    await until(g, id, 'dead');
    const summary = await request(g.gw.adminUrl, '/admin/queue', { headers: AUTH });
    expect(summary.status).toBe(200);
    expectResponseToMatch('/admin/queue', 'get', summary);
    expect(summary.json).toMatchObject({ store: _name, routes: { '/api/loan-applications': { counts: { dead: 1, queued: 0 } } } });
    expect((await request(g.gw.adminUrl, '/admin/queue')).status).toBe(401);
    expect((await request(g.gw.adminUrl, '/admin/queue/messages?status=nope', { headers: AUTH })).status).toBe(400);
    const metrics = await request(g.gw.adminUrl, '/metrics', { headers: AUTH });
    expect(metrics.body).toContain('breakwater_queue_messages{route="/api/loan-applications",status="dead"} 1');
    expect(metrics.body).toContain('breakwater_queue_deliveries_total{route="/api/loan-applications",upstream="business",outcome="dead"} 1');
    expect(metrics.body).toMatch(/breakwater_queue_oldest_message_age_seconds\{route="\/api\/loan-applications"\} 0/);
    const del = await request(g.gw.adminUrl, `/admin/queue/messages/${id}`, { method: 'DELETE', headers: AUTH });
    expect(del.status).toBe(204);
    expect((await request(g.url, `/messages/${id}`)).status).toBe(404);
    expect((await request(g.gw.adminUrl, `/admin/queue/messages/${id}`, { method: 'DELETE', headers: AUTH })).status).toBe(404);
  });
});

describe('queued delivery without an admin token', () => {
  it('retry and delete are 403 FORBIDDEN, reads are open', async () => {
    const business = await startUpstream();
    const g = await startGateway({
      queue: { path: path.join(dir, randomUUID(), 'q.db') },
      upstreams: { business: { url: business.url } },
      routes: [{ path: '/q', upstream: 'business', delivery: 'queued' }],
    });
    try {
      const id = ((await request(g.url, '/q', { method: 'PUT', body: 'x' })).json as { id: string }).id;
      expect((await request(g.gw.adminUrl, '/admin/queue')).status).toBe(200);
      expectProblem(await request(g.gw.adminUrl, `/admin/queue/messages/${id}/retry`, { method: 'POST' }), { status: 403, code: 'FORBIDDEN', forwarded: false, retryable: false });
      expectProblem(await request(g.gw.adminUrl, `/admin/queue/messages/${id}`, { method: 'DELETE' }), { status: 403, code: 'FORBIDDEN', forwarded: false, retryable: false });
    } finally {
      await g.close();
      await business.close();
    }
  });
});
