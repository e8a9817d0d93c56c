import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { createCaseApp } from './case-app';
import { businessRoutes, seed, type DemoKind } from './demo-data';
import { DemoHttpError, listen, match, MAX_BODY_BYTES, readBody, sendJson, sendReply, splitPath, type Reply } from './demo-http';
import { DEFAULT_DELAY_MS, parseModeChange, type DemoMode } from './demo-mode';

export { DEMO_MODES, DEFAULT_DELAY_MS, MAX_DELAY_MS, parseModeChange, type DemoMode } from './demo-mode';
export { MAX_BODY_BYTES } from './demo-http';
export type { DemoKind } from './demo-data';

/*
 * A simulated upstream for the bundled demo (SPEC §2): a business layer or a third-party
 * system (credit bureau, document archive) whose failures can be switched on and off over
 * HTTP. Plain node:http on purpose: it is small, and it must be able to misbehave (hang,
 * answer slowly) in ways a framework would try to prevent.
 *
 * Control endpoints (never affected by the mode):
 *   GET  /_demo/mode                      → {mode, delayMs}
 *   PUT  /_demo/mode   {"mode":"fail"}    → switch mode (JSON body; query parameters work too)
 *   POST /_demo/mode?mode=slow&delayMs=3000 → the same, bodyless, for short curl one-liners
 *   POST /_demo/restart                   → new instanceId, in-memory data back to its seed
 * Health: GET /health → 200 {status: up, …}; 503 {status: down, …} in modes fail/down;
 * never answers in mode hang (so health probes time out).
 *
 * Business paths are served with or without a leading /api, so the same server answers both
 * direct calls (curl :9001/loans) and requests that the demo gateway forwards unchanged
 * (stripPrefix: false, /api/loans).
 */

export interface DemoUpstreamOptions {
  name: string;
  host: string;
  /** 0 picks a free port; `port` and `url` of the result report the real one. */
  port: number;
  kind: DemoKind;
  /** Business only: the identity provider's key; with it the business layer serves the loan-case API and the demo app (case-app.ts). */
  signingKey?: Buffer;
  /** Where the built demo app is (default dist/web/app). */
  appDir?: string;
}

export interface DemoUpstream {
  name: string;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startDemoUpstream(options: DemoUpstreamOptions): Promise<DemoUpstream> {
  const { name, host, kind } = options;
  const state = {
    mode: 'ok' as DemoMode,
    delayMs: DEFAULT_DELAY_MS,
    instanceId: randomUUID(),
    startedAt: new Date().toISOString(),
  };
  let data = seed(kind);
  const routes = businessRoutes(kind, () => data);
  const app = kind === 'business' && options.signingKey ? createCaseApp({ signingKey: options.signingKey, appDir: options.appDir }) : undefined;
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    res.setHeader('X-Demo-Upstream', name);
    handle(req, res).catch((err: unknown) => {
      // A bug in the demo itself: answer something rather than leave the caller hanging.
      sendJson(res, 500, { error: 'internal_error', message: err instanceof Error ? err.message : String(err), upstream: name });
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://demo.invalid');
    } catch {
      fail(res, new DemoHttpError(400, 'bad_request', 'the request target is not a valid path'));
      return;
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      res.setHeader('Connection', 'close');
      fail(res, new DemoHttpError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`));
      return;
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const path = url.pathname;

    // Control endpoints work in every mode: they are how the demo is steered.
    if (path === '/_demo/mode' || path === '/_demo/restart') {
      try {
        const reply = control(path, method, url.searchParams, body);
        sendJson(res, reply.status, reply.body, reply.headers);
      } catch (err) {
        fail(res, err);
      }
      return;
    }

    if (path === '/health') {
      if (state.mode === 'hang') return; // never answered: the gateway's probe times out
      const down = state.mode === 'fail' || state.mode === 'down';
      sendJson(res, down ? 503 : 200, { status: down ? 'down' : 'up', instanceId: state.instanceId, name, kind, mode: state.mode, startedAt: state.startedAt });
      return;
    }

    switch (state.mode) {
      case 'hang':
        return; // never answered; the socket is destroyed on close()
      case 'fail':
        fail(res, new DemoHttpError(503, 'simulated_failure', `demo upstream "${name}" is in mode fail: every request fails`, { mode: 'fail' }));
        return;
      case 'down':
        fail(res, new DemoHttpError(503, 'service_unavailable', `demo upstream "${name}" is down`, { mode: 'down' }));
        return;
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(res, method, path, body, req.headers);
        }, state.delayMs);
        timer.unref();
        timers.add(timer);
        // A caller that gives up (the gateway's timeout) frees the timer too.
        res.once('close', () => {
          clearTimeout(timer);
          timers.delete(timer);
        });
        return;
      }
      case 'ok':
        answer(res, method, path, body, req.headers);
        return;
    }
  }

  function answer(res: http.ServerResponse, method: string, path: string, body: Buffer, headers: http.IncomingHttpHeaders): void {
    try {
      const own = app?.handle({ method, path, headers, body });
      if (own) return sendReply(res, own);
      const segments = splitPath(path);
      if (segments[0] === 'api') segments.shift();
      let allowed: string[] | undefined;
      for (const route of routes) {
        const params = match(route.segments, segments);
        if (!params) continue;
        const handler = route.methods[method];
        if (!handler) {
          allowed = Object.keys(route.methods);
          continue;
        }
        const reply = handler({ method, params, body });
        sendJson(res, reply.status, reply.body, reply.headers);
        return;
      }
      if (allowed) {
        const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', ');
        throw new DemoHttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allow}`, {}, { Allow: allow });
      }
      throw new DemoHttpError(404, 'not_found', `no such resource on demo upstream "${name}": ${path}`);
    } catch (err) {
      fail(res, err);
    }
  }

  function control(path: string, method: string, query: URLSearchParams, body: Buffer): Reply {
    if (path === '/_demo/restart') {
      if (method !== 'POST') throw new DemoHttpError(405, 'method_not_allowed', 'use POST /_demo/restart', {}, { Allow: 'POST' });
      const previousInstanceId = state.instanceId;
      state.instanceId = randomUUID();
      state.startedAt = new Date().toISOString();
      data = seed(kind);
      app?.reset();
      return { status: 200, body: { restarted: true, instanceId: state.instanceId, previousInstanceId, startedAt: state.startedAt } };
    }
    if (method === 'GET') return { status: 200, body: { mode: state.mode, delayMs: state.delayMs } };
    if (method !== 'PUT' && method !== 'POST') {
      throw new DemoHttpError(405, 'method_not_allowed', 'use GET, PUT or POST on /_demo/mode', {}, { Allow: 'GET, HEAD, PUT, POST' });
    }
    const change = parseModeChange(query, body);
    if (change.mode !== undefined) state.mode = change.mode;
    if (change.delayMs !== undefined) state.delayMs = change.delayMs;
    return { status: 200, body: { mode: state.mode, delayMs: state.delayMs } };
  }

  function fail(res: http.ServerResponse, err: unknown): void {
    if (err instanceof DemoHttpError) {
      sendJson(res, err.status, { error: err.error, message: err.message, upstream: name, ...err.extra }, err.headers);
    } else {
      sendJson(res, 500, { error: 'internal_error', message: err instanceof Error ? err.message : String(err), upstream: name });
    }
  }

  const listening = await listen(server, host, options.port, `demo upstream "${name}"`);
  return {
    name,
    port: listening.port,
    url: listening.url,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // listen()'s close destroys hanging and keep-alive connections, which would hold it open forever.
      return listening.close();
    },
  };
}
