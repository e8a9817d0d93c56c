import { Writable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createIsoTime, createLogger, createTrafficRequestLog } from '../../src/server/logging';
import { RequestContext } from '../../src/server/request-context';

describe('createIsoTime', () => {
  it('formats exactly like Date#toISOString, across second, minute and year boundaries', () => {
    let t = 0;
    const iso = createIsoTime(() => t);
    const samples = [0, 7, 99, 100, 999, 1000, 1001, 59_999, 60_000, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), 1_795_656_421_534];
    for (const s of samples) {
      t = s;
      expect(iso()).toBe(`,"time":"${new Date(s).toISOString()}"`);
    }
  });

  it('reuses the cached second only while the second is the same', () => {
    let t = Date.UTC(2026, 10, 26, 1, 2, 3, 4);
    const iso = createIsoTime(() => t);
    expect(iso()).toBe(',"time":"2026-11-26T01:02:03.004Z"');
    t += 990;
    expect(iso()).toBe(',"time":"2026-11-26T01:02:03.994Z"');
    t += 10;
    expect(iso()).toBe(',"time":"2026-11-26T01:02:04.004Z"');
  });
});

describe('traffic request lines', () => {
  function capture(): { lines: string[]; stream: Writable } {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    return { lines, stream };
  }

  it('still redacts secrets on the process logger while the request line skips the redaction pass', async () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    const observe = createTrafficRequestLog(logger);
    logger.info({ req: { headers: { authorization: 'Bearer s3cret', cookie: 'a=b' } } }, 'debug line');
    const req = { method: 'GET' } as IncomingMessage;
    const res = { writableFinished: true, statusCode: 200 } as ServerResponse;
    const ctx = Object.assign(new RequestContext('r-1', 0), { path: '/api/x', route: '/api', upstream: 'u', breaker: 'closed' as const });
    observe(ctx, req, res);
    await new Promise((r) => setImmediate(r));
    const [debug, request] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(JSON.stringify(debug)).not.toContain('s3cret');
    expect(JSON.stringify(debug)).not.toContain('a=b');
    expect(request).toMatchObject({ level: 30, service: 'breakwater', requestId: 'r-1', req: { method: 'GET', path: '/api/x' }, route: '/api', upstream: 'u', breaker: 'closed', res: { status: 200 }, msg: 'request completed' });
    expect(typeof request?.time).toBe('string');
    expect(new Date(request?.time as string).toISOString()).toBe(request?.time);
  });
});
