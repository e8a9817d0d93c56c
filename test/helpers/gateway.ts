/**
 * Builds a real gateway for integration tests in a few lines, and talks to it the way a
 * caller would: `request()` over node:http (one connection per request, never throws on a
 * reset), `rawRequest()` writing exact bytes for malformed-request tests.
 */
import http from 'node:http';
import net from 'node:net';
import { parseConfig } from '../../src/config/load';
import { Gateway, type GatewayDeps } from '../../src/gateway';
import { createLogger } from '../../src/server/logging';
import { validateComponent } from './openapi';

export interface StartedGateway {
  gw: Gateway;
  /** `http://127.0.0.1:PORT` of the traffic listener (`https://` with `listen.tls`). */
  url: string;
  /** Closes at once (no drain). Safe to call twice, and after `gw.shutdown()`. */
  close(): Promise<void>;
}

type RawConfig = Record<string, unknown>;

/**
 * Validates `raw` with the real schema and starts the traffic listener on 127.0.0.1 port 0.
 * Both listeners default to port 0 so tests never collide on a fixed port, whatever
 * `start()` starts.
 */
export async function startGateway(raw: RawConfig, deps: GatewayDeps = {}): Promise<StartedGateway> {
  const config = parseConfig({
    ...raw,
    listen: { host: '127.0.0.1', port: 0, ...(raw.listen as RawConfig | undefined) },
    admin: { host: '127.0.0.1', port: 0, ...(raw.admin as RawConfig | undefined) },
  });
  const gw = new Gateway(config, { logger: createLogger('silent'), ...deps });
  await gw.start({ port: 0, host: '127.0.0.1' });
  return { gw, url: gw.url, close: () => gw.close() };
}

/** A one-upstream, one-route configuration: `/api` → `url`; `upstream` and `route` are merged in. */
export function oneRoute(url: string, upstream: RawConfig = {}, route: RawConfig = {}, rest: RawConfig = {}): RawConfig {
  return {
    upstreams: { backend: { url, ...upstream } },
    routes: [{ path: '/api', upstream: 'backend', ...route }],
    ...rest,
  };
}

export interface Reply {
  /** 0 when no response arrived. */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The parsed body when it is JSON, else undefined. */
  json: Record<string, unknown> | undefined;
  /** Error code when the exchange failed (ECONNRESET, 'aborted', 'ETIMEDOUT' for our own deadline, …). */
  error: string | undefined;
  /** Whether the response body ended cleanly. */
  complete: boolean;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** Give up after this long (default 5000 ms); the reply then has error 'ETIMEDOUT'. */
  timeoutMs?: number;
  /** Aborts the request; the promise resolves with error 'ABORTED_BY_TEST'. */
  signal?: AbortSignal;
}

/**
 * One request on its own connection (agent: false, so nothing is pooled between tests).
 * Never rejects: a reset or a truncated body comes back as `error` with what had arrived.
 */
export function request(base: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve) => {
    const reply: Reply = { status: 0, headers: {}, body: '', json: undefined, error: undefined, complete: false };
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reply.body = Buffer.concat(chunks).toString('utf8');
      try {
        reply.json = reply.body ? (JSON.parse(reply.body) as Record<string, unknown>) : undefined;
      } catch {
        reply.json = undefined;
      }
      reply.error = error;
      resolve(reply);
    };
    const req = http.request(new URL(path, base), { method: options.method ?? 'GET', headers: options.headers, agent: false });
    const timer = setTimeout(() => {
      settle('ETIMEDOUT');
      req.destroy();
    }, options.timeoutMs ?? 5000);
    options.signal?.addEventListener('abort', () => {
      settle('ABORTED_BY_TEST');
      req.destroy();
    });
    req.on('response', (res) => {
      reply.status = res.statusCode ?? 0;
      reply.headers = res.headers;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        reply.complete = res.complete;
        settle(res.complete ? undefined : 'aborted');
      });
      res.on('aborted', () => settle('aborted'));
      res.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
      res.on('close', () => settle(res.complete ? undefined : 'aborted'));
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    req.end(options.body);
  });
}

export interface RawOptions {
  /** Resolve with what arrived after this long, if the server has not closed (default 3000 ms). */
  timeoutMs?: number;
  /** Further writes, each `[delayMs, text]` after the previous one (for slow senders). */
  then?: [number, string][];
}

/**
 * Writes `text` byte for byte on a fresh TCP connection and collects everything the server
 * sends until it closes the connection (or the timeout passes).
 */
export function rawRequest(base: string, text: string, options: RawOptions = {}): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      timers.forEach(clearTimeout);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', finish);
    socket.on('connect', () => {
      socket.write(text);
      let at = 0;
      for (const [delay, more] of options.then ?? []) {
        at += delay;
        timers.push(setTimeout(() => socket.writable && socket.write(more), at));
      }
    });
    timers.push(setTimeout(finish, options.timeoutMs ?? 3000));
  });
}

/** Splits a raw HTTP/1.1 response into status, lower-cased headers and body. */
export function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: end === -1 ? '' : text.slice(end + 4) };
}

/** Resolves once `predicate` holds (polling every 10 ms), or rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ExpectedProblem {
  status: number;
  code: string;
  forwarded: boolean;
  retryable: boolean;
  upstream?: string;
}

/**
 * Asserts an RFC 9457 problem of the catalog (SPEC §4): content type, members, the request id
 * echoed in the header, and `Retry-After` equal to `retryAfterSeconds` whenever either is present.
 */
export function expectProblem(reply: { status: number; headers: Record<string, string | string[] | undefined>; body: string }, want: ExpectedProblem): Record<string, unknown> {
  expect(reply.status).toBe(want.status);
  expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(reply.body) as Record<string, unknown>;
  expect(body).toMatchObject({
    status: want.status,
    code: want.code,
    forwarded: want.forwarded,
    retryable: want.retryable,
    type: `/problems/${want.code.toLowerCase().replace(/_/g, '-')}`,
  });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(typeof body.instance).toBe('string');
  expect(body.requestId).toBe(reply.headers['x-request-id']);
  if (want.upstream !== undefined) expect(body.upstream).toBe(want.upstream);
  if (body.retryAfterSeconds !== undefined || reply.headers['retry-after'] !== undefined) {
    expect(reply.headers['retry-after']).toBe(String(body.retryAfterSeconds));
  }
  // detail never leaks an address or a stack (SPEC §4).
  expect(String(body.detail)).not.toMatch(/127\.0\.0\.1|localhost|\bat .+:\d+:\d+/);
  // And the body is what openapi.yaml promises.
  expect(validateComponent(want.code === 'DEPENDENCY_UNAVAILABLE' ? 'DependencyUnavailableProblem' : 'Problem', body)).toEqual([]);
  return body;
}
