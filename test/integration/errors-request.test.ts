/**
 * SPEC §4/§5: every problem the gateway answers because of the caller's own request, each
 * provoked for real on a socket, and in every case the upstream receives nothing.
 */
import { expectProblem, oneRoute, parseRaw, rawRequest, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

describe('problems caused by the request', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    g = await startGateway(
      oneRoute(upstream.url, {}, { methods: ['GET', 'POST'], maxBodyBytes: 100 }, {
        listen: { headersTimeoutMs: 1000, requestTimeoutMs: 1000, maxHeaderBytes: 2048 },
      }),
    );
  });
  afterAll(async () => {
    await g.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  it('ROUTE_NOT_FOUND: 404 for a path no route matches, nothing forwarded', async () => {
    const r = await request(g.url, '/nope/x');
    expectProblem(r, { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expect(r.headers['retry-after']).toBeUndefined();
    // A route matches whole segments only: /apix is not under /api.
    const r2 = await request(g.url, '/apix');
    expectProblem(r2, { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('METHOD_NOT_ALLOWED: 405 with an Allow header naming the route\'s methods', async () => {
    const r = await request(g.url, '/api/items', { method: 'DELETE' });
    const body = expectProblem(r, { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false, upstream: 'backend' });
    expect(String(r.headers.allow).split(/,\s*/).sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(body.instance).toBe('/api/items');
    expect(upstream.received).toHaveLength(0);
  });

  it('the allowed methods do reach the upstream (control for the 405 case)', async () => {
    const r = await request(g.url, '/api/items?x=1');
    expect(r.status).toBe(200);
    expect(upstream.received.map((q) => `${q.method} ${q.url}`)).toEqual(['GET /api/items?x=1']);
  });

  it.each([
    ['a dot-segment', '/api/../admin'],
    ['a single-dot segment', '/api/./items'],
    ['an encoded dot-segment', '/api/%2e%2e/admin'],
    ['a half-encoded dot-segment', '/api/.%2e/admin'],
    ['an encoded slash', '/api/..%2fadmin'],
    ['an encoded backslash', '/api/a%5cb'],
    ['a backslash', '/api/a\\b'],
    ['an empty segment', '/api//items'],
    ['bad percent-encoding', '/api/%zz'],
  ])('INVALID_REQUEST: 400 for %s (%s), sent byte for byte', async (_what, target) => {
    const raw = await rawRequest(g.url, `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
    const r = parseRaw(raw);
    expectProblem(r, { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('INVALID_REQUEST: an absolute-form target is refused', async () => {
    const raw = await rawRequest(g.url, `GET http://elsewhere.example/api/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
    expectProblem(parseRaw(raw), { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('INVALID_REQUEST: conflicting Content-Length and Transfer-Encoding (smuggling) is refused and the connection closed', async () => {
    const smuggle =
      'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n';
    const raw = await rawRequest(g.url, smuggle);
    const r = parseRaw(raw);
    expectProblem(r, { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
    expect(r.headers.connection).toBe('close');
    // Exactly one response: the smuggled request was never parsed as a second one.
    expect(raw.match(/^HTTP\/1\.1 /gm)).toHaveLength(1);
    expect(upstream.received).toHaveLength(0);
  });

  it('INVALID_REQUEST: a request line that is not HTTP gets a 400 problem', async () => {
    const raw = await rawRequest(g.url, 'HELLO\r\n\r\n');
    expectProblem(parseRaw(raw), { status: 400, code: 'INVALID_REQUEST', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('PAYLOAD_TOO_LARGE: by Content-Length, before any byte is forwarded', async () => {
    const r = await request(g.url, '/api/upload', { method: 'POST', body: 'x'.repeat(101), headers: { 'content-type': 'text/plain' } });
    // The route's upstream is named, the one concerned (SPEC §4), though nothing reached it.
    expectProblem(r, { status: 413, code: 'PAYLOAD_TOO_LARGE', forwarded: false, retryable: false, upstream: 'backend' });
    expect(upstream.received).toHaveLength(0);
  });

  it('PAYLOAD_TOO_LARGE: a chunked body is counted as it arrives and refused past the limit', async () => {
    const r = await request(g.url, '/api/upload', {
      method: 'POST',
      body: 'y'.repeat(150),
      headers: { 'transfer-encoding': 'chunked' },
    });
    expectProblem(r, { status: 413, code: 'PAYLOAD_TOO_LARGE', forwarded: false, retryable: false, upstream: 'backend' });
    expect(upstream.received).toHaveLength(0);
  });

  it('a chunked body within the limit is forwarded whole, with a Content-Length', async () => {
    const r = await request(g.url, '/api/upload', { method: 'POST', body: 'z'.repeat(100), headers: { 'transfer-encoding': 'chunked' } });
    expect(r.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]?.body).toBe('z'.repeat(100));
    expect(upstream.received[0]?.headers['content-length']).toBe('100');
    expect(upstream.received[0]?.headers['transfer-encoding']).toBeUndefined();
  });

  it('HEADERS_TOO_LARGE: 431 when the head exceeds listen.maxHeaderBytes', async () => {
    const raw = await rawRequest(g.url, `GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(4000)}\r\n\r\n`);
    expectProblem(parseRaw(raw), { status: 431, code: 'HEADERS_TOO_LARGE', forwarded: false, retryable: false });
    expect(upstream.received).toHaveLength(0);
  });

  it('REQUEST_TIMEOUT: 408 for a caller whose body stalls; the upstream receives nothing', async () => {
    const started = Date.now();
    const held = stalls.mark();
    const raw = await rawRequest(g.url, 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\n\r\nabc', { timeoutMs: 5000 });
    const elapsed = Date.now() - started;
    expectProblem(parseRaw(raw), { status: 408, code: 'REQUEST_TIMEOUT', forwarded: false, retryable: false });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2000 + stalls.lostSince(held));
    expect(upstream.received).toHaveLength(0);
  });

  it('REQUEST_TIMEOUT: 408 for a caller sending its headers too slowly, within a second of the limit', async () => {
    const started = Date.now();
    const held = stalls.mark();
    // One header line every 200 ms, never the blank line that ends the head.
    const drip: [number, string][] = Array.from({ length: 20 }, (_, i) => [200, `X-Drip-${i}: ${i}\r\n`]);
    const raw = await rawRequest(g.url, 'GET /api/x HTTP/1.1\r\nHost: gw\r\n', { then: drip, timeoutMs: 5000 });
    const elapsed = Date.now() - started;
    expectProblem(parseRaw(raw), { status: 408, code: 'REQUEST_TIMEOUT', forwarded: false, retryable: false });
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(2000 + stalls.lostSince(held));
    expect(upstream.received).toHaveLength(0);
  });
});
