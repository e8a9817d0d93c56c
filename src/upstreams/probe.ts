import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { startDeadline } from '../core/stall';
import type { UpstreamConfig } from '../config/types';

/** What one probe of an upstream found out. */
export interface ProbeResult {
  /** A 2xx answer (HTTP probe) or an accepted connection (connect probe) within the timeout. */
  ok: boolean;
  /** The HTTP status, when an answer arrived. */
  status?: number;
  /** The instance identity the answer carried (its JSON member `instanceIdField`), if any. */
  instanceId?: string;
  /** Why the probe failed, for logs: an errno code, `timeout`, or `status 503`. */
  error?: string;
}

/**
 * A probe of one upstream; `timeoutMs` bounds the whole exchange, body included. An aborted
 * probe resolves at once as failed (`error: 'aborted'`). Never rejects.
 */
export type Probe = (upstream: UpstreamConfig, timeoutMs: number, signal?: AbortSignal) => Promise<ProbeResult>;

/** Health answers larger than this are judged by their status alone. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * GET `healthCheck.path` with plain node:http(s) on a connection of its own (`agent: false`):
 * not the forwarder's pooled agent and not through the breaker, so a probe never occupies a
 * caller's socket or concurrency slot and never shows up in breaker statistics or metrics.
 * The upstream's TLS options apply as they do to traffic. Never rejects.
 */
export const httpProbe: Probe = (upstream, timeoutMs, signal) => {
  const path = upstream.healthCheck?.path ?? '/health';
  const field = upstream.healthCheck?.instanceIdField ?? 'instanceId';
  const url = new URL(upstream.url + path);
  const isHttps = url.protocol === 'https:';
  return bounded(timeoutMs, signal, (done) => {
    const options: https.RequestOptions = {
      method: 'GET',
      agent: false,
      headers: { accept: 'application/json', 'user-agent': 'breakwater-health-check', connection: 'close' },
      ...(isHttps ? tlsOptions(upstream) : {}),
    };
    const req = (isHttps ? https : http).request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      const ok = status >= 200 && status < 300;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      res.on('end', () => {
        const instanceId = size <= MAX_BODY_BYTES ? instanceIdOf(Buffer.concat(chunks).toString('utf8'), field) : undefined;
        done({ ok, status, ...(instanceId !== undefined ? { instanceId } : {}), ...(ok ? {} : { error: `status ${status}` }) });
      });
      res.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, status, error: err.code ?? 'ECONNRESET' }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message }));
    req.end();
    return req;
  });
};

/**
 * For an upstream without a health endpoint: can a connection (and, for https, a TLS
 * handshake) be made? Sends no request, so the upstream's application sees nothing.
 */
export const connectProbe: Probe = (upstream, timeoutMs, signal) => {
  const url = new URL(upstream.url);
  const isHttps = url.protocol === 'https:';
  const port = Number(url.port) || (isHttps ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return bounded(timeoutMs, signal, (done) => {
    const socket = isHttps
      ? tls.connect({ host, port, ...tlsOptions(upstream), ...(net.isIP(host) ? {} : { servername: upstream.tls?.servername ?? host }) }, () => done({ ok: true }))
      : net.connect({ host, port }, () => done({ ok: true }));
    socket.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, error: err.code ?? err.message }));
    return socket;
  });
};

/**
 * Runs one probe to a single verdict: its own result, its timeout or the abort signal,
 * whichever comes first; then the connection it opened is destroyed. Never rejects.
 */
function bounded(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  start: (done: (result: ProbeResult) => void) => { destroy(): void },
): Promise<ProbeResult> {
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    // Filled in once started; `done` may run before that (an already-aborted signal).
    const opened: { connection?: { destroy(): void } } = {};
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      deadline.clear();
      signal?.removeEventListener('abort', onAbort);
      opened.connection?.destroy();
      resolve(result);
    };
    const onAbort = (): void => done({ ok: false, error: 'aborted' });
    // A stall of the gateway's own process is not the upstream's timeout (src/core/stall.ts).
    const deadline = startDeadline(() => done({ ok: false, error: 'timeout' }), timeoutMs, { unref: true });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    opened.connection = start(done);
    if (settled) opened.connection.destroy();
  });
}

function tlsOptions(upstream: UpstreamConfig): tls.ConnectionOptions {
  return {
    rejectUnauthorized: upstream.tls?.rejectUnauthorized ?? true,
    ...(upstream.tls?.ca ? { ca: upstream.tls.ca } : {}),
    ...(upstream.tls?.servername ? { servername: upstream.tls.servername } : {}),
  };
}

/** The identity member of a JSON health answer: a non-empty string or a number, else undefined. */
export function instanceIdOf(body: string, field: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const value = (parsed as Record<string, unknown>)[field];
  if (typeof value === 'string' && value !== '') return value.slice(0, 256);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
