/**
 * Controllable upstream servers for tests: the one place that knows how to make an upstream
 * answer, stall, reset, break HTTP framing or fail TLS, so every test provokes a failure the
 * same way. Always listens on 127.0.0.1 port 0; `close()` destroys open sockets so jest exits.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { TLSSocket } from 'node:tls';

export type UpstreamMode =
  /** Default: 200, `Content-Type: application/json`, body `{"ok":true,"path":<url>}`. `headers` override. */
  | { kind: 'ok'; status?: number; body?: string; headers?: Record<string, string> }
  /** That status with a small JSON body `{"status":N,"error":"injected"}`, after `delayMs` when given. */
  | { kind: 'status'; status: number; delayMs?: number }
  /** Wait `delayMs` after the request was read, then answer as 'ok'. */
  | { kind: 'slow'; delayMs: number }
  /** Read the whole request, never answer (until `close()`). */
  | { kind: 'hang' }
  /** As soon as the request head arrives, abort the connection with a TCP RST: the client sees ECONNRESET. */
  | { kind: 'reset' }
  /** 200 with `Content-Length: 1000`, 10 bytes of body, then the socket is destroyed. */
  | { kind: 'die-mid-body' }
  /** `HTTP/1.1 abc garbage` on the raw socket, then end: the client's parser fails (HPE_INVALID_STATUS). */
  | { kind: 'bad-http' }
  /** These bytes as the whole answer, written on the raw socket, which then stays open (until `close()`) or, with `end`, is closed (FIN). */
  | { kind: 'raw'; response: string; end?: boolean }
  /** 200 chunked; one small chunk (`chunk N\n`) after each `chunkDelayMs`, then the end. */
  | { kind: 'trickle'; chunkDelayMs: number; chunks: number }
  /** 200 chunked, one chunk, then never finish. */
  | { kind: 'headers-then-hang' };

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** '' until the body has been read completely (it never is in 'reset' mode). */
  body: string;
  /** Date.now() when the request head arrived. */
  at: number;
}

export interface ControlledUpstream {
  /** `http://127.0.0.1:PORT`, or `https://127.0.0.1:PORT` with `tls`. */
  readonly url: string;
  readonly port: number;
  /** Every non-health request whose head arrived, in every mode; cleared by `reset()`. */
  readonly received: ReceivedRequest[];
  /** TCP connections accepted so far. */
  connections: number;
  /** TCP connections open right now. */
  readonly openSockets: number;
  /** Applies to requests whose head arrives from now on; a request in progress keeps its mode. */
  setMode(mode: UpstreamMode): void;
  /** `/health` (GET or HEAD) answers 200 `{"status":"up","instanceId"}` or 503 `{"status":"down",…}`, whatever the mode. */
  setHealth(healthy: boolean): void;
  setInstanceId(id: string): void;
  /** `/health` requests seen; they are not recorded in `received`. */
  healthChecks: number;
  /** Clears `received`; `connections` and `healthChecks` stay. */
  reset(): void;
  /** Destroys every open socket, then closes the server. Safe to call twice. */
  close(): Promise<void>;
}

export interface UpstreamOptions {
  mode?: UpstreamMode;
  /** 'valid-for-localhost': signed by `fixtureCa()`, valid for localhost and 127.0.0.1. 'self-signed': CN=wrong.example. */
  tls?: 'self-signed' | 'valid-for-localhost';
}

const TLS_DIR = path.join(__dirname, '..', 'fixtures', 'tls');
const fixture = (name: string): string => readFileSync(path.join(TLS_DIR, name), 'utf8');

/** The test CA that signed the 'valid-for-localhost' certificate; pass it as `ca` to trust that upstream. */
export function fixtureCa(): string {
  return fixture('ca.pem');
}

const TLS_FILES = {
  'valid-for-localhost': { key: 'server-key.pem', cert: 'server.pem' },
  'self-signed': { key: 'self-signed-key.pem', cert: 'self-signed.pem' },
} as const;

export async function startUpstream(options: UpstreamOptions = {}): Promise<ControlledUpstream> {
  const upstream = new Upstream(options);
  await upstream.listen();
  return upstream;
}

/**
 * A port on 127.0.0.1 that nothing listens on, so connecting to it gets ECONNREFUSED.
 * It was bound a moment ago and is unlikely to be reused within a test, which a made-up
 * number could not promise.
 */
