/**
 * Proves test/helpers/upstream.ts does what it documents, with node's own http client, since
 * gateway tests rely on it to produce each failure exactly.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { fixtureCa, refusingPort, startUpstream, type ControlledUpstream, type UpstreamOptions } from '../helpers/upstream';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Body 'data' events, to see chunking. */
  chunks: string[];
}

/** One request on its own connection (no agent pooling, so nothing outlives the test). */
function send(url: string, options: { method?: string; body?: string; ca?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const client = url.startsWith('https:') ? https : http;
    const req = client.request(url, { method: options.method ?? 'GET', agent: false, ca: options.ca }, (res) => {
      const chunks: string[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join(''), chunks }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Whether `promise` settles (either way) within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true, () => true);
  try {
    return await Promise.race([settled, timeout]);
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

const errorCode = (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (err: NodeJS.ErrnoException) => err.code,
  );

let upstream: ControlledUpstream | undefined;
async function start(options?: UpstreamOptions): Promise<ControlledUpstream> {
  upstream = await startUpstream(options);
  return upstream;
}
afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

describe('startUpstream modes', () => {
  test('ok by default: 200 JSON echoing the path, and records the request with its body', async () => {
    const up = await start();
    const reply = await send(`${up.url}/api/loans?x=1`, { method: 'POST', body: 'hello' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(JSON.parse(reply.body)).toEqual({ ok: true, path: '/api/loans?x=1' });
    expect(up.received).toHaveLength(1);
    expect(up.received[0]).toMatchObject({ method: 'POST', url: '/api/loans?x=1', body: 'hello' });
    expect(up.received[0]?.headers.host).toBe(`127.0.0.1:${up.port}`);
    expect(up.url).toBe(`http://127.0.0.1:${up.port}`);
    expect(up.connections).toBe(1);
  });

  test('ok with status, body and headers of its own', async () => {
    const up = await start({ mode: { kind: 'ok', status: 201, body: 'made', headers: { 'content-type': 'text/plain', 'x-a': '1' } } });
    const reply = await send(up.url);
    expect(reply).toMatchObject({ status: 201, body: 'made' });
    expect(reply.headers['content-type']).toBe('text/plain');
    expect(reply.headers['x-a']).toBe('1');
  });

  test('status answers that status with a small JSON body', async () => {
    const up = await start({ mode: { kind: 'status', status: 503 } });
    const reply = await send(up.url);
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ status: 503, error: 'injected' });
  });

  test('slow waits delayMs, then answers ok', async () => {
    const up = await start({ mode: { kind: 'slow', delayMs: 200 } });
    const started = Date.now();
    const reply = await send(up.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(reply.status).toBe(200);
  });

  test('hang reads the request but never answers; close() ends the connection', async () => {
    const up = await start({ mode: { kind: 'hang' } });
    const pending = send(up.url, { method: 'PUT', body: 'payload' });
    expect(await settlesWithin(pending, 300)).toBe(false);
    expect(up.received[0]).toMatchObject({ method: 'PUT', body: 'payload' });
    expect(up.openSockets).toBe(1);
    await up.close();
    expect(await errorCode(pending)).toBe('ECONNRESET'); // 'socket hang up'
    expect(up.openSockets).toBe(0);
  });

  test('reset sends a TCP RST after the request head: ECONNRESET, request recorded', async () => {
    const up = await start({ mode: { kind: 'reset' } });
    expect(await errorCode(send(up.url))).toBe('ECONNRESET');
    expect(up.received).toHaveLength(1);
  });

  test('die-mid-body sends headers for 1000 bytes, 10 bytes, then drops the connection', async () => {
    const up = await start({ mode: { kind: 'die-mid-body' } });
    const req = http.get(up.url, { agent: false });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('1000');
    let received = 0;
    res.on('data', (chunk: Buffer) => (received += chunk.length));
    const [err] = (await once(res, 'error')) as [NodeJS.ErrnoException]; // 'aborted'
    expect(err.code).toBe('ECONNRESET');
    expect(received).toBe(10);
    expect(res.complete).toBe(false);
  });

  test('bad-http makes the client parser fail', async () => {
    const up = await start({ mode: { kind: 'bad-http' } });
    expect(await errorCode(send(up.url))).toBe('HPE_INVALID_STATUS');
    expect(up.received).toHaveLength(1);
  });

  test('trickle sends a chunked body one chunk per delay', async () => {
    const up = await start({ mode: { kind: 'trickle', chunks: 4, chunkDelayMs: 60 } });
    const started = Date.now();
    const reply = await send(up.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 60 - 10);
    expect(reply.status).toBe(200);
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(reply.body).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\n');
    expect(reply.chunks).toHaveLength(4);
  });

  test('headers-then-hang sends headers and one chunk, then never finishes', async () => {
    const up = await start({ mode: { kind: 'headers-then-hang' } });
    const req = http.get(up.url, { agent: false });
    req.on('error', () => undefined); // ends in 'socket hang up' when the server closes
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    expect(res.statusCode).toBe(200);
    res.on('error', () => undefined);
    const [first] = (await once(res, 'data')) as [Buffer];
    expect(first.toString()).toBe('first chunk\n');
    expect(await settlesWithin(once(res, 'end'), 300)).toBe(false);
  });

  test('setMode applies to the next request', async () => {
    const up = await start();
    up.setMode({ kind: 'status', status: 500 });
    expect((await send(up.url)).status).toBe(500);
    up.setMode({ kind: 'ok' });
    expect((await send(up.url)).status).toBe(200);
  });
});

describe('health, counters and lifecycle', () => {
  test('/health follows setHealth only, is counted, and is not recorded', async () => {
    const up = await start({ mode: { kind: 'hang' } });
    up.setInstanceId('instance-a');
    expect(await send(`${up.url}/health`)).toMatchObject({ status: 200, body: '{"status":"up","instanceId":"instance-a"}' });
    up.setHealth(false);
    const down = await send(`${up.url}/health?probe=1`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({ status: 'down', instanceId: 'instance-a' });
    expect(up.healthChecks).toBe(2);
    expect(up.received).toHaveLength(0);
  });

  test('each server has its own random instance id', async () => {
    const a = await startUpstream();
    const b = await startUpstream();
    try {
      const idOf = async (u: ControlledUpstream) => (JSON.parse((await send(`${u.url}/health`)).body) as { instanceId: string }).instanceId;
      expect(await idOf(a)).not.toBe(await idOf(b));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('reset() clears received but keeps the counters', async () => {
    const up = await start();
    const kept = up.received;
    await send(up.url);
    await send(`${up.url}/health`);
    up.reset();
    expect(kept).toHaveLength(0);
    expect(up.connections).toBe(2);
    expect(up.healthChecks).toBe(1);
  });

  test('counts connections and open sockets; close() destroys idle ones and is idempotent', async () => {
    const up = await start();
    const sockets = [net.connect(up.port, '127.0.0.1'), net.connect(up.port, '127.0.0.1')];
    await waitFor(() => up.connections === 2); // the client's 'connect' can come before the server's accept
    expect(up.connections).toBe(2);
    expect(up.openSockets).toBe(2);
    await Promise.all([up.close(), up.close(), ...sockets.map((s) => once(s, 'close'))]);
    expect(up.openSockets).toBe(0);
  });

  test('refusingPort() gives a port that refuses connections', async () => {
    const port = await refusingPort();
    const socket = net.connect(port, '127.0.0.1');
    const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
  });
});

describe('TLS', () => {
  test('valid-for-localhost: a client trusting fixtureCa() connects by IP and by name', async () => {
    const up = await start({ tls: 'valid-for-localhost' });
    expect(up.url).toBe(`https://127.0.0.1:${up.port}`);
    expect((await send(up.url, { ca: fixtureCa() })).status).toBe(200);
    const req = https.get({ host: '127.0.0.1', servername: 'localhost', port: up.port, ca: fixtureCa(), agent: false });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    expect(res.statusCode).toBe(200);
  });

  test('valid-for-localhost: a client without the test CA rejects it', async () => {
    const up = await start({ tls: 'valid-for-localhost' });
    expect(await errorCode(send(up.url))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  test('self-signed: a client trusting fixtureCa() gets a certificate error', async () => {
    const up = await start({ tls: 'self-signed' });
    expect(await errorCode(send(up.url, { ca: fixtureCa() }))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(up.received).toHaveLength(0);
  });

  test('self-signed: even a client trusting that certificate rejects it by name', async () => {
    const up = await start({ tls: 'self-signed' });
    const selfSigned = readFileSync(path.join(__dirname, '..', 'fixtures', 'tls', 'self-signed.pem'), 'utf8');
    expect(await errorCode(send(up.url, { ca: selfSigned }))).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('modes work over TLS too: reset gives ECONNRESET, hang is closed by close()', async () => {
    const up = await start({ tls: 'valid-for-localhost', mode: { kind: 'reset' } });
    expect(await errorCode(send(up.url, { ca: fixtureCa() }))).toBe('ECONNRESET');
    up.setMode({ kind: 'hang' });
    const pending = send(up.url, { ca: fixtureCa() });
    expect(await settlesWithin(pending, 200)).toBe(false);
    await up.close();
    expect(await errorCode(pending)).toBe('ECONNRESET');
  });
});
