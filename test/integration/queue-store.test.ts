/**
 * The queue store contract, run against both real stores: the embedded SQLite file and a
 * real redis-server (Streams with a consumer group). Same cases, same expectations.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { RedisStore } from '../../src/queue/redis-store';
import { SqliteStore } from '../../src/queue/sqlite-store';
import type { NewMessage, QueueStore } from '../../src/queue/store';
import { startRedis, type TestRedis } from '../helpers/redis';

const ROUTE = '/api/loan-applications';
const OTHER = '/api/documents';

let redis: TestRedis;
let dir: string;
beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), 'bw-store-'));
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function newMessage(over: Partial<NewMessage> = {}, now = Date.now()): NewMessage {
  return {
    id: randomUUID(),
    route: ROUTE,
    idempotencyKey: null,
    request: { method: 'POST', path: `${ROUTE}?x=1`, headers: [['content-type', 'application/json'], ['x-a', '1'], ['x-a', '2']], body: Buffer.from('{"amount":1}') },
    createdAt: now,
    expiresAt: now + 60000,
    ...over,
  };
}

const makers: [string, () => QueueStore][] = [
  ['sqlite', () => new SqliteStore(path.join(dir, `${randomUUID()}`, 'queue.db'))],
  ['redis', () => new RedisStore(redis.url, `t${randomUUID().slice(0, 8)}`)],
];

describe.each(makers)('%s store', (_name, make) => {
  let store: QueueStore;
  beforeEach(async () => {
    store = make();
    await store.open([ROUTE, OTHER]);
  });
  afterEach(() => store.close());

  it('keeps the request whole, headers in order, and reads it back', async () => {
    const m = newMessage({ request: { method: 'PUT', path: '/p?q=2', headers: [['a', 'x'], ['b', 'y'], ['a', 'z']], body: Buffer.from([0, 255, 10, 13]) } });
    const { message, created } = await store.enqueue(m);
    expect(created).toBe(true);
    expect(message).toMatchObject({ id: m.id, route: ROUTE, status: 'queued', attempts: 0, createdAt: m.createdAt, nextAttemptAt: m.createdAt, lastProblem: null, response: null });
    const read = await store.get(m.id);
    expect(read?.request.method).toBe('PUT');
    expect(read?.request.path).toBe('/p?q=2');
    expect(read?.request.headers).toEqual([['a', 'x'], ['b', 'y'], ['a', 'z']]);
    expect(read?.request.body.equals(Buffer.from([0, 255, 10, 13]))).toBe(true);
    expect(await store.get('no-such-id')).toBeNull();
  });

  it('the same idempotency key on the same route is the same message; on another route it is another', async () => {
    const first = await store.enqueue(newMessage({ idempotencyKey: 'k-1' }));
    const again = await store.enqueue(newMessage({ idempotencyKey: 'k-1' }));
    expect(again.created).toBe(false);
    expect(again.message.id).toBe(first.message.id);
    const other = await store.enqueue(newMessage({ idempotencyKey: 'k-1', route: OTHER }));
    expect(other.created).toBe(true);
    expect(other.message.id).not.toBe(first.message.id);
    expect((await store.counts()).reduce((n, r) => n + r.count, 0)).toBe(2);
  });

  it('claims due messages of one route oldest first, and holds them from every other claimer', async () => {
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.enqueue(newMessage({}, now + i))).message.id);
    await store.enqueue(newMessage({ route: OTHER }, now));
    const a = await store.claim(ROUTE, 'A', 3, now + 10, 30000);
    expect(a.map((c) => c.message.id)).toEqual(ids.slice(0, 3));
    expect(a.every((c) => c.message.status === 'delivering')).toBe(true);
    const b = await store.claim(ROUTE, 'B', 10, now + 10, 30000);
    expect(b.map((c) => c.message.id)).toEqual(ids.slice(3));
    expect(await store.claim(ROUTE, 'C', 10, now + 10, 30000)).toEqual([]);
    const counts = await store.counts();
    expect(counts.find((r) => r.route === ROUTE && r.status === 'delivering')?.count).toBe(5);
    expect(counts.find((r) => r.route === OTHER && r.status === 'queued')?.count).toBe(1);
  });

  it('a final settlement keeps the answer; a retry waits until its time; a lost hold records nothing', async () => {
    const now = Date.now();
    const m1 = (await store.enqueue(newMessage({}, now))).message;
    const m2 = (await store.enqueue(newMessage({}, now + 1))).message;
    const [c1, c2] = await store.claim(ROUTE, 'A', 2, now + 5, 30000);
    const response = { status: 201, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    expect(await store.settle(c1!, 'A', { status: 'delivered', attempts: 1, response, lastProblem: null }, now + 6)).toBe(true);
    expect(await store.get(m1.id)).toMatchObject({ status: 'delivered', attempts: 1, response, nextAttemptAt: null });
    // Settling twice, or by someone who does not hold it, changes nothing.
    expect(await store.settle(c1!, 'A', { status: 'dead', attempts: 9, response: null, lastProblem: null }, now + 7)).toBe(false);
    expect(await store.settle(c2!, 'B', { status: 'dead', attempts: 9, response: null, lastProblem: null }, now + 7)).toBe(false);
    const problem = { code: 'UPSTREAM_TIMEOUT', detail: 'slow', at: now + 8 };
    expect(await store.settle(c2!, 'A', { status: 'queued', attempts: 1, nextAttemptAt: now + 1000, lastProblem: problem }, now + 8)).toBe(true);
    expect(await store.get(m2.id)).toMatchObject({ status: 'queued', attempts: 1, nextAttemptAt: now + 1000, lastProblem: problem });
    expect(await store.claim(ROUTE, 'A', 5, now + 999, 30000)).toEqual([]);
    const later = await store.claim(ROUTE, 'B', 5, now + 1000, 30000);
    expect(later.map((c) => c.message.id)).toEqual([m2.id]);
    expect(later[0]?.message.attempts).toBe(1);
  });

  it('a hold not renewed within its lease is taken over by another owner; the first owner\'s settlement is refused', async () => {
    const now = Date.now();
    const m = (await store.enqueue(newMessage({}, now))).message;
    const [held] = await store.claim(ROUTE, 'A', 1, now, 1000);
    const kept = (await store.enqueue(newMessage({}, now + 1))).message;
    const [renewed] = await store.claim(ROUTE, 'A', 1, now + 1, 1000);
    expect(renewed?.message.id).toBe(kept.id);
    await new Promise((r) => setTimeout(r, 700));
    expect(await store.renew(renewed!, 'A', Date.now(), 1000)).toBe(true);
    await new Promise((r) => setTimeout(r, 700));
    // 1.4 s after the claim: the first hold ran out, the renewed one did not.
    const taken = await store.claim(ROUTE, 'B', 5, Date.now(), 1000);
    expect(taken.map((c) => c.message.id)).toEqual([m.id]);
    expect(await store.renew(held!, 'A', Date.now(), 1000)).toBe(false);
    expect(await store.settle(held!, 'A', { status: 'delivered', attempts: 1, response: null, lastProblem: null }, Date.now())).toBe(false);
    expect(await store.settle(taken[0]!, 'B', { status: 'delivered', attempts: 1, response: null, lastProblem: null }, Date.now())).toBe(true);
    expect((await store.get(m.id))?.status).toBe('delivered');
  });

  it('queued messages past their ttl become dead, are listed as dead, and retry queues them again', async () => {
    const now = Date.now();
    const m = (await store.enqueue(newMessage({ expiresAt: now + 50 }, now))).message;
    const alive = (await store.enqueue(newMessage({}, now))).message;
    expect(await store.expire(now + 49)).toEqual([]);
    const expired = await store.expire(now + 50);
    expect(expired.map((x) => x.id)).toEqual([m.id]);
    expect(expired[0]).toMatchObject({ status: 'dead', lastProblem: { code: 'TTL_EXPIRED' } });
    expect((await store.list({ status: 'dead', limit: 10 })).map((x) => x.id)).toEqual([m.id]);
    expect((await store.list({ status: 'queued', limit: 10 })).map((x) => x.id)).toEqual([alive.id]);
    expect((await store.list({ limit: 10 })).map((x) => x.id).sort()).toEqual([m.id, alive.id].sort());
    const retried = await store.retry(m.id, now + 100, now + 60000);
    expect(retried).toMatchObject({ status: 'queued', attempts: 0, nextAttemptAt: now + 100 });
    const claimed = await store.claim(ROUTE, 'A', 5, now + 100, 30000);
    expect(claimed.map((c) => c.message.id).sort()).toEqual([m.id, alive.id].sort());
    expect(await store.retry('nope', now, now)).toBeNull();
  });

  it('retry leaves a message that is not dead or rejected as it is', async () => {
    const now = Date.now();
    const m = (await store.enqueue(newMessage({}, now))).message;
    expect(await store.retry(m.id, now + 5, now + 10)).toMatchObject({ status: 'queued', expiresAt: m.expiresAt });
  });

  it('purge deletes delivered and rejected messages accepted before a time, never dead or queued ones', async () => {
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await store.enqueue(newMessage({ idempotencyKey: `p-${i}` }, now + i))).message.id);
    const fresh = (await store.enqueue(newMessage({}, now + 100))).message;
    const claimed = await store.claim(ROUTE, 'A', 10, now + 200, 30000);
    const outcome = (c: (typeof claimed)[number]): 'delivered' | 'rejected' | 'dead' => (c.message.id === ids[0] || c.message.id === fresh.id ? 'delivered' : c.message.id === ids[1] ? 'rejected' : 'dead');
    for (const c of claimed) if (c.message.id !== ids[3]) await store.settle(c, 'A', { status: outcome(c), attempts: 1, response: null, lastProblem: null }, now + 201);
    const held = claimed.find((c) => c.message.id === ids[3])!;
    await store.settle(held, 'A', { status: 'queued', attempts: 1, nextAttemptAt: now + 300, lastProblem: null }, now + 201);
    expect(await store.purge(now + 50)).toBe(2);
    expect(await store.get(ids[0]!)).toBeNull();
    expect(await store.get(ids[1]!)).toBeNull();
    expect((await store.get(ids[2]!))?.status).toBe('dead');
    expect((await store.get(ids[3]!))?.status).toBe('queued');
    expect((await store.get(fresh.id))?.status).toBe('delivered');
    // The purged messages' keys are free again.
    expect((await store.enqueue(newMessage({ idempotencyKey: 'p-0' }))).created).toBe(true);
  });

  it('remove deletes a message and frees its idempotency key', async () => {
    const first = (await store.enqueue(newMessage({ idempotencyKey: 'k-del' }))).message;
    expect(await store.remove(first.id)).toBe(true);
    expect(await store.remove(first.id)).toBe(false);
    expect(await store.get(first.id)).toBeNull();
    const again = await store.enqueue(newMessage({ idempotencyKey: 'k-del' }));
    expect(again.created).toBe(true);
    expect(await store.counts()).toEqual([expect.objectContaining({ route: ROUTE, status: 'queued', count: 1 })]);
    // A removed message that was held cannot be settled.
    const [held] = await store.claim(ROUTE, 'A', 1, Date.now(), 30000);
    await store.remove(held!.message.id);
    expect(await store.settle(held!, 'A', { status: 'delivered', attempts: 1, response: null, lastProblem: null }, Date.now())).toBe(false);
    expect(await store.claim(ROUTE, 'A', 1, Date.now(), 30000)).toEqual([]);
  });
});

describe('sqlite store specifics', () => {
  it('creates its file (and its directory) readable by its owner only', async () => {
    const file = path.join(dir, 'private', 'nested', 'queue.db');
    const store = new SqliteStore(file);
    await store.open([ROUTE]);
    await store.enqueue(newMessage());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(`${file}-wal`).mode & 0o777).toBe(0o600);
    await store.close();
  });

  it('a reopened file releases the holds of the process that had it, at once', async () => {
    const file = path.join(dir, 'reopen', 'queue.db');
    const a = new SqliteStore(file);
    await a.open([ROUTE]);
    const m = (await a.enqueue(newMessage())).message;
    expect(await a.claim(ROUTE, 'A', 1, Date.now(), 60000)).toHaveLength(1);
    await a.close();
    const b = new SqliteStore(file);
    await b.open([ROUTE]);
    const claimed = await b.claim(ROUTE, 'B', 1, Date.now(), 60000);
    expect(claimed.map((c) => c.message.id)).toEqual([m.id]);
    await b.close();
  });
});
