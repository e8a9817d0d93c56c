import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { argOf, runChild } from './child';

/** The upstream's answer: 218 bytes of JSON, the size used for the figures in issue 5. */
export const BODY = jsonOfSize(218);

function jsonOfSize(size: number): Buffer {
  const doc = {
    id: 'loan-0042',
    status: 'approved',
    amount: 250000,
    currency: 'SEK',
    termMonths: 60,
    applicant: { orgNo: '556677-8899', name: 'Breakwater Testbolag AB' },
    updatedAt: '2025-01-01T12:00:00.000Z',
    pad: '',
  };
  doc.pad = 'x'.repeat(Math.max(0, size - Buffer.byteLength(JSON.stringify(doc))));
  const body = Buffer.from(JSON.stringify(doc));
  if (body.length !== size) throw new Error(`upstream body is ${body.length} bytes, expected ${size}`);
  return body;
}

const IDLE_TIMEOUT_MS = 5000;

/**
 * `net` (default): a minimal HTTP/1.1 responder on node:net that answers every request with
 * the same prebuilt response, like a static nginx location. It shares a core with the load
 * generator, so the cheaper it is, the more of that core measures the proxies.
 * `http`: the same answer from node:http, for comparison.
 */
export async function startUpstream(kind: 'net' | 'http'): Promise<{ url: string; close(): Promise<void> }> {
  const server = kind === 'http' ? createHttpUpstream() : createNetUpstream();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (server instanceof http.Server) server.closeAllConnections();
    }),
  };
}

function createHttpUpstream(): http.Server {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': BODY.length });
      res.end(BODY);
    });
  });
  server.keepAliveTimeout = IDLE_TIMEOUT_MS;
  return server;
}

const RESPONSE = Buffer.concat([
  Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`),
  BODY,
]);
const BAD_REQUEST = Buffer.from('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

function createNetUpstream(): net.Server {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending: Buffer = Buffer.alloc(0);
    /** Body bytes of the current request still to skip. */
    let skip = 0;
    socket.on('data', (chunk: Buffer) => {
      let buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let answers = 0;
      let close = false;
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length);
          skip -= n;
          buf = buf.subarray(n);
          if (skip > 0) break;
        }
        const end = buf.indexOf(HEAD_END);
        if (end === -1) break;
        const head = buf.toString('latin1', 0, end);
        buf = buf.subarray(end + 4);
        // Only what the benchmark sends is supported: requests without a chunked body.
        if (/\r\ntransfer-encoding:/i.test(head)) {
          close = true;
          break;
        }
        skip = Number(CONTENT_LENGTH.exec(head)?.[1] ?? 0);
        answers++;
      }
      // A head that never ends is not ours to keep buffering.
      pending = buf.length > 64 * 1024 ? Buffer.alloc(0) : buf;
      if (answers === 1) socket.write(RESPONSE);
      else if (answers > 1) socket.write(Buffer.concat(Array.from({ length: answers }, () => RESPONSE)));
      if (close) socket.end(BAD_REQUEST);
    });
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  const close = server.close.bind(server);
  server.close = (cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  return server;
}

if (require.main === module) {
  runChild('upstream', () => startUpstream(argOf('kind') === 'http' ? 'http' : 'net'));
}
