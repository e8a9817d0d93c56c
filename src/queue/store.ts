/**
 * What a queue store keeps and the one small interface both stores implement (README
 * "Queued delivery"). The worker and the endpoints see only this; `sqlite-store.ts` and
 * `redis-store.ts` hold the engines. Times are epoch milliseconds from the gateway's clock.
 */

/** A message's life: queued → delivering → delivered | rejected | dead (or back to queued for a retry). */
export type MessageStatus = 'queued' | 'delivering' | 'delivered' | 'rejected' | 'dead';
export const MESSAGE_STATUSES: readonly MessageStatus[] = ['queued', 'delivering', 'delivered', 'rejected', 'dead'];
/** Statuses a message never leaves by itself. */
export const FINAL_STATUSES: ReadonlySet<MessageStatus> = new Set(['delivered', 'rejected', 'dead']);

/** The caller's request as it was accepted: sent upstream as it is, attempt after attempt. */
export interface StoredRequest {
  readonly method: string;
  /** Path and query as the upstream receives them (the route's stripPrefix applied). */
  readonly path: string;
  /** End-to-end headers, name and value, in the caller's order (credentials dropped unless kept). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

/** The upstream's final answer, kept for GET /messages/{id}. */
export interface KeptResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** UTF-8 text, or base64 when `bodyEncoding` says so (a body that is not valid UTF-8). */
  readonly body: string;
  readonly bodyEncoding?: 'base64';
  /** The upstream sent more than the gateway keeps; `body` holds the first part. */
  readonly truncated?: boolean;
}

/** Why the last attempt did not end the message: a gateway problem's code and detail, or the upstream's status. */
export interface LastProblem {
  readonly code: string;
  readonly detail: string;
  readonly status?: number;
  readonly at: number;
}

export interface QueueMessage {
  readonly id: string;
  /** The route's configured path. */
  readonly route: string;
  readonly idempotencyKey: string | null;
  readonly request: StoredRequest;
  readonly status: MessageStatus;
  /** Attempts that reached the point of sending (pre-flight waits are not attempts). */
  readonly attempts: number;
  readonly createdAt: number;
  /** When the next attempt is due (queued), or null once final. */
  readonly nextAttemptAt: number | null;
  /** createdAt + the route's ttlMs: an undelivered message is dead from then on. */
  readonly expiresAt: number;
  readonly updatedAt: number;
  readonly lastProblem: LastProblem | null;
  readonly response: KeptResponse | null;
}

export interface NewMessage {
  readonly id: string;
  readonly route: string;
  readonly idempotencyKey: string | null;
  readonly request: StoredRequest;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** A message a worker holds: nobody else delivers it until `settle`, or until its lease runs out. */
export interface Claimed {
  readonly message: QueueMessage;
  /** The store's handle of this hold (opaque to the worker). */
  readonly lease: string;
}

/** What became of an attempt (or of a claim given back without one). */
export type Settlement =
  | { readonly status: 'queued'; readonly attempts: number; readonly nextAttemptAt: number; readonly lastProblem: LastProblem | null }
  | { readonly status: 'delivered' | 'rejected' | 'dead'; readonly attempts: number; readonly response: KeptResponse | null; readonly lastProblem: LastProblem | null };

/** One row of GET /admin/queue: messages of a route in a status, and the oldest one's age. */
export interface CountRow {
  readonly route: string;
  readonly status: MessageStatus;
  readonly count: number;
  /** createdAt of the oldest message of this route and status. */
  readonly oldestCreatedAt: number | null;
}

export interface ListQuery {
  readonly status?: MessageStatus;
  readonly route?: string;
  /** At most this many, oldest first. */
  readonly limit: number;
}

export interface QueueStore {
  /** Which engine, for logs and the admin view. */
  readonly kind: 'sqlite' | 'redis';
  /** Opens (and creates) the store; the routes are those with `delivery: queued`. */
  open(routes: readonly string[]): Promise<void>;
  /**
   * Commits a new message durably before resolving, unless one with the same idempotency key
   * exists on the same route: then that one is returned with `created: false`.
   */
  enqueue(message: NewMessage): Promise<{ message: QueueMessage; created: boolean }>;
  get(id: string): Promise<QueueMessage | null>;
  /**
   * Takes up to `limit` messages of a route that are due (queued with nextAttemptAt ≤ now, or
   * held by a worker whose lease ran out), oldest first, and holds them for `owner` for `leaseMs`.
   */
  claim(route: string, owner: string, limit: number, now: number, leaseMs: number): Promise<Claimed[]>;
  /** Extends a hold; false when it was lost (taken over, deleted). */
  renew(claimed: Claimed, owner: string, now: number, leaseMs: number): Promise<boolean>;
  /** Records an attempt's outcome and lets go; false when the hold was lost (nothing recorded). */
  settle(claimed: Claimed, owner: string, outcome: Settlement, now: number): Promise<boolean>;
  /** Queued messages past their expiresAt become dead; returns them. */
  expire(now: number): Promise<QueueMessage[]>;
  list(query: ListQuery): Promise<QueueMessage[]>;
  counts(): Promise<CountRow[]>;
  /** A dead or rejected message is queued again with its attempts reset; null when there is no such message. */
  retry(id: string, now: number, expiresAt: number): Promise<QueueMessage | null>;
  /** Deletes delivered and rejected messages accepted before `before`; returns how many. */
  purge(before: number): Promise<number>;
  /** Deletes a message (its idempotency key is free again); false when there was none. */
  remove(id: string): Promise<boolean>;
  close(): Promise<void>;
}
