/**
 * SPEC §5 cancellation: when the caller goes away before the answer, the upstream request is
 * aborted too, and its socket and concurrency slot are freed.
 */
import net from 'node:net';
import { request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

describe('caller goes away', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream({ mode: { kind: 'hang' } });
    g = await startGateway({
      upstreams: { backend: { url: upstream.url, timeoutMs: 10000, maxConcurrent: 1 } },
      routes: [{ path: '/api', upstream: 'backend' }],
    });
  });
  afterAll(async () => {
    await g.close();
    await upstream.close();
  });

  it('aborts the upstream request (its socket closes promptly) and frees the concurrency slot', async () => {
    const controller = new AbortController();
    const pending = request(g.url, '/api/slow-report', { signal: controller.signal });
    await waitFor(() => upstream.received.length === 1 && upstream.openSockets === 1, 2000, 'request upstream');
    expect(g.gw.state.inFlight).toBe(1);

    const abortedAt = Date.now();
    controller.abort();
    expect((await pending).error).toBe('ABORTED_BY_TEST');
    await waitFor(() => upstream.openSockets === 0, 1000, 'upstream socket to close');
    expect(Date.now() - abortedAt).toBeLessThan(500);
    await waitFor(() => g.gw.state.inFlight === 0, 1000, 'in-flight count to drop');

    // maxConcurrent is 1: had the slot leaked, this would be GATEWAY_OVERLOADED.
    upstream.setMode({ kind: 'ok' });
    const next = await request(g.url, '/api/next');
    expect(next.status).toBe(200);
  });

  it('a POST abandoned mid-way is not resent', async () => {
    upstream.reset();
    upstream.setMode({ kind: 'hang' });
    const controller = new AbortController();
    const pending = request(g.url, '/api/loans', { method: 'POST', body: '{"x":1}', signal: controller.signal });
    await waitFor(() => upstream.received.length === 1, 2000, 'POST upstream');
    controller.abort();
    await pending;
    await waitFor(() => upstream.openSockets === 0, 1000, 'upstream socket to close');
    expect(upstream.received.map((q) => q.method)).toEqual(['POST']);
  });
  it('pipelined requests still queued when the caller hangs up are over too: nothing stays in flight', async () => {
    upstream.reset();
    upstream.setMode({ kind: 'hang' });
    const port = Number(new URL(g.url).port);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // The second and third wait in Node's queue behind the first, which hangs upstream.
    socket.write('GET /api/first HTTP/1.1\r\nHost: gw\r\n\r\nGET /api/second HTTP/1.1\r\nHost: gw\r\n\r\nGET /api/third HTTP/1.1\r\nHost: gw\r\n\r\n');
    await waitFor(() => upstream.received.length >= 1, 2000, 'first request upstream');
    await waitFor(() => g.gw.state.inFlight === 3, 1000, 'all three handled');
    socket.destroy();
    await waitFor(() => g.gw.state.inFlight === 0, 1000, 'in-flight count to drop');
    await waitFor(() => upstream.openSockets === 0, 1000, 'upstream sockets to close');
  });
});
