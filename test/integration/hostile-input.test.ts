/**
 * Hostile input (issue 6): requests built to escape a route, smuggle a second request past
 * the gateway, exhaust it, or spoof who is calling. Each is written byte for byte on a raw
 * socket. Every answer must be a problem from the catalog (or, where HTTP leaves no way to
 * answer, a closed connection), and no upstream may receive anything.
 */
import net from 'node:net';
import { parseConfigText } from '../../src/config/load';
import { ConfigError } from '../../src/config/load';
import { NAME_RULE } from '../../src/config/schema';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/server/logging';
import { parseRaw, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { refusingPort, startUpstream, type ControlledUpstream, type UpstreamMode } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 1500;
const MAX_HEADER_BYTES = 4096;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent, as latin1. */
  text: string;
  /** The server closed the connection (FIN or RST) rather than leave it open. */
  closed: boolean;
  elapsedMs: number;
  /** Of elapsedMs, the time this process was held up (test/helpers/stall-meter.ts). */
  lostMs: number;
}

/**
 * Writes `chunks` (each after its delay) on a fresh connection and resolves as soon as one
 * complete response has arrived (by its Content-Length), the server closed, or `timeoutMs`.
 */
function exchange(port: number, chunks: (string | Buffer | [number, string])[], timeoutMs = 4000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const held = stalls.mark();
    const socket = net.connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timers: NodeJS.Timeout[] = [];
    let settled = false;
    const settle = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      resolve({ ...parseRaw(text), text, closed, elapsedMs: Date.now() - t0, lostMs: stalls.lostSince(held) });
    };
    socket.on('data', (c: Buffer) => {
      received.push(c);
      const text = Buffer.concat(received).toString('latin1');
      const { headers, body } = parseRaw(text);
      if (text.includes('\r\n\r\n') && headers['content-length'] !== undefined && Buffer.byteLength(body, 'latin1') >= Number(headers['content-length'])) {
        // A complete answer; give the server a moment to close, as it should after a framing error.
        timers.push(setTimeout(() => settle(socket.readableEnded), 50));
      }
    });
    socket.on('end', () => settle(true));
    socket.on('close', () => settle(true));
    socket.on('error', () => settle(true));
    socket.on('connect', () => {
      let at = 0;
      for (const chunk of chunks) {
        if (Array.isArray(chunk)) {
          at += chunk[0];
          timers.push(setTimeout(() => socket.writable && socket.write(chunk[1], 'latin1'), at));
        } else if (at === 0) {
          socket.write(chunk);
        } else {
          timers.push(setTimeout(() => socket.writable && socket.write(chunk), at));
        }
      }
    });
    timers.push(setTimeout(() => settle(false), timeoutMs));
  });
}

type Want = { status: number; code: string } | 'closed';

