/**
 * A caller that reads slowly holds the upstream back instead of making the gateway buffer the
 * answer: the relay pauses the upstream's response while the caller's socket is full, and a
 * large body arrives whole, byte for byte, once the caller reads again.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { oneRoute, startGateway, type StartedGateway } from '../helpers/gateway';

const BODY_BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'breakwater-');

describe('back-pressure through the relay', () => {
  let upstream: http.Server;
  let written = 0;
  let g: StartedGateway;

  beforeAll(async () => {
    // Writes its body only as fast as the gateway takes it (write() → false: wait for 'drain').
    upstream = http.createServer((_req, res) => {
      written = 0;
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(BODY_BYTES) });
      const pump = (): void => {
        while (written < BODY_BYTES) {
          written += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    g = await startGateway(oneRoute(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { timeoutMs: 5000 }));
  });
  afterAll(async () => {
    await g.close();
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
  });

  it('a caller that stops reading stops the upstream; the whole body arrives once it reads again', async () => {
    const socket = net.connect(Number(new URL(g.url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write('GET /api/big HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 800));
    // Kernel buffers on both hops hold a few MB; without back-pressure the gateway would have
    // taken (and buffered) all 64 MB by now.
    const writtenWhilePaused = written;
    expect(writtenWhilePaused).toBeLessThan(BODY_BYTES / 2);

    const hash = createHash('sha256');
    let received = 0;
    let head = '';
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        if (head.indexOf('\r\n\r\n') === -1) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          const rest = Buffer.from(head.slice(end + 4), 'latin1');
          head = head.slice(0, end + 4);
          received += rest.length;
          hash.update(rest);
          return;
        }
        received += chunk.length;
        hash.update(chunk);
      });
      socket.on('end', resolve);
      socket.on('error', reject);
      socket.resume();
    });
    expect(head.startsWith('HTTP/1.1 200 ')).toBe(true);
    expect(received).toBe(BODY_BYTES);
    const expected = createHash('sha256');
    for (let i = 0; i < BODY_BYTES / CHUNK.length; i++) expected.update(CHUNK);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
  });
});
