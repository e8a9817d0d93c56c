import type { ClientRequest, IncomingMessage } from 'node:http';
/* One attempt of one request at one target, and what the transport reports about it. */
import { Stream } from 'node:stream';
import type { ErrorCode } from '../errors/catalog';

/** Why an attempt failed, classified (docs/errors.md); the transport's whole verdict. */
export class AttemptFailure {
  constructor(
    readonly code: ErrorCode,
    /** Whether bytes of the request may have reached the target. */
    readonly forwarded: boolean,
    /** The target's response head had arrived (the failure cut its body). */
    readonly afterHead: boolean,
    /** The failure was the target's silence beyond timeoutMs. */
    readonly timedOut: boolean,
    readonly cause: Error,
  ) {}
}

/**
 * Who hears of one attempt. The transport calls these and nothing else; it never sees the
 * caller's response. After `onFailure` or `onEnd` nothing more is called.
 */
export interface AttemptSink {
  /** The response head arrived (with a valid status); the body follows. */
  onHead(attempt: Attempt, res: IncomingMessage): void;
  /** A body chunk; returning false pauses the body until `attempt.resume()`. */
  onData(attempt: Attempt, chunk: Buffer): boolean;
  /** The body is complete. */
  onEnd(attempt: Attempt): void;
  onFailure(attempt: Attempt, failure: AttemptFailure): void;
}

/** One try of one request at one target. A class so every attempt has the same shape. */
export class Attempt {
  connected = false;
  connectTimedOut = false;
  responseTimedOut = false;
  /** Resent once on a fresh connection after a stale keep-alive socket broke. */
  resent = false;
  done = false;
  proxyReq: ClientRequest | undefined = undefined;
  proxyRes: IncomingMessage | undefined = undefined;
  /** timeoutMs: first until the response headers, then for every silence in the body. */
  timer: NodeJS.Timeout | undefined = undefined;
  connectTimer: NodeJS.Timeout | undefined = undefined;
  /** When `timer` and `connectTimer` are due (performance.now()), to tell a stall of ours from the target's. */
  timerDueAt = 0;
  connectDueAt = 0;
  /** `timer` is the one extra wait after a stall (src/core/stall.ts), not timeoutMs long: refresh() must not reuse it. */
  timerIsGrace = false;
  /** Each timer waits out a stall of ours once per attempt. */
  timerGraceGiven = false;
  connectGraceGiven = false;

  constructor(
    readonly req: IncomingMessage,
    readonly body: Buffer | undefined,
    readonly sink: AttemptSink,
  ) {}

  /** Resumes a body the sink paused. */
  resume(): void {
    this.proxyRes?.resume();
  }
}

/** A body read in full already (to enforce maxBodyBytes), handed to http-proxy as the stream it pipes into the target. */
export class BodySource extends Stream {
  constructor(private readonly body: Buffer | undefined) {
    super();
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T): T {
    if (this.body === undefined) dest.end();
    else dest.end(this.body);
    return dest;
  }
}
export const NO_BODY = new BodySource(undefined);

/**
 * The target in the shape http-proxy works with (that of the legacy `url.parse`), built once:
 * given a string, http-proxy would parse it again on every request.
 */
export function targetOf(url: string): { protocol: string; host: string; hostname: string; port: string; path: string; pathname: string } {
  const u = new URL(url);
  return {
    protocol: u.protocol,
    host: u.host,
    // http.request wants an IPv6 address without its brackets.
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    port: u.port,
    path: u.pathname + u.search,
    pathname: u.pathname,
  };
}

/** An answer Node parsed but HTTP does not allow; classified like the parser's own errors. */
export function invalidResponse(message: string): Error {
  return Object.assign(new Error(message), { code: 'HPE_INVALID_RESPONSE' });
}
