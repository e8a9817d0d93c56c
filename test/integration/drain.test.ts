/**
 * SPEC §8 drain (what SIGTERM triggers, via gw.shutdown()): /readyz turns 503, new requests get
 * GATEWAY_SHUTTING_DOWN with `Connection: close`, in-flight requests finish, idle keep-alive
 * sockets are closed, and the drain deadline bounds it all.
 */
import http from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logging';
import { expectProblem, parseRaw, rawRequest, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

describe('drain', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;

  beforeEach(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await g.close();
    await upstream.close();
  });

  const start = async (drainTimeoutMs: number): Promise<void> => {
    g = await startGateway({
      upstreams: { backend: { url: upstream.url, timeoutMs: 5000 } },
      routes: [{ path: '/api', upstream: 'backend' }],
      shutdown: { drainTimeoutMs },
    });
  };

  it('lets the in-flight request finish, refuses new ones, reports not ready, then resolves', async () => {
    await start(5000);
    expect((await request(g.url, '/readyz')).status).toBe(200);
    // Long enough for the checks below to run while it is still in flight, even on a loaded machine.
    upstream.setMode({ kind: 'slow', delayMs: 1500 });
    // In flight on a keep-alive connection: after its answer the gateway must close it.
    const inFlight = rawRequest(g.url, 'GET /api/report HTTP/1.1\r\nHost: gw\r\n\r\n', { timeoutMs: 6000 });
    await waitFor(() => upstream.received.length === 1, 2000, 'request upstream');

    let shutdownDone = false;
    const shutdown = g.gw.shutdown().then(() => (shutdownDone = true));

    // Sent as keep-alive: the gateway itself must say (and do) `Connection: close`.
    const askedAt = Date.now();
    const held = stalls.mark();
    const refused = parseRaw(await rawRequest(g.url, 'POST /api/new HTTP/1.1\r\nHost: gw\r\nContent-Length: 2\r\n\r\n{}', { timeoutMs: 5000 }));
    expect(Date.now() - askedAt).toBeLessThan(2500 + stalls.lostSince(held)); // the connection was closed, not left to our timeout
    const problem = expectProblem(refused, { status: 503, code: 'GATEWAY_SHUTTING_DOWN', forwarded: false, retryable: true });
    expect(refused.headers.connection).toBe('close');
    expect(Number(problem.retryAfterSeconds)).toBeGreaterThanOrEqual(1);
    // The path matches a route: its upstream is "the upstream concerned" (SPEC §4), though nothing reached it.
    expect(problem.upstream).toBe('backend');

    const ready = await request(g.url, '/readyz');
    expect(ready.status).toBe(503);
    expect(shutdownDone).toBe(false);

    const answer = parseRaw(await inFlight);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ ok: true, path: '/api/report' });
    expect(answer.headers.connection).toBe('close');

    await shutdown;
    expect(upstream.received.map((q) => q.url)).toEqual(['/api/report']);
    // The listener is closed once shutdown resolves.
    expect((await request(g.url, '/readyz')).error).toBe('ECONNREFUSED');
  });

  it('closes idle keep-alive connections when the drain starts', async () => {
    await start(5000);
    const startedAt = Date.now();
    const held = stalls.mark();
    // One request on a keep-alive connection, then the connection sits idle.
    const idle = rawRequest(g.url, 'GET /api/x HTTP/1.1\r\nHost: gw\r\n\r\n', { timeoutMs: 4000 });
    await waitFor(() => upstream.received.length === 1, 2000, 'request upstream');
    await sleep(100);
    await g.gw.shutdown();
    const text = await idle;
    expect(parseRaw(text).status).toBe(200);
    // Closed by the drain, not by our 4 s timeout nor the 5 s keep-alive timeout.
    expect(Date.now() - startedAt).toBeLessThan(1500 + stalls.lostSince(held));
  });

  it('the drain deadline bounds shutdown: a request still running then is cut, never left hanging', async () => {
    await start(300);
    upstream.setMode({ kind: 'hang' });
    const inFlight = request(g.url, '/api/stuck', { timeoutMs: 4000 });
    await waitFor(() => upstream.received.length === 1, 2000, 'request upstream');
    const startedAt = Date.now();
    const held = stalls.mark();
    await g.gw.shutdown();
    expect(Date.now() - startedAt).toBeLessThan(300 + 700 + stalls.lostSince(held));
    const r = await inFlight;
    expect(r.status).toBe(0);
    expect(r.error).toBeDefined();
    expect(r.error).not.toBe('ETIMEDOUT');
  });

  it('a request cut at the drain deadline still gets its log line, before "gateway closed"', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    g = await startGateway({
      upstreams: { backend: { url: upstream.url, timeoutMs: 5000 } },
      routes: [{ path: '/api', upstream: 'backend' }],
      shutdown: { drainTimeoutMs: 300 },
    }, { logger: createLogger('info', sink) });
    upstream.setMode({ kind: 'hang' });
    const inFlight = request(g.url, '/api/stuck', { headers: { 'X-Request-Id': 'cut-at-deadline' }, timeoutMs: 4000 });
    await waitFor(() => upstream.received.length === 1, 2000, 'request upstream');
    await g.gw.shutdown();
    // Everything logged before shutdown() resolved: a process exiting right then loses nothing.
    const cut = lines.findIndex((l) => l.requestId === 'cut-at-deadline');
    const closed = lines.findIndex((l) => l.event === 'closed');
    expect(cut).toBeGreaterThanOrEqual(0);
    expect(lines[cut]).toMatchObject({ level: 40, req: { method: 'GET', path: '/api/stuck' }, res: { status: null }, msg: 'request aborted' });
    expect(closed).toBeGreaterThan(cut);
    await inFlight;
  });

  it('the event stream refuses new subscribers while draining, and keeps the ones it has', async () => {
    await start(2000);
    upstream.setMode({ kind: 'hang' });
    const inFlight = request(g.url, '/api/stuck', { timeoutMs: 4000 });
    await waitFor(() => upstream.received.length === 1, 2000, 'request upstream');
    const admin = g.gw.adminUrl;
    const before = await openStream(admin);
    const draining = g.gw.shutdown();
    await waitFor(() => g.gw.state.draining, 1000, 'drain to start');
    const during = await request(admin, '/admin/breakers/stream', { timeoutMs: 2000 });
    expectProblem(during, { status: 503, code: 'GATEWAY_SHUTTING_DOWN', forwarded: false, retryable: true });
    expect(before.res.destroyed).toBe(false);
    upstream.setMode({ kind: 'ok' });
    await draining;
    await inFlight;
    before.req.destroy();
  });
});

/** Opens the admin event stream and resolves once its first bytes arrived. */
function openStream(admin: string): Promise<{ req: http.ClientRequest; res: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${admin}/admin/breakers/stream`, (res) => {
      res.once('data', () => resolve({ req, res }));
    });
    req.on('error', reject);
  });
}
