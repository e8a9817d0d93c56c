import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

/** The few SQLite calls the embedded store makes, whichever engine runs them. */
export interface SqlStatement {
  run(...params: unknown[]): { changes: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface SqlDb {
  /** `better-sqlite3`, or `node:sqlite` when that native addon cannot be loaded. */
  readonly engine: 'better-sqlite3' | 'node:sqlite';
  exec(sql: string): void;
  prepare(sql: string): SqlStatement;
  /** Runs `fn` in one BEGIN IMMEDIATE transaction: committed when it returns, rolled back when it throws. */
  immediate<T>(fn: () => T): T;
  close(): void;
}

/** Node's built-in SQLite (Node 22.13 and later), loaded only when asked for: Node 20 has none. */
interface NodeSqlite {
  DatabaseSync: new (file: string) => { exec(sql: string): void; prepare(sql: string): SqlStatement; close(): void };
}

/**
 * Opens `file` with better-sqlite3 (the engine the project depends on). A native addon is
 * built for one Node ABI; when the one installed was built for another Node (a checkout
 * rebuilt offline, where no prebuilt binary can be fetched), Node's own `node:sqlite` is used
 * instead, where this Node has it: the same SQLite, the same file format, the same SQL.
 */
export function openSqlite(file: string): SqlDb {
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    const fallback = builtinSqlite();
    if (!fallback || !isAbiMismatch(err)) throw err;
    const ndb = new fallback.DatabaseSync(file);
    return {
      engine: 'node:sqlite',
      exec: (sql) => ndb.exec(sql),
      prepare: (sql) => ndb.prepare(sql),
      immediate: (fn) => {
        ndb.exec('BEGIN IMMEDIATE');
        try {
          const result = fn();
          ndb.exec('COMMIT');
          return result;
        } catch (e) {
          ndb.exec('ROLLBACK');
          throw e;
        }
      },
      close: () => ndb.close(),
    };
  }
  return {
    engine: 'better-sqlite3',
    exec: (sql) => void db.exec(sql),
    prepare: (sql) => db.prepare(sql) as unknown as SqlStatement,
    immediate: (fn) => db.transaction(fn).immediate(),
    close: () => db.close(),
  };
}

function builtinSqlite(): NodeSqlite | null {
  try {
    return createRequire(__filename)('node:sqlite') as NodeSqlite;
  } catch {
    return null;
  }
}

/** The addon could not be loaded into this Node (built for another ABI, or not built at all). */
function isAbiMismatch(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION|Could not locate the bindings file|invalid ELF header/.test(e.message ?? '');
}
