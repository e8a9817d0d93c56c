/**
 * SPEC §4: every problem the gateway answers because an upstream failed, each against a real
 * fault on a real socket, with what the upstream did or did not receive. `forwarded` and
 * `retryable` follow the rule: retryable = transient AND (not forwarded OR idempotent OR
 * Idempotency-Key); a POST is never sent twice.
 */
import net from 'node:net';
import { expectProblem, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startFullBacklog, type FullBacklog } from '../helpers/full-backlog';
import { fixtureCa, refusingPort, startUpstream, type ControlledUpstream, type UpstreamMode } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

const TIMEOUT_MS = 300;

/** A gateway with a route /NAME to an upstream of its own for each entry, answering in that mode. */
async function gatewayPerMode(modes: Record<string, UpstreamMode>, defaults: object): Promise<{ url: string; close(): Promise<void> }> {
  const names = Object.keys(modes);
  const upstreams = await Promise.all(Object.values(modes).map((mode) => startUpstream({ mode })));
  const gateway = await startGateway({
    defaults,
    upstreams: Object.fromEntries(names.map((name, i) => [name, { url: (upstreams[i] as ControlledUpstream).url }])),
    routes: names.map((name) => ({ path: `/${name}`, upstream: name })),
  });
  return {
    url: gateway.url,
    async close() {
      await gateway.close();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}
const CONNECT_TIMEOUT_MS = 300;

describe('problems caused by an upstream', () => {
  let hang: ControlledUpstream;
  let reset: ControlledUpstream;
  let bad: ControlledUpstream;
  let selfSigned: ControlledUpstream;
  let validTls: ControlledUpstream;
  let backlog: FullBacklog;
  let g: StartedGateway;

  beforeAll(async () => {
    [hang, reset, bad, selfSigned, validTls, backlog] = await Promise.all([
      startUpstream({ mode: { kind: 'hang' } }),
      startUpstream(),
      startUpstream({ mode: { kind: 'bad-http' } }),
      startUpstream({ tls: 'self-signed' }),
      startUpstream({ tls: 'valid-for-localhost' }),
      startFullBacklog(),
    ]);
    const refused = await refusingPort();
    g = await startGateway({
      // A breaker that never opens here: these tests are about single exchanges.
      defaults: { timeoutMs: TIMEOUT_MS, connectTimeoutMs: CONNECT_TIMEOUT_MS, breaker: { volumeThreshold: 100000 } },
      upstreams: {
        hang: { url: hang.url },
        reset: { url: reset.url },
        bad: { url: bad.url },
        refused: { url: `http://127.0.0.1:${refused}` },
        backlog: { url: `http://127.0.0.1:${backlog.port}` },
        // timeoutMs expires first, while the connect is still pending: nothing was sent all the same.
        'backlog-slow-connect': { url: `http://127.0.0.1:${backlog.port}`, connectTimeoutMs: 5000 },
        'tls-self-signed': { url: selfSigned.url },
        'tls-no-ca': { url: validTls.url },
        'tls-ok': { url: validTls.url, tls: { ca: fixtureCa() } },
      },
      routes: ['hang', 'reset', 'bad', 'refused', 'backlog', 'backlog-slow-connect', 'tls-self-signed', 'tls-no-ca', 'tls-ok'].map((name) => ({ path: `/${name}`, upstream: name })),
    });
  });
  afterAll(async () => {
    await g.close();
    await Promise.all([hang, reset, bad, selfSigned, validTls, backlog].map((u) => u.close()));
  });
  beforeEach(() => {
    for (const u of [hang, reset, bad, selfSigned, validTls]) u.reset();
  });

  describe('UPSTREAM_UNREACHABLE', () => {
    it('connection refused: 502, not forwarded, so retryable even for a POST', async () => {
      const r = await request(g.url, '/refused/loans', { method: 'POST', body: '{}' });
      const body = expectProblem(r, { status: 502, code: 'UPSTREAM_UNREACHABLE', forwarded: false, retryable: true, upstream: 'refused' });
      expect(String(body.detail)).toContain('"refused"');
    });

    it('connect timeout (SYN never answered): 502 after connectTimeoutMs, not forwarded', async () => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(g.url, '/backlog/loans', { method: 'POST', body: '{}' });
      const elapsed = Date.now() - started;
      expectProblem(r, { status: 502, code: 'UPSTREAM_UNREACHABLE', forwarded: false, retryable: true, upstream: 'backlog' });
      expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(CONNECT_TIMEOUT_MS + 500 + stalls.lostSince(held));
    });

    it('timeoutMs expiring before the connection is up is still UNREACHABLE, not forwarded (a POST stays retryable)', async () => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(g.url, '/backlog-slow-connect/loans', { method: 'POST', body: '{}' });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500 + stalls.lostSince(held));
      expectProblem(r, { status: 502, code: 'UPSTREAM_UNREACHABLE', forwarded: false, retryable: true, upstream: 'backlog-slow-connect' });
    });
  });

  describe('UPSTREAM_TIMEOUT', () => {
    it('GET to a hanging upstream: 504 within timeoutMs + 500 ms, forwarded, retryable (idempotent)', async () => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(g.url, '/hang/x');
      const elapsed = Date.now() - started;
      expectProblem(r, { status: 504, code: 'UPSTREAM_TIMEOUT', forwarded: true, retryable: true, upstream: 'hang' });
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 500 + stalls.lostSince(held));
      expect(hang.received).toHaveLength(1);
    });

    it('POST: not retryable (it may have taken effect), and sent exactly once', async () => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(g.url, '/hang/loans', { method: 'POST', body: '{"amount":1}', headers: { 'content-type': 'application/json' } });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500 + stalls.lostSince(held));
      const body = expectProblem(r, { status: 504, code: 'UPSTREAM_TIMEOUT', forwarded: true, retryable: false, upstream: 'hang' });
      expect(body.retryAfterSeconds).toBeUndefined();
      expect(r.headers['retry-after']).toBeUndefined();
      expect(hang.received.map((q) => q.method)).toEqual(['POST']);
      expect(hang.received[0]?.body).toBe('{"amount":1}');
    });

    it('POST with an Idempotency-Key: retryable', async () => {
      const r = await request(g.url, '/hang/loans', { method: 'POST', body: '{}', headers: { 'idempotency-key': 'k-1' } });
      expectProblem(r, { status: 504, code: 'UPSTREAM_TIMEOUT', forwarded: true, retryable: true, upstream: 'hang' });
      expect(hang.received).toHaveLength(1);
    });

    it('the gateway gives up on the upstream socket (it is closed after the timeout)', async () => {
      await request(g.url, '/hang/y');
      const deadline = Date.now() + 1000;
      while (hang.openSockets > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(hang.openSockets).toBe(0);
    });
  });

  describe('UPSTREAM_CONNECTION_LOST', () => {
    it('POST to an upstream that resets the connection: 502, forwarded, not retryable, received once', async () => {
      reset.setMode({ kind: 'reset' });
      const r = await request(g.url, '/reset/loans', { method: 'POST', body: '{"a":1}' });
      expectProblem(r, { status: 502, code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: false, upstream: 'reset' });
      expect(reset.received.map((q) => q.method)).toEqual(['POST']);
    });

    it('a POST on a pooled keep-alive socket that resets is still never sent twice', async () => {
      reset.setMode({ kind: 'ok' });
      expect((await request(g.url, '/reset/warm')).status).toBe(200); // leaves a keep-alive socket in the pool
      reset.setMode({ kind: 'reset' });
      reset.reset();
      const r = await request(g.url, '/reset/loans', { method: 'POST', body: '{"a":2}' });
      expectProblem(r, { status: 502, code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: false });
      expect(reset.received.map((q) => q.method)).toEqual(['POST']);
    });

    it('POST with Expect: 100-continue that resets: still forwarded, not retryable, received once', async () => {
      reset.setMode({ kind: 'reset' });
      const r = await request(g.url, '/reset/loans', { method: 'POST', body: '{"a":3}', headers: { expect: '100-continue' } });
      expectProblem(r, { status: 502, code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: false });
      expect(reset.received.map((q) => q.method)).toEqual(['POST']);
    });

    it('a GET read by the upstream on a kept socket that then broke is reported forwarded, though its retry was refused', async () => {
      // The upstream answers once with keep-alive and stops listening; on the kept socket it
      // reads the next request, then resets. The retry finds the port closed.
      const received: string[] = [];
      const server = net.createServer((socket) => {
        socket.on('data', (chunk) => {
          received.push(chunk.toString('latin1').split('\r\n')[0] ?? '');
          if (received.length === 1) {
            socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
            server.close();
          } else {
            socket.resetAndDestroy();
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const once = await startGateway({ upstreams: { once: { url: `http://127.0.0.1:${port}` } }, routes: [{ path: '/once', upstream: 'once' }] });
      try {
        expect((await request(once.url, '/once/a')).status).toBe(200);
        const r = await request(once.url, '/once/b');
        expect(received).toEqual(['GET /once/a HTTP/1.1', 'GET /once/b HTTP/1.1']);
        expectProblem(r, { status: 502, code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: true, upstream: 'once' });
      } finally {
        await once.close();
      }
    });

    it('GET: retryable; a bodyless GET on a stale pooled socket is tried again once, on a new connection', async () => {
      reset.setMode({ kind: 'ok' });
      expect((await request(g.url, '/reset/warm')).status).toBe(200);
      reset.setMode({ kind: 'reset' });
      reset.reset();
      const connectionsBefore = reset.connections;
      const r = await request(g.url, '/reset/x');
      expectProblem(r, { status: 502, code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: true });
      expect(reset.received.map((q) => q.method)).toEqual(['GET', 'GET']);
      expect(reset.connections).toBe(connectionsBefore + 1);
    });
  });

  describe('UPSTREAM_BAD_RESPONSE', () => {
    it('invalid HTTP from the upstream: 502, forwarded; GET retryable, POST not', async () => {
      const get = await request(g.url, '/bad/x');
      expectProblem(get, { status: 502, code: 'UPSTREAM_BAD_RESPONSE', forwarded: true, retryable: true, upstream: 'bad' });
      const post = await request(g.url, '/bad/x', { method: 'POST', body: 'p' });
      expectProblem(post, { status: 502, code: 'UPSTREAM_BAD_RESPONSE', forwarded: true, retryable: false, upstream: 'bad' });
      expect(bad.received.map((q) => q.method)).toEqual(['GET', 'POST']);
    });
  });

  describe('UPSTREAM_BAD_RESPONSE for answers HTTP does not allow', () => {
    let og: { url: string; close(): Promise<void> };
    const answers = {
      // Node's parser accepts these; RFC 9110 §15 does not (valid codes are 100..599).
      status99: 'HTTP/1.1 099 Weird\r\nContent-Length: 2\r\n\r\nok',
      status999: 'HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nok',
      // A protocol switch nobody asked for: Node hands over the socket, and no response ever comes.
      upgrade: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nraw bytes',
      // A control character in the reason phrase: Node's client parser accepts it, its server refuses to write it.
      reasonWithDel: 'HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\n\r\nok',
      // A 101 without Upgrade is no protocol switch to Node, just a final answer HTTP has no use for here.
      bare101: 'HTTP/1.1 101 Switching Protocols\r\n\r\n',
    };
    beforeAll(async () => {
      const modes = Object.fromEntries(Object.entries(answers).map(([name, response]): [string, UpstreamMode] => [name, { kind: 'raw', response }]));
      // timeoutMs is long, so an answer that only the deadline ends shows up as a timeout, not a 502.
      og = await gatewayPerMode(modes, { timeoutMs: 5000, breaker: { volumeThreshold: 1 } });
    });
    afterAll(() => og.close());

    it.each(Object.keys(answers))('%s: 502 at once, forwarded, and counted against the breaker', async (name) => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(og.url, `/${name}/x`);
      expect(Date.now() - started).toBeLessThan(1000 + stalls.lostSince(held));
      expectProblem(r, { status: 502, code: 'UPSTREAM_BAD_RESPONSE', forwarded: true, retryable: true, upstream: name });
      // volumeThreshold 1: the failure opened the breaker, so the next call is refused without reaching the upstream.
      const next = await request(og.url, `/${name}/x`);
      expectProblem(next, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: name });
    });
  });

  describe('a failure after the response head but before any body byte: a problem, not an empty reply', () => {
    let og: { url: string; close(): Promise<void> };
    const cases = {
      badChunk: [{ kind: 'raw', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n' }, 502, 'UPSTREAM_BAD_RESPONSE'],
      headThenClose: [{ kind: 'raw', response: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n', end: true }, 502, 'UPSTREAM_CONNECTION_LOST'],
      headThenSilence: [{ kind: 'raw', response: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n' }, 504, 'UPSTREAM_TIMEOUT'],
    } as const;
    beforeAll(async () => {
      const modes = Object.fromEntries(Object.entries(cases).map(([name, [mode]]): [string, UpstreamMode] => [name, mode]));
      og = await gatewayPerMode(modes, { timeoutMs: TIMEOUT_MS, breaker: { volumeThreshold: 100000 } });
    });
    afterAll(() => og.close());

    it.each(Object.entries(cases))('%s', async (name, [, status, code]) => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(og.url, `/${name}/x`, { method: 'POST', body: '{}' });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 500 + stalls.lostSince(held));
      // The request went out: forwarded, so a POST is not retryable.
      const problem = expectProblem(r, { status, code, forwarded: true, retryable: false, upstream: name });
      if (code === 'UPSTREAM_TIMEOUT') expect(problem.detail).toMatch(/sent its response headers, then nothing/);
    });
  });

  describe('a complete answer followed by bytes that are no HTTP is delivered whole', () => {
    let og: { url: string; close(): Promise<void> };
    const answers = {
      // RFC 9110: a 204 has no body, so these bytes would be the next response on the socket.
      noContentWithBody: ['HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello', 204, ''],
      trailingGarbage: ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA', 200, 'ok'],
    } as const;
    beforeAll(async () => {
      const modes = Object.fromEntries(Object.entries(answers).map(([name, [response]]): [string, UpstreamMode] => [name, { kind: 'raw', response }]));
      og = await gatewayPerMode(modes, { timeoutMs: 5000 });
    });
    afterAll(() => og.close());

    it.each(Object.entries(answers))('%s: the answer, not an empty reply', async (name, [, status, body]) => {
      const started = Date.now();
      const held = stalls.mark();
      const r = await request(og.url, `/${name}/x`);
      expect(Date.now() - started).toBeLessThan(1000 + stalls.lostSince(held));
      expect({ status: r.status, body: r.body }).toEqual({ status, body });
    });
  });

  describe('UPSTREAM_TLS_ERROR', () => {
    it('self-signed certificate with the wrong name: 502, not forwarded, not retryable (not transient)', async () => {
      const r = await request(g.url, '/tls-self-signed/x', { method: 'POST', body: '{}' });
      expectProblem(r, { status: 502, code: 'UPSTREAM_TLS_ERROR', forwarded: false, retryable: false, upstream: 'tls-self-signed' });
      expect(selfSigned.received).toHaveLength(0);
    });

    it('a certificate from a CA the gateway was not told to trust: 502 UPSTREAM_TLS_ERROR', async () => {
      const r = await request(g.url, '/tls-no-ca/x');
      expectProblem(r, { status: 502, code: 'UPSTREAM_TLS_ERROR', forwarded: false, retryable: false, upstream: 'tls-no-ca' });
      expect(validTls.received).toHaveLength(0);
    });

    it('with tls.ca set to that CA, the same upstream works', async () => {
      const r = await request(g.url, '/tls-ok/x?q=1');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ ok: true, path: '/tls-ok/x?q=1' });
      expect(validTls.received).toHaveLength(1);
    });
  });
});
