import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AppReply } from './case-app';

/*
 * The demo servers' HTTP plumbing (plain node:http): JSON answers and errors, bodies read
 * within a limit, a tiny segment router, and listening with prompt close.
 */

/** A JSON body of at most `limit` bytes, or undefined when it is missing, too large or not an object. */
export async function readJsonObject(req: http.IncomingMessage, limit = 16 * 1024): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === undefined ? '' : `${JSON.stringify(body)}\n`;
  res.writeHead(status, { ...headers, ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}), 'Content-Length': String(Buffer.byteLength(text)), 'Cache-Control': 'no-store' });
  res.end(text);
}

export interface ListeningServer {
  port: number;
  url: string;
  /** Destroys open sockets (keep-alive ones too), then closes. Safe to call twice. */
  close(): Promise<void>;
}

/** Listens on host:port (0: a free port) and keeps track of sockets so close() is prompt. */
export async function listen(server: http.Server, host: string, port: number, what: string): Promise<ListeningServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`${what} cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port: actual,
    url: `http://${urlHost(host)}:${actual}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** Largest request body the demo servers read. */
export const MAX_BODY_BYTES = 1024 * 1024;
const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES;

/** A failure answered as JSON: `{error, message, upstream, ...extra}`. */
export class DemoHttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface Request {
  method: string;
  params: Record<string, string>;
  /** The raw body, already read (at most MAX_BODY_BYTES). */
  body: Buffer;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: Request) => Reply;

export interface Route {
  /** Path segments; `:name` captures one segment. */
  segments: string[];
  methods: Partial<Record<string, Handler>>;
}


export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new DemoHttpError(400, 'invalid_json', `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function jsonObject(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new DemoHttpError(400, 'invalid_json', 'expected a JSON object as the request body');
  const parsed = parseJson(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DemoHttpError(400, 'invalid_json', 'expected a JSON object as the request body');
  }
  return parsed as Record<string, unknown>;
}

/**
 * The whole body, or 'too-large' once it passes MAX_BODY_BYTES. An oversized body is still
 * drained (not kept) so that the 413 reaches a client that is busy sending; one that goes on
 * past DRAIN_LIMIT_BYTES is cut off.
 */
export function readBody(req: http.IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
      if (size > DRAIN_LIMIT_BYTES) req.destroy();
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
    // The caller went away mid-body: there is no one to answer.
    req.on('close', () => {
      if (!req.complete) reject(new Error('request aborted'));
    });
  });
}

export function sendReply(res: http.ServerResponse, reply: AppReply): void {
  if (res.headersSent || res.destroyed) return;
  if (reply.status === 204) {
    res.writeHead(204, { 'Cache-Control': 'no-store', ...reply.headers });
    res.end();
    return;
  }
  if (!reply.raw) return sendJson(res, reply.status, reply.body ?? {}, reply.headers);
  const data = typeof reply.raw.data === 'string' ? Buffer.from(reply.raw.data) : reply.raw.data;
  res.writeHead(reply.status, { 'Cache-Control': 'no-store', ...reply.headers, 'Content-Type': reply.raw.contentType, 'Content-Length': String(data.length) });
  res.end(data);
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '');
}

export function match(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    const s = segments[i] as string;
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(s);
      } catch {
        throw new DemoHttpError(400, 'bad_request', 'the path holds an invalid percent-encoding');
      }
    } else if (p !== s) {
      return undefined;
    }
  }
  return params;
}

/** Wildcard listen addresses are reached through loopback; IPv6 literals need brackets. */
export function urlHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
