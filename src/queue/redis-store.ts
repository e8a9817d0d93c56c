import { Redis } from 'ioredis';
import { ENQUEUE, EXPIRE, PROMOTE, PURGE, REMOVE, RENEW, RETRY, SETTLE, TAKE } from './redis-scripts';
import { MESSAGE_STATUSES, type Claimed, type CountRow, type ListQuery, type MessageStatus, type NewMessage, type QueueMessage, type QueueStore, type Settlement } from './store';

/** The consumer group every gateway replica reads the route streams in. */
const GROUP = 'bw';

type Script = (...args: (string | number)[]) => Promise<unknown>;

/**
 * The distributed store: Redis Streams with one consumer group, so that several gateway
 * replicas share one queue. Each route has a stream; a replica reads new entries with
 * XREADGROUP (Redis hands each entry to one consumer), and an entry stays in the group's
 * pending list, owned by that replica, until it is settled. That pending entry is the lease:
 * the owner renews it (XCLAIM resets its idle time) while it delivers, and an entry left idle
 * longer than `leaseMs` (its replica died) is taken over by another with XAUTOCLAIM. Idle
 * time is Redis's own clock, so replicas' clocks need not agree for a lease to hold.
 * Retries wait in a sorted set and go back on the stream when due. Every change of a
 * message is one Lua script (redis-scripts.ts).
 *
 * Durability is Redis's: run it with `appendonly yes` (and `appendfsync always` for the
 * embedded store's guarantee against power loss).
 */
export class RedisStore implements QueueStore {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  private readonly scripts: Record<'enqueue' | 'take' | 'renew' | 'settle' | 'promote' | 'expire' | 'retry' | 'remove' | 'purge', Script>;
  private readonly groups = new Set<string>();

  constructor(url: string, private readonly prefix: string) {
    const options = { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: true } as const;
    const u = new URL(url);
    this.redis = u.protocol === 'unix:' ? new Redis({ ...options, path: u.pathname }) : new Redis(url, options);
    // Connection errors surface as rejected commands; without a listener ioredis would also print them.
    this.redis.on('error', () => {});
    const define = (name: string, lua: string): Script => {
      this.redis.defineCommand(name, { numberOfKeys: 0, lua });
      return (...args) => (this.redis as unknown as Record<string, Script>)[name]!(...args);
    };
    this.scripts = {
      enqueue: define('bwEnqueue', ENQUEUE),
      take: define('bwTake', TAKE),
      renew: define('bwRenew', RENEW),
      settle: define('bwSettle', SETTLE),
      promote: define('bwPromote', PROMOTE),
      expire: define('bwExpire', EXPIRE),
      retry: define('bwRetry', RETRY),
      remove: define('bwRemove', REMOVE),
      purge: define('bwPurge', PURGE),
    };
  }

  async open(routes: readonly string[]): Promise<void> {
    await this.redis.connect();
    for (const route of routes) await this.ensureGroup(route);
  }

  private stream(route: string): string {
    return `${this.prefix}:s:${route}`;
  }

