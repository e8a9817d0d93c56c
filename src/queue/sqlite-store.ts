import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, type SqlDb } from './sqlite-driver';
import type { Claimed, CountRow, ListQuery, MessageStatus, NewMessage, QueueMessage, QueueStore, Settlement } from './store';

/** One row of `messages`, as SQLite hands it back. */
interface Row {
  seq: number;
  id: string;
  route: string;
  idempotency_key: string | null;
  method: string;
  path: string;
  headers: string;
  body: Buffer;
  status: MessageStatus;
  attempts: number;
  created_at: number;
  next_attempt_at: number | null;
  expires_at: number;
  updated_at: number;
  lease_owner: string | null;
  last_problem: string | null;
  response: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  route TEXT NOT NULL,
  idempotency_key TEXT,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER,
  expires_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  last_problem TEXT,
  response TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages(route, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_due ON messages(route, status, next_attempt_at);
CREATE INDEX IF NOT EXISTS messages_status ON messages(status, seq);
`;

/**
 * The embedded store: one SQLite file in WAL mode; every enqueue is committed with
 * `synchronous = FULL` (an fsync) before the caller gets its 202, so power loss after the
 * answer loses nothing. better-sqlite3 is synchronous: each call is one short transaction on the
 * event loop, which keeps the store free of races between its own callers.
 *
 * One gateway process per file: at open, holds left by an earlier process (one that was
 * killed) are released at once, so its deliveries start again without waiting for a lease.
 */
export class SqliteStore implements QueueStore {
  readonly kind = 'sqlite' as const;
  private db: SqlDb | null = null;
  private stmts!: ReturnType<SqliteStore['prepare']>;
  /** Enqueues waiting for the next group commit. */
  private pending: { m: NewMessage; resolve: (r: { message: QueueMessage; created: boolean }) => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly file: string) {}

  async open(_routes: readonly string[] = []): Promise<void> {
    if (this.file !== ':memory:') {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      // Created by us, owner-only, before SQLite opens it: the WAL and shared-memory files
      // SQLite makes beside it take the same mode.
      closeSync(openSync(this.file, 'a', 0o600));
      chmodSync(this.file, 0o600);
    }
    const db = openSqlite(this.file);
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL for the worker's bookkeeping (claims, outcomes): power loss may roll back the last
    // of those, and the message is then delivered again, with the same Idempotency-Key.
    // Enqueues switch to FULL for their commit (see flush): an accepted message is on disk.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA busy_timeout = 5000');
    db.exec(SCHEMA);
    this.db = db;
    this.stmts = this.prepare(db);
    db.prepare("UPDATE messages SET status = 'queued', lease_owner = NULL, lease_until = NULL WHERE status = 'delivering'").run();
  }

  private prepare(db: SqlDb) {
    return {
      insert: db.prepare(`INSERT INTO messages (id, route, idempotency_key, method, path, headers, body, status, attempts, created_at, next_attempt_at, expires_at, updated_at)
        VALUES (@id, @route, @idempotencyKey, @method, @path, @headers, @body, 'queued', 0, @createdAt, @createdAt, @expiresAt, @createdAt)`),
      byKey: db.prepare('SELECT * FROM messages WHERE route = ? AND idempotency_key = ?'),
      byId: db.prepare('SELECT * FROM messages WHERE id = ?'),
      due: db.prepare(`SELECT * FROM messages WHERE route = @route AND (
          (status = 'queued' AND next_attempt_at <= @now) OR (status = 'delivering' AND lease_until <= @now))
        ORDER BY seq LIMIT @limit`),
      hold: db.prepare("UPDATE messages SET status = 'delivering', lease_owner = @owner, lease_until = @until, updated_at = @now WHERE id = @id"),
      renew: db.prepare("UPDATE messages SET lease_until = @until WHERE id = @id AND status = 'delivering' AND lease_owner = @owner"),
      requeue: db.prepare(`UPDATE messages SET status = 'queued', attempts = @attempts, next_attempt_at = @nextAttemptAt, last_problem = @lastProblem,
          lease_owner = NULL, lease_until = NULL, updated_at = @now WHERE id = @id AND status = 'delivering' AND lease_owner = @owner`),
      finish: db.prepare(`UPDATE messages SET status = @status, attempts = @attempts, next_attempt_at = NULL, last_problem = @lastProblem, response = @response,
          lease_owner = NULL, lease_until = NULL, updated_at = @now WHERE id = @id AND status = 'delivering' AND lease_owner = @owner`),
      expired: db.prepare("SELECT * FROM messages WHERE status = 'queued' AND expires_at <= ? ORDER BY seq LIMIT 500"),
      kill: db.prepare("UPDATE messages SET status = 'dead', next_attempt_at = NULL, last_problem = @lastProblem, updated_at = @now WHERE id = @id AND status = 'queued'"),
      counts: db.prepare('SELECT route, status, COUNT(*) AS count, MIN(created_at) AS oldest FROM messages GROUP BY route, status ORDER BY route, status'),
      retry: db.prepare(`UPDATE messages SET status = 'queued', attempts = 0, next_attempt_at = @now, expires_at = @expiresAt, response = NULL, updated_at = @now
          WHERE id = @id AND status IN ('dead', 'rejected')`),
      remove: db.prepare('DELETE FROM messages WHERE id = ?'),
      purge: db.prepare("DELETE FROM messages WHERE status IN ('delivered', 'rejected') AND created_at < ?"),
    };
  }

  /** The engine in use (better-sqlite3, or node:sqlite where that addon cannot load), for logs. */
  get engine(): string | null {
    return this.db?.engine ?? null;
  }

  private get open_(): SqlDb {
    if (!this.db) throw new Error('queue store is not open');
    return this.db;
  }

  /**
   * Group commit: the enqueues that arrive in one turn of the event loop share one
   * transaction and so one fsync, and each resolves only after it. Under concurrent load that
   * multiplies what the disk's fsync rate allows; a lone enqueue waits one setImmediate.
   */
  enqueue(m: NewMessage): Promise<{ message: QueueMessage; created: boolean }> {
    if (!this.db) return Promise.reject(new Error('queue store is not open'));
    return new Promise((resolve, reject) => {
      if (this.pending.push({ m, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const db = this.db;
    if (!db) {
      for (const p of batch) p.reject(new Error('queue store is not open'));
      return;
    }
    let results: { message: QueueMessage; created: boolean }[];
    try {
      db.exec('PRAGMA synchronous = FULL');
      results = db.immediate(() => batch.map(({ m }) => this.insertOne(m)));
    } catch (err) {
      for (const p of batch) p.reject(err);
      return;
    } finally {
      if (this.db) db.exec('PRAGMA synchronous = NORMAL');
    }
    batch.forEach((p, i) => p.resolve(results[i] as { message: QueueMessage; created: boolean }));
  }

  private insertOne(m: NewMessage): { message: QueueMessage; created: boolean } {
    if (m.idempotencyKey !== null) {
      const existing = this.stmts.byKey.get(m.route, m.idempotencyKey) as Row | undefined;
      if (existing) return { message: toMessage(existing), created: false };
    }
    this.stmts.insert.run({
      id: m.id, route: m.route, idempotencyKey: m.idempotencyKey, method: m.request.method, path: m.request.path,
      headers: JSON.stringify(m.request.headers), body: m.request.body, createdAt: m.createdAt, expiresAt: m.expiresAt,
    });
    return { message: toMessage(this.stmts.byId.get(m.id) as Row), created: true };
  }

  async get(id: string): Promise<QueueMessage | null> {
    const row = this.stmts.byId.get(id) as Row | undefined;
    return row ? toMessage(row) : null;
  }

  async claim(route: string, owner: string, limit: number, now: number, leaseMs: number): Promise<Claimed[]> {
    return this.open_.immediate(() => {
      const rows = this.stmts.due.all({ route, now, limit }) as Row[];
      return rows.map((row) => {
        this.stmts.hold.run({ id: row.id, owner, until: now + leaseMs, now });
        return { message: toMessage({ ...row, status: 'delivering', lease_owner: owner }), lease: owner };
      });
    });
  }

  async renew(c: Claimed, owner: string, now: number, leaseMs: number): Promise<boolean> {
    return Number(this.stmts.renew.run({ id: c.message.id, owner, until: now + leaseMs }).changes) === 1;
  }

  async settle(c: Claimed, owner: string, s: Settlement, now: number): Promise<boolean> {
    const lastProblem = s.lastProblem ? JSON.stringify(s.lastProblem) : null;
    const info = s.status === 'queued'
      ? this.stmts.requeue.run({ id: c.message.id, owner, attempts: s.attempts, nextAttemptAt: s.nextAttemptAt, lastProblem, now })
      : this.stmts.finish.run({ id: c.message.id, owner, status: s.status, attempts: s.attempts, lastProblem, response: s.response ? JSON.stringify(s.response) : null, now });
    return Number(info.changes) === 1;
  }

  async expire(now: number): Promise<QueueMessage[]> {
    return this.open_.immediate(() => {
      const rows = this.stmts.expired.all(now) as Row[];
      return rows.map((row) => {
        const lastProblem = JSON.stringify(expiredProblem(row, now));
        this.stmts.kill.run({ id: row.id, lastProblem, now });
        return toMessage({ ...row, status: 'dead', next_attempt_at: null, last_problem: lastProblem, updated_at: now });
      });
    });
  }

  async list(q: ListQuery): Promise<QueueMessage[]> {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: q.limit };
    if (q.status) {
      where.push('status = @status');
      params.status = q.status;
    }
    if (q.route) {
      where.push('route = @route');
      params.route = q.route;
    }
    const sql = `SELECT * FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT @limit`;
    return (this.open_.prepare(sql).all(params) as Row[]).map(toMessage);
  }

  async counts(): Promise<CountRow[]> {
    return (this.stmts.counts.all() as { route: string; status: MessageStatus; count: number; oldest: number | null }[])
      .map((r) => ({ route: r.route, status: r.status, count: r.count, oldestCreatedAt: r.oldest }));
  }

  async retry(id: string, now: number, expiresAt: number): Promise<QueueMessage | null> {
    this.stmts.retry.run({ id, now, expiresAt });
    return this.get(id);
  }

  async purge(before: number): Promise<number> {
    return Number(this.stmts.purge.run(before).changes);
  }

  async remove(id: string): Promise<boolean> {
    return Number(this.stmts.remove.run(id).changes) === 1;
  }

  async close(): Promise<void> {
    if (this.pending.length > 0) this.flush();
    this.db?.close();
    this.db = null;
  }
}

/** The lastProblem of a message whose ttlMs ran out. */
export function expiredProblem(m: { attempts: number }, now: number): { code: string; detail: string; at: number } {
  return { code: 'TTL_EXPIRED', detail: `The message was not delivered within its route's ttlMs (${m.attempts} attempts).`, at: now };
}

function toMessage(r: Row): QueueMessage {
  return {
    id: r.id,
    route: r.route,
    idempotencyKey: r.idempotency_key,
    // node:sqlite hands a BLOB back as a Uint8Array; better-sqlite3 as a Buffer.
    request: { method: r.method, path: r.path, headers: JSON.parse(r.headers) as [string, string][], body: Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body as Uint8Array) },
    status: r.status,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.status === 'queued' ? r.next_attempt_at : null,
    expiresAt: r.expires_at,
    updatedAt: r.updated_at,
    lastProblem: r.last_problem ? JSON.parse(r.last_problem) : null,
    response: r.response ? JSON.parse(r.response) : null,
  };
}
