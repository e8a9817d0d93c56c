/**
 * Several targets behind one upstream (README "Failover", docs/failover.md): balancing,
 * retries on another target within the rules and the budget, and what callers see. Real
 * upstreams on port 0; a "dead" target is a port that refuses or a server that was closed.
 */
import { expectProblem, request, sleep, startGateway, type Reply, type StartedGateway } from '../helpers/gateway';
import { refusingPort, startUpstream, type ControlledUpstream } from '../helpers/upstream';

type Raw = Record<string, unknown>;

function twoTargets(a: string, b: string, upstream: Raw = {}, rest: Raw = {}): Raw {
  return {
    upstreams: { business: { targets: [{ url: a, name: 'b1' }, { url: b, name: 'b2' }], ...upstream } },
    routes: [{ path: '/api', upstream: 'business' }],
    ...rest,
  };
}

describe('failover across targets', () => {
  let a: ControlledUpstream;
  let b: ControlledUpstream;
  let g: StartedGateway | undefined;
  beforeEach(async () => {
    a = await startUpstream();
    b = await startUpstream();
  });
  afterEach(async () => {
    await g?.close();
    g = undefined;
    await a.close();
    await b.close();
  });

  it('least-request spreads requests over both targets', async () => {
    g = await startGateway(twoTargets(a.url, b.url));
    for (let i = 0; i < 40; i++) expect((await request(g.url, `/api/${i}`)).status).toBe(200);
    expect(a.received.length + b.received.length).toBe(40);
    expect(a.received.length).toBeGreaterThan(5);
    expect(b.received.length).toBeGreaterThan(5);
  });

  it('round-robin alternates', async () => {
    g = await startGateway(twoTargets(a.url, b.url, { balance: 'round-robin' }));
    for (let i = 0; i < 6; i++) await request(g.url, `/api/${i}`);
    expect(a.received.map((r) => r.url)).toEqual(['/api/0', '/api/2', '/api/4']);
    expect(b.received.map((r) => r.url)).toEqual(['/api/1', '/api/3', '/api/5']);
  });

  it('a refusing target costs no caller an error, GET or POST without a key: nothing was forwarded there', async () => {
    const dead = `http://127.0.0.1:${await refusingPort()}`;
    g = await startGateway(twoTargets(dead, b.url, { balance: 'round-robin', breaker: { volumeThreshold: 1000 } }));
    const replies = await Promise.all(Array.from({ length: 20 }, (_v, i) => request(g!.url, `/api/${i}`, i % 2 ? { method: 'POST', body: `{"n":${i}}`, headers: { 'content-type': 'application/json' } } : {})));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(b.received).toHaveLength(20);
    // Each POST arrived exactly once.
    const posts = b.received.filter((r) => r.method === 'POST').map((r) => r.body).sort();
    expect(new Set(posts).size).toBe(10);
  });

  it('a target killed under load (50 concurrent callers, GET and POST): no caller whose request never reached it gets an error, and no POST arrives twice', async () => {
    g = await startGateway(twoTargets(a.url, b.url, { breaker: { volumeThreshold: 1000 } }));
    const replies: { reply: Reply; method: string; id: string }[] = [];
    let n = 0;
    let stop = false;
    const caller = async (c: number): Promise<void> => {
      while (!stop) {
        const id = `${c}-${n++}`;
        const method = n % 2 ? 'POST' : 'GET';
        const reply = await request(g!.url, `/api/${id}`, method === 'POST' ? { method, body: id } : {});
        replies.push({ reply, method, id });
      }
    };
    const callers = Array.from({ length: 50 }, (_v, c) => caller(c));
    await sleep(300);
    const killedAt = replies.length;
    await a.close();
    await sleep(500);
    stop = true;
    await Promise.all(callers);
    expect(replies.length).toBeGreaterThan(killedAt + 50);
    const errors = replies.filter((r) => r.reply.status !== 200);
    // Only a request that was on its way to the target when it died may fail, and only as
    // "forwarded" (it may have been processed): never a GET (retried), never a later request.
    for (const e of errors) {
      expect(e.method).toBe('POST');
      expect(e.reply.json).toMatchObject({ code: 'UPSTREAM_CONNECTION_LOST', forwarded: true, retryable: false, attempts: 1 });
    }
    expect(errors.length).toBeLessThanOrEqual(50);
    const sent = [...a.received, ...b.received].filter((r) => r.method === 'POST').map((r) => r.body);
    expect(sent.length).toBe(new Set(sent).size);
  });

  it('a target hanging on a POST gives exactly one UPSTREAM_TIMEOUT and nothing reaches the other target', async () => {
    a.setMode({ kind: 'hang' });
    g = await startGateway(twoTargets(a.url, b.url, { balance: 'round-robin', timeoutMs: 300 }));
    const r = await request(g.url, '/api/loans', { method: 'POST', body: '{"amount":1}' });
    expectProblem(r, { status: 504, code: 'UPSTREAM_TIMEOUT', forwarded: true, retryable: false, upstream: 'business' });
    expect(r.json).toMatchObject({ attempts: 1 });
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(0);
  });

  it('a hanging target: a GET is retried on the other only with onTimeout: true', async () => {
    a.setMode({ kind: 'hang' });
    g = await startGateway(twoTargets(a.url, b.url, { balance: 'round-robin', timeoutMs: 300 }));
    const r = await request(g.url, '/api/x');
    expect(r.status).toBe(504);
    expect(b.received).toHaveLength(0);
    await g.close();
    g = await startGateway(twoTargets(a.url, b.url, { balance: 'round-robin', timeoutMs: 300, retry: { onTimeout: true } }));
    const r2 = await request(g.url, '/api/y');
    expect(r2.status).toBe(200);
    expect(b.received.map((x) => x.url)).toEqual(['/api/y']);
  });

  it('a failureStatuses answer is retried for a GET and a keyed POST, passed through for a POST without a key', async () => {
    a.setMode({ kind: 'status', status: 503 });
    g = await startGateway(twoTargets(a.url, b.url, { balance: 'round-robin', breaker: { volumeThreshold: 1000 } }));
    for (let i = 0; i < 4; i++) expect((await request(g.url, `/api/get-${i}`)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await request(g.url, `/api/keyed-${i}`, { method: 'POST', body: 'k', headers: { 'idempotency-key': `k-${i}` } })).status).toBe(200);
    const plain = [];
    for (let i = 0; i < 4; i++) plain.push(await request(g.url, `/api/plain-${i}`, { method: 'POST', body: 'p' }));
    const atA = new Set(a.received.map((r) => r.url));
    const atB = b.received.map((r) => r.url);
    expect(atB.length).toBe(new Set(atB).size); // nothing twice at b
    plain.forEach((r, i) => {
      const url = `/api/plain-${i}`;
      if (atA.has(url)) {
        // Sent once, to the failing target, never again: the upstream's own answer passes through.
        expect(r.status).toBe(503);
        expect(r.json).toMatchObject({ status: 503, error: 'injected' });
        expect(atB).not.toContain(url);
      } else {
        expect(r.status).toBe(200);
      }
    });
    expect(plain.some((r) => r.status === 503)).toBe(true);
    // Every GET and keyed POST that met the failing target was answered by the other one.
    for (const url of atA) if (!url.includes('plain')) expect(atB).toContain(url);
  });

  it('attempts never exceed retry.attempts, each at a different target; the problem says how many were tried', async () => {
    const dead = [await refusingPort(), await refusingPort(), await refusingPort()].map((p) => ({ url: `http://127.0.0.1:${p}` }));
    g = await startGateway({
      upstreams: { business: { targets: dead, retry: { attempts: 2 }, breaker: { volumeThreshold: 1000 } } },
      routes: [{ path: '/api', upstream: 'business' }],
    });
    const r = await request(g.url, '/api/x', { method: 'POST', body: 'x' });
    const body = expectProblem(r, { status: 502, code: 'UPSTREAM_UNREACHABLE', forwarded: false, retryable: true, upstream: 'business' });
    expect(body.attempts).toBe(2);
  });

  it('the budget holds retries to max(minRetryConcurrency, budgetPercent of requests in flight) when both targets fail', async () => {
    // Slow failures, so that all 20 first attempts are in flight together and fail together.
    a.setMode({ kind: 'status', status: 503, delayMs: 300 });
    b.setMode({ kind: 'status', status: 503, delayMs: 300 });
    g = await startGateway(twoTargets(a.url, b.url, {
      retry: { attempts: 2, budgetPercent: 10, minRetryConcurrency: 2 },
      breaker: { volumeThreshold: 1000 },
    }));
    const replies = await Promise.all(Array.from({ length: 20 }, (_v, i) => request(g!.url, `/api/${i}`)));
    expect(replies.every((r) => r.status === 503)).toBe(true);
    const total = a.received.length + b.received.length;
    // 20 first attempts; retries while 20 were in flight: at most max(2, 10 % of 20) = 2 at a
    // time. They all fail within a few ms of each other, so few more can follow.
    expect(total).toBeGreaterThanOrEqual(20);
    expect(total).toBeLessThanOrEqual(20 + 6);
    const text = await (await fetch(`${g.gw.adminUrl}/metrics`)).text();
    const refusals = Number(/breakwater_retry_budget_refusals_total\{upstream="business"\} (\d+)/.exec(text)?.[1] ?? 'NaN');
    const retries = text.split('\n').filter((l) => l.startsWith('breakwater_retries_total{')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    expect(retries).toBe(total - 20);
    expect(refusals).toBe(20 - retries);
  });

  it('an upstream is open only when every target is; a target forced open takes no new requests', async () => {
    g = await startGateway(twoTargets(a.url, b.url));
    const u = g.gw.registry.get('business');
    (u.target('b1') as NonNullable<ReturnType<typeof u.target>>).breaker.forceOpen('test');
    for (let i = 0; i < 6; i++) expect((await request(g.url, `/api/${i}`)).status).toBe(200);
    expect(a.received).toHaveLength(0);
    expect(b.received).toHaveLength(6);
    expect(u.breaker.state().value).toBe('closed');
    u.breaker.forceOpen('test');
    const r = await request(g.url, '/api/x');
    expectProblem(r, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'business' });
  });
});