  private async ensureGroup(route: string): Promise<void> {
    if (this.groups.has(route)) return;
    try {
      await this.redis.xgroup('CREATE', this.stream(route), GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
    this.groups.add(route);
  }

  async enqueue(m: NewMessage): Promise<{ message: QueueMessage; created: boolean }> {
    const [created, id] = (await this.scripts.enqueue(
      this.prefix, m.id, m.route, m.idempotencyKey ?? '', m.createdAt, m.expiresAt,
      m.request.method, m.request.path, JSON.stringify(m.request.headers), m.request.body.toString('base64'),
    )) as [number, string];
    const message = await this.get(id);
    if (!message) throw new Error(`message ${id} vanished after enqueue`);
    return { message, created: created === 1 };
  }

  async get(id: string): Promise<QueueMessage | null> {
    const h = await this.redis.hgetall(`${this.prefix}:m:${id}`);
    return h.id ? toMessage(h) : null;
  }

  async claim(route: string, owner: string, limit: number, now: number, leaseMs: number): Promise<Claimed[]> {
    await this.ensureGroup(route);
    await this.scripts.promote(this.prefix, now);
    const s = this.stream(route);
    const entries: [string, string][] = [];
    // Holds whose replica stopped renewing them. The pending list is short (deliveries in
    // flight over all replicas), so a few pages of it cover it whole.
    let cursor = '0-0';
    for (let page = 0; page < 10 && entries.length < limit; page++) {
      const [next, claimed] = (await this.redis.xautoclaim(s, GROUP, owner, leaseMs, cursor, 'COUNT', limit - entries.length)) as [string, [string, string[]][]];
      for (const [entry, fields] of claimed) if (fields) entries.push([entry, fieldOf(fields, 'id')]);
      cursor = next;
      if (cursor === '0-0') break;
    }
    if (entries.length < limit) {
      const read = (await this.redis.xreadgroup('GROUP', GROUP, owner, 'COUNT', limit - entries.length, 'STREAMS', s, '>')) as [string, [string, string[]][]][] | null;
      for (const [entry, fields] of read?.[0]?.[1] ?? []) entries.push([entry, fieldOf(fields, 'id')]);
    }
    const out: Claimed[] = [];
    for (const [entry, id] of entries) {
      if ((await this.scripts.take(this.prefix, route, id, entry, owner, now)) !== 1) continue;
      const message = await this.get(id);
      if (message) out.push({ message, lease: entry });
    }
    return out;
  }

  async renew(c: Claimed, owner: string): Promise<boolean> {
    return (await this.scripts.renew(this.prefix, c.message.route, c.lease, owner)) === 1;
  }

  async settle(c: Claimed, owner: string, s: Settlement, now: number): Promise<boolean> {
    const response = s.status === 'queued' || !s.response ? '' : JSON.stringify(s.response);
    const next = s.status === 'queued' ? s.nextAttemptAt : '';
    const result = await this.scripts.settle(
      this.prefix, c.message.route, c.message.id, c.lease, owner, s.status, s.attempts, next,
      s.lastProblem ? JSON.stringify(s.lastProblem) : '', response, now,
    );
    return result === 1;
  }

  async expire(now: number): Promise<QueueMessage[]> {
    const ids = (await this.scripts.expire(this.prefix, now)) as string[];
    return this.many(ids);
  }

  async list(q: ListQuery): Promise<QueueMessage[]> {
    const statuses = q.status ? [q.status] : MESSAGE_STATUSES;
    const scored: [string, number][] = [];
    for (const status of statuses) {
      const key = `${this.prefix}:st:${status}${q.route ? `:${q.route}` : ''}`;
      const flat = await this.redis.zrange(key, 0, q.limit - 1, 'WITHSCORES');
      for (let i = 0; i < flat.length; i += 2) scored.push([flat[i] as string, Number(flat[i + 1])]);
    }
    scored.sort((a, b) => a[1] - b[1]);
    return this.many(scored.slice(0, q.limit).map(([id]) => id));
  }

  async counts(): Promise<CountRow[]> {
    const routes = (await this.redis.smembers(`${this.prefix}:routes`)).sort();
    const rows: CountRow[] = [];
    for (const route of routes) {
      for (const status of MESSAGE_STATUSES) {
        const key = `${this.prefix}:st:${status}:${route}`;
        const [count, oldest] = await Promise.all([this.redis.zcard(key), this.redis.zrange(key, 0, 0, 'WITHSCORES')]);
        if (count > 0) rows.push({ route, status, count, oldestCreatedAt: oldest[1] !== undefined ? Number(oldest[1]) : null });
      }
    }
    return rows;
  }

  async retry(id: string, now: number, expiresAt: number): Promise<QueueMessage | null> {
    const before = (await this.scripts.retry(this.prefix, id, now, expiresAt)) as string;
    return before === '' ? null : this.get(id);
  }

  async purge(before: number): Promise<number> {
    return (await this.scripts.purge(this.prefix, before)) as number;
  }

  async remove(id: string): Promise<boolean> {
    return (await this.scripts.remove(this.prefix, id)) === 1;
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private async many(ids: readonly string[]): Promise<QueueMessage[]> {
    const messages = await Promise.all(ids.map((id) => this.get(id)));
    return messages.filter((m): m is QueueMessage => m !== null);
  }
}

function fieldOf(fields: readonly string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  return '';
}

const numOrNull = (s: string | undefined): number | null => (s === undefined || s === '' ? null : Number(s));

function toMessage(h: Record<string, string>): QueueMessage {
  const status = h.status as MessageStatus;
  return {
    id: h.id as string,
    route: h.route as string,
    idempotencyKey: h.ikey ? h.ikey : null,
    request: { method: h.method as string, path: h.path as string, headers: JSON.parse(h.headers ?? '[]') as [string, string][], body: Buffer.from(h.body ?? '', 'base64') },
    status,
    attempts: Number(h.attempts ?? 0),
    createdAt: Number(h.createdAt),
    nextAttemptAt: status === 'queued' ? numOrNull(h.nextAttemptAt) : null,
    expiresAt: Number(h.expiresAt),
    updatedAt: Number(h.updatedAt),
    lastProblem: h.lastProblem ? JSON.parse(h.lastProblem) : null,
    response: h.response ? JSON.parse(h.response) : null,
  };
}
