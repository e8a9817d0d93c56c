/**
 * Proves test/helpers/fault-proxy.ts does what it documents, with raw sockets and node's http
 * client in front of a test upstream, since gateway tests rely on each fault being exact.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { refusingPort, startUpstream, type ControlledUpstream } from '../helpers/upstream';

/** A complete HTTP request; `Connection: close` makes the upstream close after answering. */
const RAW_GET = 'GET /raw HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n';

interface Exchange {
  data: Buffer;
  chunks: Buffer[];
  errorCode?: string;
  startedAt: number;
  lastByteAt: number;
  closedAt: number;
}

/** Writes `payload` on a raw connection and collects everything until the connection closes. */
async function exchange(port: number, payload = RAW_GET): Promise<Exchange> {
  const socket = net.connect(port, '127.0.0.1');
  const result: Exchange = { data: Buffer.alloc(0), chunks: [], startedAt: Date.now(), lastByteAt: 0, closedAt: 0 };
  socket.on('data', (chunk: Buffer) => {
    result.chunks.push(chunk);
    result.lastByteAt = Date.now();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => (result.errorCode = err.code));
  socket.write(payload);
  await once(socket, 'close');
  result.closedAt = Date.now();
  result.data = Buffer.concat(result.chunks);
  return result;
}

interface Reply {
  status: number;
  body: string;
}

function send(url: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const errorCode = (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err.code,
  );

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let upstream: ControlledUpstream;
let proxy: FaultProxy;
beforeEach(async () => {
  upstream = await startUpstream();
  proxy = await startFaultProxy({ host: '127.0.0.1', port: upstream.port });
});
afterEach(async () => {
  await proxy.close();
  await upstream.close();
  jest.restoreAllMocks();
});

describe('a clean proxy', () => {
  test('forwards both ways and counts connections and bytes exactly', async () => {
    const result = await exchange(proxy.port);
    expect(result.data.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"ok":true,"path":"\/raw"\}$/);
    expect(result.errorCode).toBeUndefined();
    expect(proxy.url).toBe(`http://127.0.0.1:${proxy.port}`);
    expect(proxy.stats).toEqual({ connections: 1, bytesToUpstream: RAW_GET.length, bytesToClient: result.data.length });
    expect(upstream.received).toHaveLength(1);
  });

  test('passes an upstream RST on as an RST (ECONNRESET)', async () => {
    upstream.setMode({ kind: 'reset' });
    expect(await errorCode(send(proxy.url))).toBe('ECONNRESET');
  });

  test('when the target refuses, the client connection is closed without an answer', async () => {
    const down = await startFaultProxy({ host: '127.0.0.1', port: await refusingPort() });
    try {
      expect(await errorCode(send(down.url))).toBe('ECONNRESET'); // 'socket hang up'
    } finally {
      await down.close();
    }
  });

  test('set() checks its options', () => {
    expect(() => proxy.set({ kind: 'none' }, { probability: 1.5 })).toThrow(RangeError);
    expect(() => proxy.set({ kind: 'refuse' }, { probability: 0.5 })).toThrow(/cannot apply to only some/);
  });
});

describe('faults', () => {
  test('refuse: ECONNREFUSED and open connections closed; clearing reopens the same port', async () => {
    const idle = net.connect(proxy.port, '127.0.0.1');
    idle.on('error', () => undefined);
    await waitFor(() => proxy.stats.connections === 1);
    const port = proxy.port;

    const idleClosed = once(idle, 'close');
    await proxy.set({ kind: 'refuse' });
    await idleClosed;
    expect(await errorCode(send(proxy.url))).toBe('ECONNREFUSED');

    await proxy.set({ kind: 'none' });
    expect(proxy.port).toBe(port);
    expect((await send(proxy.url)).status).toBe(200);
  });

  test('blackhole: reads but never forwards or answers, and never dials the target', async () => {
    await proxy.set({ kind: 'blackhole' });
    const pending = send(proxy.url);
    pending.catch(() => undefined); // rejected by close() in afterEach
    expect(await settlesWithin(pending, 300)).toBe(false);
    expect(proxy.stats).toMatchObject({ connections: 1, bytesToUpstream: 0, bytesToClient: 0 });
    expect(upstream.connections).toBe(0);
  });

  test('blackhole downstream: the request arrives, the answer never does', async () => {
    await proxy.set({ kind: 'blackhole' }, { direction: 'downstream' });
    const pending = send(proxy.url);
    pending.catch(() => undefined);
    expect(await settlesWithin(pending, 300)).toBe(false);
    expect(upstream.received).toHaveLength(1);
    expect(proxy.stats.bytesToClient).toBe(0);
  });

  test('latency delays each direction by ms', async () => {
    await proxy.set({ kind: 'latency', ms: 150 }, { direction: 'downstream' });
    let started = Date.now();
    expect((await send(proxy.url)).status).toBe(200);
    const oneWay = Date.now() - started;
    expect(oneWay).toBeGreaterThanOrEqual(145);
    expect(oneWay).toBeLessThan(1000);

    await proxy.set({ kind: 'latency', ms: 100, jitterMs: 20 }); // both directions
    started = Date.now();
    expect((await send(proxy.url)).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 80 - 5);
  });

  test('bandwidth limits the rate', async () => {
    upstream.setMode({ kind: 'ok', body: 'x'.repeat(1000) });
    await proxy.set({ kind: 'bandwidth', bytesPerSecond: 2000 }, { direction: 'downstream' });
    const result = await exchange(proxy.port);
    expect(result.data.toString()).toMatch(/x{1000}$/);
    // 200-byte segments, 100 ms apart: the last one leaves (segments - 1) * 100 ms after the first.
    const segments = Math.ceil(result.data.length / 200);
    expect(result.lastByteAt - result.startedAt).toBeGreaterThanOrEqual((segments - 1) * 100 - 20);
    expect(result.lastByteAt - result.startedAt).toBeLessThan(segments * 100 + 1000);
  });

  test('slicer forwards in small delayed segments', async () => {
    await proxy.set({ kind: 'slicer', sizeBytes: 10, delayMs: 10 }, { direction: 'downstream' });
    const result = await exchange(proxy.port);
    expect(result.data.toString()).toMatch(/\{"ok":true,"path":"\/raw"\}$/);
    const segments = Math.ceil(result.data.length / 10);
    expect(Math.max(...result.chunks.map((c) => c.length))).toBeLessThanOrEqual(30); // loose: a busy loop may read two at once
    expect(result.chunks.length).toBeGreaterThanOrEqual(segments / 2);
    expect(result.lastByteAt - result.startedAt).toBeGreaterThanOrEqual((segments - 1) * 10 - 10);
  });

  test('limit-data downstream: exactly N bytes, then a clean close of both sides', async () => {
    await proxy.set({ kind: 'limit-data', bytes: 50 }, { direction: 'downstream' });
    // Keep-alive, so the upstream would keep its socket open unless the proxy closed it.
    const result = await exchange(proxy.port, 'GET /raw HTTP/1.1\r\nHost: test\r\n\r\n');
    expect(result.data.length).toBe(50);
    expect(result.errorCode).toBeUndefined();
    expect(proxy.stats.bytesToClient).toBe(50);
    await waitFor(() => upstream.openSockets === 0);
  });

  test('limit-data upstream: the target gets exactly N bytes, the client is cut off', async () => {
    await proxy.set({ kind: 'limit-data', bytes: 20 }, { direction: 'upstream' });
    const result = await exchange(proxy.port);
    expect(result.data.length).toBe(0);
    expect(proxy.stats.bytesToUpstream).toBe(20);
    expect(upstream.received).toHaveLength(0); // 20 bytes are not a complete request head
  });

  test('reset-peer: an immediate RST, without dialling the target', async () => {
    await proxy.set({ kind: 'reset-peer' });
    expect(await errorCode(send(proxy.url))).toBe('ECONNRESET');
    expect(upstream.connections).toBe(0);
  });

  test('reset-peer afterMs: forwards, then RSTs both peers', async () => {
    upstream.setMode({ kind: 'hang' });
    await proxy.set({ kind: 'reset-peer', afterMs: 150 });
    const started = Date.now();
    expect(await errorCode(send(proxy.url))).toBe('ECONNRESET');
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    expect(upstream.received).toHaveLength(1);
    await waitFor(() => upstream.openSockets === 0);
  });

  test('slow-close passes the close on late', async () => {
    await proxy.set({ kind: 'slow-close', delayMs: 300 }, { direction: 'downstream' });
    const result = await exchange(proxy.port);
    expect(result.data.toString()).toMatch(/\{"ok":true,"path":"\/raw"\}$/);
    expect(result.closedAt - result.lastByteAt).toBeGreaterThanOrEqual(290);
  });
});

describe('choosing connections', () => {
  test('probability decides per connection', async () => {
    jest.spyOn(Math, 'random').mockReturnValueOnce(0.7).mockReturnValueOnce(0.2);
    await proxy.set({ kind: 'reset-peer' }, { probability: 0.5 });
    expect((await send(proxy.url)).status).toBe(200); // 0.7 >= 0.5: spared
    expect(await errorCode(send(proxy.url))).toBe('ECONNRESET'); // 0.2 < 0.5: faulted

    await proxy.set({ kind: 'reset-peer' }, { probability: 0 });
    expect((await send(proxy.url)).status).toBe(200);
  });

  test('a fault applies to connections accepted after set(), not to open ones', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await send(proxy.url, agent)).status).toBe(200);
      await proxy.set({ kind: 'blackhole' });
      expect((await send(proxy.url, agent)).status).toBe(200); // the pooled connection is unaffected
      expect(proxy.stats.connections).toBe(1);
      const fresh = send(proxy.url);
      fresh.catch(() => undefined);
      expect(await settlesWithin(fresh, 200)).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  test('close() destroys open connections on both sides', async () => {
    upstream.setMode({ kind: 'hang' });
    const failure = errorCode(send(proxy.url));
    await waitFor(() => upstream.received.length === 1);
    await proxy.close();
    expect(await failure).toBe('ECONNRESET'); // 'socket hang up'
    await waitFor(() => upstream.openSockets === 0);
  });
});
