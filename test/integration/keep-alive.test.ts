/**
 * Problems the gateway answers itself keep the caller's keep-alive connection when nothing
 * of the request is left unread, and close it when an unread body would have to be drained.
 */
import net from 'node:net';
import { startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

/** Sends `requests` one after another on one socket (stopping once it closes); resolves with each status and whether the socket closed. */
async function onOneSocket(base: string, requests: string[]): Promise<{ statuses: number[]; connectionHeaders: string[]; closed: boolean }> {
  const { port } = new URL(base);
  const socket = net.connect(Number(port), '127.0.0.1');
  const statuses: number[] = [];
  const connectionHeaders: string[] = [];
  let closed = false;
  socket.on('close', () => (closed = true));
  socket.setEncoding('latin1');
  let buffer = '';
  for (const text of requests) {
    if (closed) break;
    socket.write(text);
    // Each answer here has a Content-Length; read exactly one response.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no response within 2 s; got ${JSON.stringify(buffer)}`)), 2000);
      const check = (): void => {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buffer.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        statuses.push(Number(head.slice(9, 12)));
        connectionHeaders.push(/\r\nconnection: *([^\r]*)/i.exec(head)?.[1]?.toLowerCase() ?? '');
        buffer = buffer.slice(end + 4 + length);
        socket.off('data', onData);
        clearTimeout(timer);
        resolve();
      };
      const onData = (chunk: string): void => {
        buffer += chunk;
        check();
      };
      socket.on('data', onData);
      // A closed connection answers no further request.
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  await new Promise((r) => setTimeout(r, 50));
  socket.destroy();
  return { statuses, connectionHeaders, closed };
}

describe('keep-alive after a gateway problem', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    g = await startGateway({
      upstreams: { business: { url: upstream.url }, closed: { url: upstream.url } },
      routes: [
        { path: '/api', upstream: 'business', methods: ['GET', 'POST'], maxBodyBytes: 10 },
        { path: '/held', upstream: 'closed' },
      ],
    });
    g.gw.registry.get('closed').breaker.forceOpen();
  });
  afterAll(async () => {
    await g.close();
    await upstream.close();
  });

  it('answers ROUTE_NOT_FOUND, METHOD_NOT_ALLOWED and CIRCUIT_OPEN on one connection, then proxies on it', async () => {
    const r = await onOneSocket(g.url, [
      'GET /nope HTTP/1.1\r\nHost: gw\r\n\r\n',
      'DELETE /api/x HTTP/1.1\r\nHost: gw\r\n\r\n',
      'GET /held/x HTTP/1.1\r\nHost: gw\r\n\r\n',
      'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n',
      'GET /api/x HTTP/1.1\r\nHost: gw\r\n\r\n',
    ]);
    expect(r.statuses).toEqual([404, 405, 503, 200, 200]);
    expect(r.connectionHeaders).toEqual(['keep-alive', 'keep-alive', 'keep-alive', 'keep-alive', 'keep-alive']);
    expect(r.closed).toBe(false);
    expect(upstream.received.map((q) => q.method)).toEqual(['POST', 'GET']);
  });

  it('closes the connection after refusing a request whose body was not read', async () => {
    const r = await onOneSocket(g.url, [
      'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100000\r\n\r\n',
      'GET /api/x HTTP/1.1\r\nHost: gw\r\n\r\n',
    ]);
    expect(r.statuses).toEqual([413]);
    expect(r.connectionHeaders).toEqual(['close']);
    expect(r.closed).toBe(true);
  });
});
