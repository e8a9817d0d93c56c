import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ticket } from '../upstreams/breaker';
import type { Target } from '../upstreams/target';
import type { Upstream } from '../upstreams/upstream';
import type { Attempt, AttemptFailure, AttemptSink } from './attempt';
import type { RetryReason } from './retry-policy';
import type { StickyCookies } from './sticky';
import type { Transport } from './transport';

/** What the relay records on a request for its log line and metrics. */
export interface RelayContext {
  requestId: string;
  breaker: string | undefined;
  /** Names of the targets tried, in order. */
  targets: string[] | undefined;
  attempts: number;
}

/** What an exchange hands its attempts' reports to (the relay). */
export interface ExchangeOwner {
  /** Sends the request to another target after `reason`, when the rules allow; whether it did. */
  retryAfter(x: Exchange, reason: RetryReason, forwarded: boolean): boolean;
  /** Writes the relayed head before the first body byte; false when Node refused it. */
  writeHead(x: Exchange): boolean;
  failed(x: Exchange, f: AttemptFailure): void;
  /** The 'drain' listener of callers' responses, shared by all exchanges. */
  readonly onCallerDrain: (this: ServerResponse) => void;
}

/** Per upstream: a transport per target, and the sticky cookies when configured. */
export interface Lane {
  readonly upstream: Upstream;
  readonly transports: readonly Transport[];
  readonly sticky: StickyCookies | null;
}

/**
 * One request's trip through the relay: every attempt, its outcome, what the caller got.
 * A class so every exchange has the same shape; it is the sink of its attempts.
 */
export class Exchange implements AttemptSink {
  attempt: Attempt | undefined = undefined;
  target: Target | undefined = undefined;
  ticket: Ticket = 0;
  /** The current attempt's outcome was fed to its breaker. */
  settled = true;
  attemptStartedAt = 0;
  /** A bit per target index tried. */
  tried = 0;
  /** Any attempt may have reached a target. */
  forwarded = false;
  /** Counted in the upstream's retries in flight. */
  retrying = false;
  failedStatus = false;
  proxyRes: IncomingMessage | undefined = undefined;
  done = false;
  /** Sticky session: the response pins it (anew) to the target that answers, and says why it moved. */
  pinAnew = false;
  moved: 'down' | 'restarted' | undefined = undefined;
  /** A sticky session pinned to its target: no retry elsewhere under `onLost: fail`. */
  pinned = false;

  constructor(
    readonly owner: ExchangeOwner,
    readonly lane: Lane,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly ctx: RelayContext,
    readonly body: Buffer | undefined,
  ) {}

  onHead(a: Attempt, proxyRes: IncomingMessage): void {
    if (a !== this.attempt || this.done) return;
    const status = proxyRes.statusCode as number;
    this.failedStatus = this.lane.upstream.config.failureStatuses.includes(status);
    if (this.failedStatus && this.owner.retryAfter(this, 'status', true)) return;
    this.proxyRes = proxyRes;
  }

  onData(a: Attempt, chunk: Buffer): boolean {
    if (a !== this.attempt || this.done || !this.owner.writeHead(this)) return true;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.owner.onCallerDrain);
    return false;
  }

  onEnd(a: Attempt): void {
    if (a !== this.attempt || this.done) return;
    if (this.owner.writeHead(this)) this.res.end();
  }

  onFailure(a: Attempt, f: AttemptFailure): void {
    if (a !== this.attempt || this.done) return;
    this.owner.failed(this, f);
  }
}
