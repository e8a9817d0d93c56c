/** Free keep-alive sockets to an upstream are closed after idling, and only then (src/proxy/idle-sockets.ts). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeIdleSockets } from '../../src/proxy/idle-sockets';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('closeIdleSockets', () => {
  let server: http.Server;
  let port: number;
  let open = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      open++;
      socket.on('close', () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const get = (agent: http.Agent): Promise<void> => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    }).on('error', reject);
  });

  it('reuses a free socket while it is fresh, and closes it once it has idled for idleMs', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const stop = closeIdleSockets(agent, 300, 50);
    try {
      await get(agent);
      await sleep(100);
      await get(agent); // within idleMs: the same connection
      expect(open).toBe(1);
      await sleep(150);
      expect(open).toBe(1); // idle for 150 ms < 300 ms: still open
      await sleep(400);
      expect(open).toBe(0); // idle for 550 ms: closed by the sweep
      await get(agent); // and a new one is made when needed
      expect(open).toBe(1);
    } finally {
      stop();
      agent.destroy();
    }
    await sleep(50);
    expect(open).toBe(0);
  });

  it('never closes a socket while a request is using it', async () => {
    const slow = http.createServer((_req, res) => setTimeout(() => res.end('slow'), 400));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const agent = new http.Agent({ keepAlive: true });
    const stop = closeIdleSockets(agent, 100, 20);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: (slow.address() as AddressInfo).port, path: '/', agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve(text));
        }).on('error', reject);
      });
      expect(body).toBe('slow');
    } finally {
      stop();
      agent.destroy();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });
});