describe('hostile input', () => {
  const logLines: Record<string, unknown>[] = [];
  let api: ControlledUpstream;
  let internal: ControlledUpstream;
  let g: StartedGateway;
  let port: number;

  beforeAll(async () => {
    [api, internal] = await Promise.all([startUpstream(), startUpstream()]);
    g = await startGateway(
      {
        listen: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxHeaderBytes: MAX_HEADER_BYTES },
        upstreams: { api: { url: api.url, timeoutMs: 2000 }, internal: { url: internal.url, timeoutMs: 2000 } },
        routes: [
          // /api/x is sent upstream as /x: a path escaping the prefix would reach the api upstream's own root.
          { path: '/api', upstream: 'api', stripPrefix: true, maxBodyBytes: 1024 },
          { path: '/internal', upstream: 'internal', methods: ['GET'] },
        ],
      },
      { processMetrics: false, logger: createLogger('info', new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logLines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      })) },
    );
    port = Number(new URL(g.url).port);
  });
  afterAll(async () => {
    await g.close();
    await Promise.all([api.close(), internal.close()]);
  });
  beforeEach(() => {
    api.reset();
    internal.reset();
  });

  /** The answer is the wanted problem (or a bare close), and no upstream saw a thing. */
  function expectRefused(answer: RawAnswer, want: Want): void {
    if (want === 'closed') {
      expect({ closed: answer.closed, text: answer.text }).toEqual({ closed: true, text: '' });
    } else {
      expect(answer.status).toBe(want.status);
      expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
      const problem = JSON.parse(answer.body) as Record<string, unknown>;
      expect(problem).toMatchObject({ status: want.status, code: want.code, forwarded: false, retryable: false });
      expect(problem.requestId).toBe(answer.headers['x-request-id']);
    }
    expect({ api: api.received.length, internal: internal.received.length }).toEqual({ api: 0, internal: 0 });
  }

  const BAD_TARGET = { status: 400, code: 'INVALID_REQUEST' };
  const get = (target: string): string => `GET ${target} HTTP/1.1\r\nHost: gw.example\r\n\r\n`;

  describe('paths that could escape a route or a prefix are refused, never normalised', () => {
    it.each([
      ['dot-dot segment', '/api/../internal/secrets'],
      ['dot-dot at the end', '/api/x/..'],
      ['dot segment', '/api/./x'],
      ['encoded dot-dot (%2e%2e)', '/api/%2e%2e/internal/secrets'],
      ['encoded dot-dot, upper case (%2E%2E)', '/api/%2E%2E/internal/secrets'],
      ['half-encoded dot-dot (.%2e)', '/api/.%2e/internal/secrets'],
      ['dot-dot with an encoded slash (..%2f)', '/api/..%2finternal/secrets'],
      ['encoded slash (%2f)', '/api%2f..%2finternal'],
      ['encoded slash inside a segment', '/api/a%2Fb'],
      ['encoded backslash (%5c)', '/api/..%5cinternal'],
      ['raw backslash', '/api\\..\\internal'],
      ['empty segment (//)', '/api//internal'],
      ['leading // (scheme-relative)', '//internal/secrets'],
      ['encoded NUL', '/api/x%00.json'],
      ['invalid percent-encoding', '/api/%zz'],
      ['overlong UTF-8 dots (%C0%AE)', '/api/%C0%AE%C0%AE/internal'],
      ['truncated UTF-8 (%E2%82)', '/api/%E2%82'],
      ['lone surrogate (%ED%A0%80)', '/api/%ED%A0%80'],
    ])('%s: %s', async (_name, target) => {
      expectRefused(await exchange(port, [get(target)]), BAD_TARGET);
    });

    it('raw (unencoded) UTF-8 in the path', async () => {
      const bytes = Buffer.concat([Buffer.from('GET /api/l'), Buffer.from('ån', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: gw\r\n\r\n')]);
      expectRefused(await exchange(port, [bytes]), BAD_TARGET);
    });

    it('double-encoded dot-dot (%252e%252e) is plain data: forwarded unchanged, inside its own prefix only', async () => {
      const answer = await exchange(port, [get('/api/%252e%252e/internal')]);
      expect(answer.status).toBe(200);
      expect(api.received.map((r) => r.url)).toEqual(['/%252e%252e/internal']);
      expect(internal.received).toHaveLength(0);
    });

    it('a valid percent-encoded UTF-8 path is forwarded byte for byte', async () => {
      const answer = await exchange(port, [get('/api/l%C3%A5n?q=%2e%2e')]);
      expect(answer.status).toBe(200);
      expect(api.received.map((r) => r.url)).toEqual(['/l%C3%A5n?q=%2e%2e']);
    });
  });

  describe('request targets that would make it an open proxy', () => {
    it('absolute-form naming an upstream directly', async () => {
      expectRefused(await exchange(port, [get(`http://127.0.0.1:${internal.port}/internal/secrets`)]), BAD_TARGET);
    });

    it('absolute-form naming another host', async () => {
      const answer = await exchange(port, [get('http://evil.example/api/x')]);
      expectRefused(answer, BAD_TARGET);
      // `instance` is the path; the host the caller named is not echoed.
      expect(JSON.parse(answer.body)).toMatchObject({ instance: '/api/x' });
      expect(answer.body).not.toContain('evil.example');
    });

    it('a fragment in the target is refused, not silently dropped', async () => {
      const answer = await exchange(port, [get('/api/x#frag')]);
      expectRefused(answer, BAD_TARGET);
      expect(JSON.parse(answer.body)).toMatchObject({ instance: '/api/x' });
    });

    it('a dot-dot segment with a path parameter (..;), which servlet containers read as ..', async () => {
      expectRefused(await exchange(port, [get('/api/..;/internal/secrets')]), BAD_TARGET);
    });

    it('authority-form on GET', async () => {
      expectRefused(await exchange(port, [get(`127.0.0.1:${internal.port}`)]), BAD_TARGET);
    });

    it('asterisk-form (OPTIONS *)', async () => {
      expectRefused(await exchange(port, [`OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n`]), BAD_TARGET);
    });

    it('CONNECT to an upstream: 400 and the connection closed, no tunnel is opened', async () => {
      const answer = await exchange(port, [`CONNECT 127.0.0.1:${internal.port} HTTP/1.1\r\nHost: 127.0.0.1:${internal.port}\r\nX-Request-Id: connect-1\r\n\r\nGET /internal/secrets HTTP/1.1\r\nHost: x\r\n\r\n`]);
      expectRefused(answer, BAD_TARGET);
      expect(answer.headers['x-request-id']).toBe('connect-1');
      expect(answer.closed).toBe(true);
      // One answer only: the request written after CONNECT was never read.
      expect(answer.text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(internal.connections).toBe(0);
    });
  });

  describe('request smuggling and bad framing', () => {
    const SMUGGLED = 'GET /internal/secrets HTTP/1.1\r\nHost: x\r\n\r\n';
    it.each([
      ['CL.TE: Content-Length and Transfer-Encoding', `POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`],
      ['TE.CL: Transfer-Encoding first', `POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\n${SMUGGLED}\r\n0\r\n\r\n`],
      ['duplicate Content-Length, different values', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd'],
      ['duplicate Content-Length, same value', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'],
      ['Content-Length as a list', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4, 4\r\n\r\nabcd'],
      ['Content-Length with a sign', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: +4\r\n\r\nabcd'],
      ['negative Content-Length', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: -1\r\n\r\nabcd'],
      ['Content-Length in hex', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 0x4\r\n\r\nabcd'],
      ['Content-Length with trailing junk', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 4a\r\n\r\nabcd'],
      ['Transfer-Encoding: xchunked', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding: chunked, identity', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding: identity with Content-Length', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: identity\r\nContent-Length: 4\r\n\r\nabcd'],
      ['Transfer-Encoding twice', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n'],
      ['space before the colon (Transfer-Encoding :)', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding folded onto the next line', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
      ['invalid chunk size', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n'],
      ['chunk longer than its size', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n'],
      ['HTTP/2 preface on the HTTP/1.1 port', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
    ])('%s', async (_name, text) => {
      const answer = await exchange(port, [text]);
      expectRefused(answer, BAD_TARGET);
      expect(answer.headers.connection).toBe('close');
      expect(answer.closed).toBe(true);
    });

    it('a chunked body over maxBodyBytes is refused before anything is forwarded (413)', async () => {
      const chunk = 'a'.repeat(800);
      const text = `POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n320\r\n${chunk}\r\n320\r\n${chunk}\r\n0\r\n\r\n`;
      expectRefused(await exchange(port, [text]), { status: 413, code: 'PAYLOAD_TOO_LARGE' });
    });

    it('a transfer coding other than chunked is refused (400), not forwarded with its coding dropped', async () => {
      const text = 'POST /api/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
      const answer = await exchange(port, [text]);
      expectRefused(answer, BAD_TARGET);
      expect(JSON.parse(answer.body)).toMatchObject({ upstream: 'api', detail: expect.stringMatching(/chunked/) });
    });

    it('Expect: 100-continue with a Content-Length over maxBodyBytes gets 413 at once, never a 100 Continue', async () => {
      const answer = await exchange(port, ['POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n']);
      expect(answer.text.startsWith('HTTP/1.1 413 ')).toBe(true);
      expectRefused(answer, { status: 413, code: 'PAYLOAD_TOO_LARGE' });
    });

    it('Expect: 100-continue on an unknown route gets 404 at once, never a 100 Continue', async () => {
      const answer = await exchange(port, ['POST /nowhere HTTP/1.1\r\nHost: gw\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n']);
      expect(answer.text.startsWith('HTTP/1.1 404 ')).toBe(true);
      expectRefused(answer, { status: 404, code: 'ROUTE_NOT_FOUND' });
    });

    it('Expect: 100-continue within the limits: 100 Continue, then the body is read and forwarded', async () => {
      const answer = await exchange(port, ['POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n', [200, 'abc']]);
      expect(answer.text.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ')).toBe(true);
      expect(api.received.map((q) => [q.method, q.url, q.body])).toEqual([['POST', '/x', 'abc']]);
      expect(api.received[0]?.headers.expect).toBeUndefined();
      api.reset();
    });

    it('a Content-Length over maxBodyBytes is refused without reading the body (413)', async () => {
      expectRefused(await exchange(port, ['POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\nabc']), { status: 413, code: 'PAYLOAD_TOO_LARGE' });
    });
  });

  describe('the admin listener checks Host the same way', () => {
    it.each([
      ['missing Host on HTTP/1.1', 'GET /admin/breakers HTTP/1.1\r\n\r\n'],
      ['two Host headers', 'GET /admin/breakers HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: internal.example\r\n\r\n'],
    ])('%s gets a 400 problem, not Node\'s bare 400', async (_name, text) => {
      expectRefused(await exchange(Number(new URL(g.gw.adminUrl).port), [text]), BAD_TARGET);
    });

    it('HTTP/1.0 without Host is still served', async () => {
      const answer = await exchange(Number(new URL(g.gw.adminUrl).port), ['GET /admin/breakers HTTP/1.0\r\n\r\n']);
      expect(answer.status).toBe(200);
      expect((JSON.parse(answer.body) as { breakers: { name: string }[] }).breakers.map((b) => b.name)).toEqual(['api', 'internal']);
    });
  });

  describe('headers', () => {
    it.each([
      ['bare CR inside a header value', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note: a\rInjected: yes\r\n\r\n'],
      ['bare LF line endings', 'GET /api/x HTTP/1.1\nHost: gw\nX-Note: a\n\n'],
      ['NUL in a header value', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note: a\x00b\r\n\r\n'],
      ['control character in a header value', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note: a\x01b\r\n\r\n'],
      ['DEL in a header value', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note: a\x7fb\r\n\r\n'],
      ['obsolete line folding', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note: a\r\n b\r\n\r\n'],
      ['space in a header name', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX Note: a\r\n\r\n'],
      ['header line without a colon', 'GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Note\r\n\r\n'],
      ['empty header name', 'GET /api/x HTTP/1.1\r\nHost: gw\r\n: a\r\n\r\n'],
      ['missing Host on HTTP/1.1', 'GET /api/x HTTP/1.1\r\n\r\n'],
      ['two Host headers', 'GET /api/x HTTP/1.1\r\nHost: gw.example\r\nHost: internal.example\r\n\r\n'],
    ])('%s', async (_name, text) => {
      expectRefused(await exchange(port, [text]), BAD_TARGET);
    });

    it('an expectation other than 100-continue is ignored, not answered with a bare 417', async () => {
      const answer = await exchange(port, ['GET /api/x HTTP/1.1\r\nHost: gw\r\nExpect: something-else\r\n\r\n']);
      expect(answer.status).toBe(200);
      expect(api.received).toHaveLength(1);
      expect(api.received[0]?.headers.expect).toBeUndefined();
    });

    it(`headers over maxHeaderBytes (${MAX_HEADER_BYTES}) get 431`, async () => {
      const answer = await exchange(port, [`GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Padding: ${'p'.repeat(MAX_HEADER_BYTES + 100)}\r\n\r\n`]);
      expectRefused(answer, { status: 431, code: 'HEADERS_TOO_LARGE' });
      expect(answer.closed).toBe(true);
    });

    it('many small headers over maxHeaderBytes in total get 431', async () => {
      const many = Array.from({ length: 600 }, (_, i) => `X-H${i}: v\r\n`).join('');
      expectRefused(await exchange(port, [`GET /api/x HTTP/1.1\r\nHost: gw\r\n${many}\r\n`]), { status: 431, code: 'HEADERS_TOO_LARGE' });
    });
  });

  describe('bytes that are no HTTP after a complete request', () => {
    it.each([
      ['a body one byte longer than its Content-Length', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"amount":1}', ['POST', '/x', '{"amount":1']],
      ['junk after a keep-alive GET', 'GET /api/a HTTP/1.1\r\nHost: gw\r\n\r\nXX', ['GET', '/a', '']],
    ])('%s: the forwarded request gets its own answer (not a 400 saying nothing was sent), then the connection closes', async (_name, text, received) => {
      api.reset();
      const answer = await exchange(port, [text]);
      expect(answer.status).toBe(200);
      expect(api.received.map((q) => [q.method, q.url, q.body])).toEqual([received]);
      expect(answer.headers.connection).toBe('close');
      expect(answer.closed).toBe(true);
      api.reset();
    });
  });

  describe('requests the HTTP parser refuses keep their path and X-Request-Id where the bytes show them', () => {
    it.each([
      ['conflicting Content-Length and Transfer-Encoding', 'POST /api/x?secret=1 HTTP/1.1\r\nHost: gw\r\nX-Request-Id: keep-me-1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'INVALID_REQUEST', '/api/x', 'keep-me-1'],
      ['headers over maxHeaderBytes', `GET /api/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: keep-me-2\r\nX-Padding: ${'p'.repeat(MAX_HEADER_BYTES + 100)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE', '/api/x', 'keep-me-2'],
      ['a method Node does not know', 'FOO /internal/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: keep-me-3\r\n\r\n', 400, 'INVALID_REQUEST', '/internal/x', 'keep-me-3'],
      ['an invalid X-Request-Id is replaced, not kept', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nX-Request-Id: not valid!\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'INVALID_REQUEST', '/api/x', null],
    ])('%s', async (_name, text, status, code, instance, id) => {
      const answer = await exchange(port, [text]);
      expectRefused(answer, { status, code });
      const problem = JSON.parse(answer.body) as Record<string, unknown>;
      expect(problem.instance).toBe(instance);
      if (id) expect(problem.requestId).toBe(id);
      else expect(problem.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.headers['x-request-id']).toBe(problem.requestId);
      await waitFor(() => logLines.some((l) => l.requestId === problem.requestId), 1000, 'log line');
      expect(logLines.find((l) => l.requestId === problem.requestId)).toMatchObject({ req: { path: instance }, code, msg: 'client error' });
    });
  });

  describe('slow senders get 408 within about a second of the limit', () => {
    it(`slowloris: a header line every 150 ms (headersTimeoutMs ${HEADERS_TIMEOUT_MS})`, async () => {
      const drip: [number, string][] = Array.from({ length: 30 }, (_, i): [number, string] => [150, `X-Drip-${i}: y\r\n`]);
      const answer = await exchange(port, ['GET /api/x HTTP/1.1\r\nHost: gw\r\n', ...drip]);
      expectRefused(answer, { status: 408, code: 'REQUEST_TIMEOUT' });
      expect(answer.closed).toBe(true);
      expect(answer.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(answer.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1000 + answer.lostMs);
    });

    it('a request line that never ends', async () => {
      const drip: [number, string][] = Array.from({ length: 30 }, (): [number, string] => [150, 'a']);
      const answer = await exchange(port, ['GET /api/', ...drip]);
      expectRefused(answer, { status: 408, code: 'REQUEST_TIMEOUT' });
      expect(answer.elapsedMs).toBeLessThan(HEADERS_TIMEOUT_MS + 1000 + answer.lostMs);
    });

    it(`slow body: one byte every 150 ms (requestTimeoutMs ${REQUEST_TIMEOUT_MS}); the upstream sees nothing`, async () => {
      const drip: [number, string][] = Array.from({ length: 40 }, (): [number, string] => [150, 'x']);
      const answer = await exchange(port, ['POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n', ...drip]);
      expectRefused(answer, { status: 408, code: 'REQUEST_TIMEOUT' });
      expect(answer.closed).toBe(true);
      expect(answer.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(answer.elapsedMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1000 + answer.lostMs);
    });

    it('a 408 for a slow body carries the request\'s own X-Request-Id and path', async () => {
      const drip: [number, string][] = Array.from({ length: 40 }, (): [number, string] => [150, 'x']);
      const answer = await exchange(port, ['POST /api/slow-body HTTP/1.1\r\nHost: gw\r\nX-Request-Id: slow-1\r\nContent-Length: 100\r\n\r\n', ...drip]);
      expectRefused(answer, { status: 408, code: 'REQUEST_TIMEOUT' });
      expect(answer.headers['x-request-id']).toBe('slow-1');
      // The route is known by then, so the problem names its upstream (SPEC §4: "the upstream concerned").
      expect(JSON.parse(answer.body)).toMatchObject({ requestId: 'slow-1', instance: '/api/slow-body', upstream: 'api' });
      // One line for the request, with its answer: not a 'client error' line beside a 'request aborted' one.
      await waitFor(() => logLines.some((l) => l.requestId === 'slow-1'), 1000, 'log line');
      await sleep(50);
      expect(logLines.filter((l) => l.requestId === 'slow-1')).toEqual([
        expect.objectContaining({ req: { method: 'POST', path: '/api/slow-body' }, code: 'REQUEST_TIMEOUT', res: { status: 408 }, msg: 'request completed' }),
      ]);
    });

    it('a slow body never costs the upstream a breaker failure', async () => {
      const drip: [number, string][] = Array.from({ length: 30 }, (): [number, string] => [100, 'x']);
      await exchange(port, ['POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n', ...drip]);
      const stats = g.gw.registry.get('api').stats.snapshot();
      expect({ failures: stats.failures, timeouts: stats.timeouts }).toEqual({ failures: 0, timeouts: 0 });
    });
  });

  describe('methods', () => {
    it.each([
      ['unknown method', 'FOO /api/x HTTP/1.1\r\nHost: gw\r\n\r\n'],
      ['lower-case method', 'get /api/x HTTP/1.1\r\nHost: gw\r\n\r\n'],
      ['method with a separator', 'G(T /api/x HTTP/1.1\r\nHost: gw\r\n\r\n'],
      ['request line without a version', 'GET /api/x HTTP/9.9\r\nHost: gw\r\n\r\n'],
    ])('%s', async (_name, text) => {
      expectRefused(await exchange(port, [text]), BAD_TARGET);
    });

    it('a method the route does not allow gets 405 with Allow', async () => {
      const answer = await exchange(port, ['DELETE /internal/secrets HTTP/1.1\r\nHost: gw\r\n\r\n']);
      expectRefused(answer, { status: 405, code: 'METHOD_NOT_ALLOWED' });
      expect(answer.headers.allow).toBe('GET, HEAD');
    });

    it('TRACE on a GET-only route gets 405', async () => {
      expectRefused(await exchange(port, ['TRACE /internal/x HTTP/1.1\r\nHost: gw\r\n\r\n']), { status: 405, code: 'METHOD_NOT_ALLOWED' });
    });
  });

  describe('spoofed identity headers are replaced by what the gateway saw', () => {
    it('X-Forwarded-*, Forwarded and Host from an untrusted caller never reach the upstream', async () => {
      const reply = await request(g.url, '/api/who', {
        headers: {
          Host: 'internal.example',
          'X-Forwarded-For': '10.0.0.1, 6.6.6.6',
          'X-Forwarded-Proto': 'https',
          'X-Forwarded-Host': 'bank.example',
          Forwarded: 'for=6.6.6.6;proto=https;host=bank.example',
          'X-Real-IP': '6.6.6.6',
        },
      });
      expect(reply.status).toBe(200);
      const seen = api.received[0]?.headers ?? {};
      expect({
        host: seen.host,
        xff: seen['x-forwarded-for'],
        proto: seen['x-forwarded-proto'],
        xfh: seen['x-forwarded-host'],
        forwarded: seen.forwarded,
      }).toEqual({
        host: `127.0.0.1:${api.port}`, // the upstream's own, never the caller's
        xff: '127.0.0.1', // the peer the gateway saw, the caller's list dropped
        proto: 'http',
        xfh: 'internal.example', // the Host the gateway was sent, as seen
        forwarded: undefined,
      });
    });

    it('naming X-Forwarded-* in Connection cannot strip them', async () => {
      const answer = await exchange(port, ['GET /api/who HTTP/1.1\r\nHost: gw\r\nConnection: close, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id\r\n\r\n']);
      expect(answer.status).toBe(200);
      const seen = api.received[0]?.headers ?? {};
      expect({ xff: seen['x-forwarded-for'], proto: seen['x-forwarded-proto'], xfh: seen['x-forwarded-host'], id: seen['x-request-id'] }).toEqual({
        xff: '127.0.0.1',
        proto: 'http',
        xfh: 'gw',
        id: answer.headers['x-request-id'],
      });
    });

    it('hop-by-hop headers and those named in Connection are stripped', async () => {
      const answer = await exchange(port, ['GET /api/who HTTP/1.1\r\nHost: gw\r\nConnection: X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=999\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\nUpgrade: websocket\r\nTE: trailers\r\n\r\n']);
      expect(answer.status).toBe(200);
      const seen = api.received[0]?.headers ?? {};
      for (const name of ['x-secret-hop', 'keep-alive', 'proxy-authorization', 'upgrade', 'te']) expect({ name, value: seen[name] }).toEqual({ name, value: undefined });
    });

    it('an X-Request-Id that could inject into logs is replaced, not rejected', async () => {
      const answer = await exchange(port, ['GET /api/who HTTP/1.1\r\nHost: gw\r\nX-Request-Id: abc"}{"level":60,"msg":"forged\r\n\r\n']);
      expect(answer.status).toBe(200);
      const id = answer.headers['x-request-id'] ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(api.received[0]?.headers['x-request-id']).toBe(id);
    });
  });

  describe('__proto__ in configuration files', () => {
    const VALID = '"upstreams": {"a": {"url": "http://127.0.0.1:9"}}, "routes": [{"path": "/api", "upstream": "a"}]';
    it.each([
      ['at the top level', `{"__proto__": {"polluted": true}, ${VALID}}`, '__proto__: unknown key'],
      ['inside a section', `{"listen": {"__proto__": {"port": 1}}, ${VALID}}`, 'listen.__proto__: unknown key'],
      ['inside a route', '{"upstreams": {"a": {"url": "http://127.0.0.1:9"}}, "routes": [{"path": "/api", "upstream": "a", "__proto__": {"stripPrefix": true}}]}', 'routes[0].__proto__: unknown key'],
      ['as an upstream name', '{"upstreams": {"__proto__": {"url": "http://127.0.0.1:9"}}, "routes": [{"path": "/api", "upstream": "__proto__"}]}', `upstreams.__proto__: ${NAME_RULE}`],
    ])('JSON, %s: refused, naming the key, nothing polluted', (_name, text, issue) => {
      let error: unknown;
      try {
        parseConfigText(text, 'json');
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toContain(issue);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('port');
      expect(Object.prototype).not.toHaveProperty('stripPrefix');
    });

    it('YAML __proto__ and merge keys are unknown keys too', () => {
      const yaml = 'defaults: &d { polluted: true }\n__proto__:\n  polluted: true\n<<: *d\nupstreams:\n  a: { url: "http://127.0.0.1:9" }\nroutes:\n  - { path: /api, upstream: a }\n';
      expect(() => parseConfigText(yaml, 'yaml')).toThrow(ConfigError);
      try {
        parseConfigText(yaml, 'yaml');
      } catch (err) {
        expect((err as ConfigError).issues).toEqual(expect.arrayContaining(['__proto__: unknown key', '<<: unknown key']));
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  it('after all of the above, the gateway still serves and no upstream received a hostile request', async () => {
    const reply = await request(g.url, '/api/still-here');
    expect(reply.status).toBe(200);
    expect(api.received.map((r) => r.url)).toEqual(['/still-here']);
    expect(g.gw.state.inFlight).toBe(0);
  });
});

/**
 * The same hostile requests against an upstream of two targets, in each state a pair of
 * instances can be in (docs/failover.md): still refused, and neither target receives a byte
 * of them; hostile sticky cookies are read as absent, never as a way to pick a target.
 */
describe('hostile input with two targets', () => {
  const TOPOLOGIES: [string, (UpstreamMode | 'refuse')[]][] = [
    ['one target dead', ['refuse', { kind: 'ok' }]],
    ['one target hanging', [{ kind: 'hang' }, { kind: 'ok' }]],
    ['one target restarting mid-request', [{ kind: 'reset' }, { kind: 'ok' }]],
    ['both targets down', ['refuse', 'refuse']],
  ];
  const HOSTILE: [string, string, number][] = [
    ['CL.TE smuggling', 'POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/secret HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['a dot-dot segment', 'GET /api/../admin HTTP/1.1\r\nHost: gw\r\n\r\n', 400],
    ['an encoded slash', 'GET /api/a%2f..%2fb HTTP/1.1\r\nHost: gw\r\n\r\n', 400],
    ['a body over maxBodyBytes', `POST /api/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5000\r\n\r\n${'a'.repeat(100)}`, 413],
    ['absolute-form naming another host', 'GET http://169.254.169.254/latest HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n', 400],
  ];

  it.each(TOPOLOGIES)('%s: every hostile request is refused and reaches neither target', async (_name, modes) => {
    const ups = await Promise.all(modes.map(async (m) => (m === 'refuse' ? null : startUpstream({ mode: m }))));
    const urls = await Promise.all(ups.map(async (u) => (u ? u.url : `http://127.0.0.1:${await refusingPort()}`)));
    const gw = await startGateway(
      {
        upstreams: { api: { targets: urls.map((url) => ({ url })), timeoutMs: 500, sticky: { cookie: 'bw_api', onLost: 'fail' } } },
        routes: [{ path: '/api', upstream: 'api', maxBodyBytes: 1024 }],
      },
      { processMetrics: false },
    );
    try {
      const port = Number(new URL(gw.url).port);
      for (const [what, text, status] of HOSTILE) {
        const answer = await exchange(port, [text]);
        expect({ what, status: answer.status }).toEqual({ what, status });
        expect(JSON.parse(answer.body)).toMatchObject({ status, forwarded: false });
      }
      expect(ups.map((u) => u?.received.length ?? 0)).toEqual([0, 0]);
    } finally {
      await gw.close();
      await Promise.all(ups.map((u) => u?.close()));
    }
  });

  it('hostile sticky cookies are treated as absent: served by a balanced target with a new cookie, never SESSION_LOST, never a crash', async () => {
    const [a, b] = await Promise.all([startUpstream(), startUpstream()]);
    const gw = await startGateway(
      { upstreams: { api: { targets: [{ url: a.url }, { url: b.url }], sticky: { cookie: 'bw_api', onLost: 'fail' } } }, routes: [{ path: '/api', upstream: 'api' }] },
      { processMetrics: false },
    );
    try {
      const cookies = ['bw_api=', 'bw_api=.', 'bw_api=..', 'bw_api=%00.%00', `bw_api=${'A'.repeat(3000)}.x`, 'bw_api=__proto__.constructor', 'bw_api="quoted.0"', 'xbw_api=abc.0', 'bw_api'];
      for (const cookie of cookies) {
        const r = await request(gw.url, '/api/x', { headers: { cookie } });
        expect({ cookie, status: r.status }).toEqual({ cookie, status: 200 });
        expect(r.headers['set-cookie']?.[0]).toMatch(/^bw_api=[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+; Path=\/; HttpOnly; SameSite=Lax$/);
      }
      expect(a.received.length + b.received.length).toBe(cookies.length);
    } finally {
      await gw.close();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
