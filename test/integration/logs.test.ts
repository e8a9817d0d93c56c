import net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logging';
import { oneRoute, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

/** SPEC §9: one JSON line per request with its facts; secrets never in a line. */
describe('request logs', () => {
  let upstream: ControlledUpstream;
  let gateway: StartedGateway;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    gateway = await startGateway(oneRoute(upstream.url, {}, { methods: ['GET'] }), { logger: createLogger('info', sink) });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  const linesOf = (requestId: string): Record<string, unknown>[] => lines.filter((l) => l.requestId === requestId);

  async function untilLogged(requestId: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 50 && linesOf(requestId).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const found = linesOf(requestId);
    expect(found).toHaveLength(1);
    return found[0] as Record<string, unknown>;
  }

  test('requests answered on the raw socket (bad framing, CONNECT) get a line of the same shape', async () => {
    const send = (text: string): Promise<void> => new Promise((resolve) => {
      const socket = net.connect(Number(new URL(gateway.url).port), '127.0.0.1', () => socket.end(text));
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
    });
    await send('CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Request-Id: log-connect-1\r\n\r\n');
    expect(await untilLogged('log-connect-1')).toMatchObject({ level: 30, req: { method: 'CONNECT', path: '127.0.0.1:1' }, code: 'INVALID_REQUEST', res: { status: 400 }, msg: 'client error' });
    const before = lines.length;
    await send('GET /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 50 && lines.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(lines.slice(before)).toEqual([expect.objectContaining({ code: 'INVALID_REQUEST', res: { status: 400 }, parserError: expect.any(String), msg: 'client error' })]);
  });

  test('a proxied request is one line with route, upstream, status, duration and breaker state', async () => {
    const reply = await request(gateway.url, '/api/loans?secret=abc', {
      headers: { 'x-request-id': 'log-ok-1', authorization: 'Bearer hunter2', cookie: 'session=s3cret' },
    });
    expect(reply.status).toBe(200);
    const line = await untilLogged('log-ok-1');
    expect(line).toMatchObject({
      level: 30,
      msg: 'request completed',
      req: { method: 'GET', path: '/api/loans' },
      route: '/api',
      upstream: 'backend',
      breaker: 'closed',
      res: { status: 200 },
    });
    expect(typeof line.durationMs).toBe('number');
    expect(line.code).toBeUndefined();
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('secret=abc');
  });

  test('a gateway error carries its code', async () => {
    const reply = await request(gateway.url, '/api/x', { method: 'DELETE', headers: { 'x-request-id': 'log-405' } });
    expect(reply.status).toBe(405);
    const line = await untilLogged('log-405');
    // Refused before the breaker was asked: the line still names its state.
    expect(line).toMatchObject({ code: 'METHOD_NOT_ALLOWED', res: { status: 405 }, route: '/api', upstream: 'backend', breaker: 'closed' });
  });

  test('every line has route, upstream and breaker: null where the request never got that far', async () => {
    expect((await request(gateway.url, '/nowhere', { headers: { 'x-request-id': 'log-404' } })).status).toBe(404);
    expect(await untilLogged('log-404')).toMatchObject({ code: 'ROUTE_NOT_FOUND', res: { status: 404 }, route: null, upstream: null, breaker: null });
    expect((await request(gateway.url, '/healthz', { headers: { 'x-request-id': 'log-healthz' } })).status).toBe(200);
    expect(await untilLogged('log-healthz')).toMatchObject({ req: { method: 'GET', path: '/healthz' }, res: { status: 200 }, route: '/healthz', upstream: null, breaker: null });
  });

  test('breaker transitions are lines of their own', async () => {
    gateway.gw.registry.get('backend').breaker.forceOpen();
    gateway.gw.registry.get('backend').breaker.reset();
    const transitions = lines.filter((l) => l.event === 'breaker-transition' && l.upstream === 'backend');
    expect(transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      ['closed', 'open', 'forced'],
      ['open', 'closed', 'reset'],
    ]);
  });
});
