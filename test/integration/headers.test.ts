/**
 * SPEC §5 headers, observed at both ends of the gateway: hop-by-hop headers stripped both
 * ways, the upstream's own Host, X-Forwarded-* from what the gateway saw (kept only from a
 * trusted proxy), X-Request-Id kept when valid, replaced when not, and sent both ways.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { expectProblem, parseRaw, rawRequest, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('headers', () => {
  let upstream: ControlledUpstream;
  let plain: StartedGateway;
  let behindProxy: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    const config = { upstreams: { backend: { url: upstream.url } }, routes: [{ path: '/api', upstream: 'backend' }] };
    plain = await startGateway(config);
    behindProxy = await startGateway({ ...config, listen: { trustedProxies: ['127.0.0.1'] } });
  });
  afterAll(async () => {
    await plain.close();
    await behindProxy.close();
    await upstream.close();
  });
  beforeEach(() => {
    upstream.reset();
    upstream.setMode({ kind: 'ok' });
  });

  const only = (): ControlledUpstream['received'][number] => {
    expect(upstream.received).toHaveLength(1);
    return upstream.received[0] as ControlledUpstream['received'][number];
  };

  it('strips hop-by-hop request headers, and any header the Connection header names', async () => {
    // Raw bytes: node's client refuses some of these (a Trailer header without chunked framing).
    const raw = await rawRequest(
      plain.url,
      'GET /api/x HTTP/1.1\r\nHost: gw\r\n' +
        'Connection: close, X-Hop-Custom, X-Forwarded-For\r\n' +
        'X-Hop-Custom: must not pass\r\n' +
        'Keep-Alive: timeout=5\r\n' +
        'TE: trailers\r\n' +
        'Trailer: X-Checksum\r\n' +
        'Upgrade: h2c\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\n' +
        'Proxy-Connection: keep-alive\r\n' +
        'X-End-To-End: kept\r\n\r\n',
    );
    expect(parseRaw(raw).status).toBe(200);
    const h = only().headers;
    for (const name of ['x-hop-custom', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection']) {
      expect({ [name]: h[name] }).toEqual({ [name]: undefined });
    }
    // The gateway's own hop to the upstream has its own Connection header, not the caller's.
    expect(h.connection ?? '').not.toMatch(/close|x-hop-custom|x-forwarded-for/i);
    expect(h['x-end-to-end']).toBe('kept');
    // Naming X-Forwarded-For in Connection must not hide the caller's address from the upstream.
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('strips hop-by-hop response headers, and any header the upstream\'s Connection header names', async () => {
    upstream.setMode({
      kind: 'ok',
      headers: {
        Connection: 'X-Upstream-Hop',
        'X-Upstream-Hop': 'internal',
        'Keep-Alive': 'timeout=99',
        'Proxy-Authenticate': 'Basic realm="x"',
        Upgrade: 'h2c',
        'X-Kept': 'yes',
      },
    });
    const r = await request(plain.url, '/api/x');
    expect(r.status).toBe(200);
    expect(r.headers['x-upstream-hop']).toBeUndefined();
    expect(r.headers['keep-alive']).toBeUndefined();
    expect(r.headers['proxy-authenticate']).toBeUndefined();
    expect(r.headers.upgrade).toBeUndefined();
    expect(r.headers.connection).not.toMatch(/x-upstream-hop/i);
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.json).toEqual({ ok: true, path: '/api/x' });
  });

  it('the upstream receives its own Host, never the caller\'s', async () => {
    await request(plain.url, '/api/x', { headers: { Host: 'caller.example' } });
    expect(only().headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('X-Forwarded-* from an untrusted peer are replaced by what the gateway saw; Forwarded is dropped', async () => {
    await request(plain.url, '/api/x', {
      headers: {
        Host: 'caller.example',
        'X-Forwarded-For': '6.6.6.6',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-Host': 'evil.example',
        Forwarded: 'for=6.6.6.6;proto=https',
      },
    });
    const h = only().headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('caller.example');
    expect(h.forwarded).toBeUndefined();
  });

  it('an HTTP/1.0 request without Host cannot pass its own X-Forwarded-Host from an untrusted peer', async () => {
    const raw = await rawRequest(plain.url, 'GET /api/x HTTP/1.0\r\nX-Forwarded-Host: evil.example\r\nForwarded: host=evil.example\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-Kept: 2\r\n\r\n');
    expect(raw.startsWith('HTTP/1.1 200')).toBe(true);
    const h = only().headers;
    expect(h['x-forwarded-host']).toBeUndefined();
    expect(h.forwarded).toBeUndefined();
    expect(h['x-hop']).toBeUndefined();
    expect(h['x-kept']).toBe('2');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('without any caller values, X-Forwarded-* are still set', async () => {
    await request(plain.url, '/api/x', { headers: { Host: 'gw.example:8080' } });
    const h = only().headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gw.example:8080');
  });

  it('from a trusted proxy (listen.trustedProxies), the caller\'s X-Forwarded-* are kept and the peer appended', async () => {
    await request(behindProxy.url, '/api/x', {
      headers: { Host: 'inner.example', 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'public.example' },
    });
    const h = only().headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('public.example');
  });

  it('a valid X-Request-Id is kept, sent upstream and returned; the upstream cannot change it', async () => {
    upstream.setMode({ kind: 'ok', headers: { 'X-Request-Id': 'upstream-made-this-up' } });
    const id = 'caller-req.42:A_b';
    const r = await request(plain.url, '/api/x', { headers: { 'X-Request-Id': id } });
    expect(r.headers['x-request-id']).toBe(id);
    expect(only().headers['x-request-id']).toBe(id);
  });

  it.each([
    ['spaces', 'not a valid id'],
    ['a slash', 'a/b'],
    ['129 characters', 'a'.repeat(129)],
  ])('an X-Request-Id with %s is replaced (not rejected) by a generated one, the same both ways', async (_what, bad) => {
    const r = await request(plain.url, '/api/x', { headers: { 'X-Request-Id': bad } });
    expect(r.status).toBe(200);
    const id = String(r.headers['x-request-id']);
    expect(id).toMatch(UUID);
    expect(only().headers['x-request-id']).toBe(id);
  });

  it('without an X-Request-Id each request gets its own', async () => {
    const a = await request(plain.url, '/api/a');
    const b = await request(plain.url, '/api/b');
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(b.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('a problem carries the caller\'s request id in the header and the body', async () => {
    const r = await request(plain.url, '/nowhere', { headers: { 'X-Request-Id': 'trace-123' } });
    const body = expectProblem(r, { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expect(body.requestId).toBe('trace-123');
  });
});

describe('response headers as the upstream wrote them', () => {
  let server: http.Server;
  let g: StartedGateway;

  beforeAll(async () => {
    // Repeated Set-Cookie, mixed-case names and an X-Request-Id of the upstream's own cannot be
    // expressed through the shared helper's header object, so this upstream writes them itself.
    server = http.createServer((_req, res) => {
      res.writeHead(201, 'Made It', [
        'Set-Cookie', 'a=1; Path=/',
        'X-MiXeD-Case', 'kept',
        'Set-Cookie', 'b=2; Path=/',
        'X-Request-Id', 'upstream-chose-this',
        'Connection', 'keep-alive, X-Hop',
        'X-Hop', 'internal',
        'Content-Type', 'text/plain',
        'Content-Length', '2',
      ]);
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    g = await startGateway({ upstreams: { raw: { url: `http://127.0.0.1:${port}` } }, routes: [{ path: '/api', upstream: 'raw' }] });
  });
  afterAll(async () => {
    await g.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('keeps repeated headers separate, names in their case, status and reason; drops hop-by-hop ones and the upstream\'s request id', async () => {
    const raw = await rawRequest(g.url, 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: caller-1\r\nConnection: close\r\n\r\n');
    const [head = '', body] = raw.split('\r\n\r\n');
    const lines = head.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 201 Made It');
    expect(lines.filter((l) => l.startsWith('Set-Cookie: '))).toEqual(['Set-Cookie: a=1; Path=/', 'Set-Cookie: b=2; Path=/']);
    expect(lines).toContain('X-MiXeD-Case: kept');
    expect(lines.filter((l) => /^x-request-id:/i.test(l))).toEqual(['X-Request-Id: caller-1']);
    expect(lines.some((l) => /^x-hop:/i.test(l))).toBe(false);
    expect(lines.filter((l) => /^connection:/i.test(l))).toEqual(['Connection: close']);
    expect(body).toBe('ok');
  });
});