export async function refusingPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class Upstream implements ControlledUpstream {
  readonly received: ReceivedRequest[] = [];
  connections = 0;
  healthChecks = 0;
  private mode: UpstreamMode;
  private healthy = true;
  private instanceId: string = randomUUID();
  private readonly sockets = new Set<net.Socket>();
  private readonly server: http.Server;
  private readonly scheme: 'http' | 'https';
  private closing?: Promise<void>;

  constructor(options: UpstreamOptions) {
    this.mode = options.mode ?? { kind: 'ok' };
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handle(req, res);
    if (options.tls) {
      const files = TLS_FILES[options.tls];
      this.server = https.createServer({ key: fixture(files.key), cert: fixture(files.cert) }, handler);
      this.scheme = 'https';
    } else {
      this.server = http.createServer(handler);
      this.scheme = 'http';
    }
    // 'connection' gives the raw TCP socket for http and https alike: the one to count and destroy.
    this.server.on('connection', (socket: net.Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    // 127.0.0.1, not localhost: localhost may resolve to ::1 first, where nothing listens.
    // The 'valid-for-localhost' certificate names IP:127.0.0.1 too, so TLS verification still passes.
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }

  get openSockets(): number {
    return this.sockets.size;
  }

  setMode(mode: UpstreamMode): void {
    this.mode = mode;
  }

  setHealth(healthy: boolean): void {
    this.healthy = healthy;
  }

  setInstanceId(id: string): void {
    this.instanceId = id;
  }

  reset(): void {
    this.received.length = 0; // in place, so a reference a test holds stays live
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // The server may report closed before each socket's own 'close' event; wait for both,
      // so openSockets is 0 once close() resolves.
      const socketsClosed = [...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
      for (const socket of this.sockets) socket.destroy();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all(socketsClosed);
    })();
    return this.closing;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    if (isHealthCheck(req.method, url)) return this.answerHealth(req, res);

    const mode = this.mode; // fixed at arrival, so setMode() never changes a request half-way
    const record: ReceivedRequest = { method: req.method ?? '', url, headers: req.headers, body: '', at: Date.now() };
    this.received.push(record);
    if (mode.kind === 'reset') {
      this.rawSocketOf(req.socket).resetAndDestroy();
      return;
    }
    // Answer only once the whole body is read: closing a socket with unread input makes the
    // kernel send an RST, which would turn e.g. 'die-mid-body' into a reset at random.
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      record.body = Buffer.concat(chunks).toString('utf8');
      respond(mode, req, res);
    });
  }

  private answerHealth(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.healthChecks++;
    req.resume();
    const status = this.healthy ? 'up' : 'down';
    sendJson(res, this.healthy ? 200 : 503, JSON.stringify({ status, instanceId: this.instanceId }));
  }

  /** Only a socket that owns the TCP handle can send an RST; a TLS socket wraps the raw one. */
  private rawSocketOf(socket: net.Socket): net.Socket {
    if (!(socket instanceof TLSSocket)) return socket;
    for (const raw of this.sockets) if (raw.remotePort === socket.remotePort) return raw;
    return socket;
  }
}

function isHealthCheck(method: string | undefined, url: string): boolean {
  return (method === 'GET' || method === 'HEAD') && new URL(url, 'http://upstream').pathname === '/health';
}

function respond(mode: Exclude<UpstreamMode, { kind: 'reset' }>, req: http.IncomingMessage, res: http.ServerResponse): void {
  switch (mode.kind) {
    case 'ok':
      return sendJson(res, mode.status ?? 200, mode.body ?? defaultBody(req), mode.headers);
    case 'status': {
      const send = (): void => sendJson(res, mode.status, JSON.stringify({ status: mode.status, error: 'injected' }));
      return mode.delayMs ? after(res, mode.delayMs, send) : send();
    }
    case 'slow':
      return after(res, mode.delayMs, () => sendJson(res, 200, defaultBody(req)));
    case 'hang':
      return; // the socket stays open until the client gives up or close() destroys it
    case 'die-mid-body':
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '1000' });
      res.write('0123456789', () => res.socket?.destroy());
      return;
    case 'bad-http':
      // Bypass the HTTP writer so nothing valid precedes the garbage.
      res.socket?.end('HTTP/1.1 abc garbage\r\n\r\n');
      return;
    case 'raw':
      if (mode.end) res.socket?.end(mode.response, 'latin1');
      else res.socket?.write(mode.response, 'latin1');
      return;
    case 'trickle':
      return trickle(res, mode.chunks, mode.chunkDelayMs);
    case 'headers-then-hang':
      res.writeHead(200, { 'Content-Type': 'text/plain' }); // no Content-Length: chunked, so the body is open-ended
      res.write('first chunk\n');
      return;
  }
}

function defaultBody(req: http.IncomingMessage): string {
  return JSON.stringify({ ok: true, path: req.url });
}

function sendJson(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // setHeader matches names case-insensitively, so a caller's 'content-type' replaces the default.
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.writeHead(status);
  res.end(body);
}

/** Runs `fn` after `ms` unless the connection closes first; unref'd so it never holds jest open. */
function after(res: http.ServerResponse, ms: number, fn: () => void): void {
  const timer = setTimeout(fn, ms).unref();
  res.once('close', () => clearTimeout(timer));
}

function trickle(res: http.ServerResponse, chunks: number, delayMs: number): void {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.flushHeaders();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  const next = (): void => {
    res.write(`chunk ${sent++}\n`);
    if (sent < chunks) timer = setTimeout(next, delayMs).unref();
    else res.end();
  };
  if (chunks > 0) timer = setTimeout(next, delayMs).unref();
  else res.end();
  res.once('close', () => clearTimeout(timer));
}
