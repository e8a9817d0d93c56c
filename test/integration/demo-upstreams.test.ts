import http from 'node:http';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseConfigText } from '../../src/config/load';
import { DEMO_CONFIG_PATH, DEMO_PORTS, startDemoUpstream, startDemoUpstreams, type DemoUpstream } from '../../src/demo';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  text: string;
}

/** One request on its own connection (no agent), so nothing is left open between tests. */
function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 5000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(new URL(path, base), {
      method,
      agent: false,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch {
          /* left empty; the test looks at text */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

describe('demo upstreams', () => {
  let demo: Awaited<ReturnType<typeof startDemoUpstreams>>;
  let business: DemoUpstream;
  let bureau: DemoUpstream;
  let archive: DemoUpstream;

  beforeAll(async () => {
    demo = await startDemoUpstreams('127.0.0.1', { business: 0, 'credit-bureau': 0, archive: 0, identity: 0 });
    [business, bureau, archive] = demo.upstreams as [DemoUpstream, DemoUpstream, DemoUpstream];
  });
  afterAll(() => demo.close());
  afterEach(async () => {
    for (const u of [business, bureau, archive]) await call(u.url, 'PUT', '/_demo/mode', { mode: 'ok', delayMs: 3000 });
  });

  it('reports the real port when started on port 0', () => {
    expect(demo.upstreams.map((u) => u.name)).toEqual(['business', 'credit-bureau', 'archive', 'identity', 'business-2']);
    for (const u of demo.upstreams) {
      expect(u.port).toBeGreaterThan(0);
      expect(u.url).toBe(`http://127.0.0.1:${u.port}`);
    }
    expect(new Set(demo.upstreams.map((u) => u.port)).size).toBe(5);
  });

  describe('business', () => {
    it('GET /loans lists three loans', async () => {
      const res = await call(business.url, 'GET', '/loans');
      expect(res.status).toBe(200);
      expect(res.headers['x-demo-upstream']).toBe('business');
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const items = res.body.items as Record<string, unknown>[];
      expect(items).toHaveLength(3);
      expect(items[0]).toMatchObject({ id: '1001', product: 'Capitex Företagslån', currency: 'SEK', orgNumber: expect.stringMatching(/^\d{6}-\d{4}$/) });
    });

    it('GET /loans/:id answers one loan, or 404', async () => {
      const res = await call(business.url, 'GET', '/loans/1002');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: '1002', amountSek: 750000, borrower: expect.any(String) });
      const missing = await call(business.url, 'GET', '/loans/999');
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ error: 'not_found', upstream: 'business' });
    });

    it('POST /loans creates a loan (201) and PUT /loans/:id updates it', async () => {
      const created = await call(business.url, 'POST', '/loans', { orgNumber: '556900-1232', amountSek: 1200000, purpose: 'Skördetröska' });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ orgNumber: '556900-1232', amountSek: 1200000, purpose: 'Skördetröska', status: 'pending', id: expect.any(String) });
      const id = created.body.id as string;
      expect(created.headers.location).toBe(`/loans/${id}`);

      const updated = await call(business.url, 'PUT', `/loans/${id}`, { status: 'approved', interestRatePercent: 5.2 });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ id, status: 'approved', interestRatePercent: 5.2, amountSek: 1200000 });
      expect((await call(business.url, 'GET', `/loans/${id}`)).body).toMatchObject({ status: 'approved' });
      expect((await call(business.url, 'PUT', '/loans/999', { status: 'x' })).status).toBe(404);
    });

    it('POST /loan-applications decides (201), and validates its input (400)', async () => {
      const res = await call(business.url, 'POST', '/loan-applications', { orgNumber: '5566778899', amountSek: 500000 });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ orgNumber: '556677-8899', decision: expect.stringMatching(/^(approved|referred|declined)$/), riskClass: expect.any(Number) });
      expect((await call(business.url, 'POST', '/loan-applications', { orgNumber: '556677-8898', amountSek: 1 })).status).toBe(400);
      expect((await call(business.url, 'POST', '/loan-applications', { orgNumber: '556677-8899' })).status).toBe(400);
    });

    it('serves the same resources under /api (what the demo gateway forwards)', async () => {
      expect((await call(business.url, 'GET', '/api/loans/1001')).body).toMatchObject({ id: '1001' });
      expect((await call(business.url, 'POST', '/api/loan-applications', { orgNumber: '556677-8899', amountSek: 10 })).status).toBe(201);
    });

    it('answers bad JSON with 400, unknown paths with 404 and wrong methods with 405', async () => {
      const bad = await call(business.url, 'POST', '/loans', '{"orgNumber": ');
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ error: 'invalid_json' });
      const unknown = await call(business.url, 'GET', '/nope');
      expect(unknown.status).toBe(404);
      expect(unknown.headers['x-demo-upstream']).toBe('business');
      expect(unknown.body).toMatchObject({ error: 'not_found' });
      const wrong = await call(business.url, 'DELETE', '/loans/1001');
      expect(wrong.status).toBe(405);
      expect(wrong.headers.allow).toContain('PUT');
    });

    it('reads bodies up to 1 MiB and refuses larger ones with 413', async () => {
      const content = 'x'.repeat(1024 * 1024 - 100);
      expect((await call(archive.url, 'POST', '/documents', { title: 'Stor bilaga', content })).status).toBe(201);
      const tooLarge = await call(archive.url, 'POST', '/documents', { title: 'För stor', content: `${content}${'y'.repeat(200)}` });
      expect(tooLarge.status).toBe(413);
    });
  });

  describe('credit-bureau', () => {
    it('GET /reports/:orgNumber answers a deterministic credit report', async () => {
      const res = await call(bureau.url, 'GET', '/reports/556677-8899');
      expect(res.status).toBe(200);
      expect(res.headers['x-demo-upstream']).toBe('credit-bureau');
      expect(res.body).toMatchObject({ orgNumber: '556677-8899', name: 'Norrlandsbygg i Umeå AB', score: expect.any(Number) });
      expect([1, 2, 3, 4, 5]).toContain(res.body.riskClass);
      const again = await call(bureau.url, 'GET', '/api/credit-reports/5566778899');
      expect(again.body).toMatchObject({ orgNumber: '556677-8899', riskClass: res.body.riskClass, score: res.body.score });
    });

    it('refuses an invalid organisation number with 400', async () => {
      const res = await call(bureau.url, 'GET', '/reports/123');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'validation_failed', upstream: 'credit-bureau' });
    });
  });

  describe('archive', () => {
    it('GET /documents/:id answers a document, or 404', async () => {
      const res = await call(archive.url, 'GET', '/documents/D-5001');
      expect(res.status).toBe(200);
      expect(res.headers['x-demo-upstream']).toBe('archive');
      expect(res.body).toMatchObject({ id: 'D-5001', title: 'Årsredovisning 2023', contentType: 'application/pdf' });
      expect((await call(archive.url, 'GET', '/documents/D-1')).status).toBe(404);
    });

    it('POST /documents archives a document (201)', async () => {
      const res = await call(archive.url, 'POST', '/documents', { title: 'Kontoutdrag Q1', loanId: '1002', contentType: 'text/plain', content: 'hej' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ title: 'Kontoutdrag Q1', loanId: '1002', sizeBytes: 3, id: expect.stringMatching(/^D-\d+$/) });
      const id = res.body.id as string;
      expect((await call(archive.url, 'GET', `/documents/${id}`)).body).toMatchObject({ id, title: 'Kontoutdrag Q1' });
      expect((await call(archive.url, 'POST', '/documents', { loanId: '1' })).status).toBe(400);
    });
  });

  describe('control', () => {
    it('GET /_demo/mode answers the current mode', async () => {
      const res = await call(business.url, 'GET', '/_demo/mode');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ mode: 'ok', delayMs: 3000 });
      expect(res.headers['x-demo-upstream']).toBe('business');
    });

    it('PUT /_demo/mode with a JSON body switches to fail: business requests and health answer 503', async () => {
      const put = await call(business.url, 'PUT', '/_demo/mode', { mode: 'fail' });
      expect(put.status).toBe(200);
      expect(put.body).toEqual({ mode: 'fail', delayMs: 3000 });
      const res = await call(business.url, 'GET', '/loans');
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ error: 'simulated_failure', upstream: 'business' });
      const health = await call(business.url, 'GET', '/health');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ status: 'down', name: 'business' });
      // Other upstreams are unaffected.
      expect((await call(bureau.url, 'GET', '/reports/556677-8899')).status).toBe(200);
      // Control keeps working in every mode.
      expect((await call(business.url, 'GET', '/_demo/mode')).body).toEqual({ mode: 'fail', delayMs: 3000 });
    });

    it('the bodyless POST query form switches too; down answers 503', async () => {
      const post = await call(archive.url, 'POST', '/_demo/mode?mode=down');
      expect(post.status).toBe(200);
      expect(post.body).toEqual({ mode: 'down', delayMs: 3000 });
      expect((await call(archive.url, 'GET', '/documents/D-5001')).status).toBe(503);
      expect((await call(archive.url, 'GET', '/health')).status).toBe(503);
      await call(archive.url, 'POST', '/_demo/mode?mode=ok');
      expect((await call(archive.url, 'GET', '/documents/D-5001')).status).toBe(200);
      expect((await call(archive.url, 'GET', '/health')).body).toMatchObject({ status: 'up' });
    });

    it('slow answers after at least delayMs, while health stays immediate', async () => {
      await call(bureau.url, 'POST', '/_demo/mode?mode=slow&delayMs=400');
      expect((await call(bureau.url, 'GET', '/_demo/mode')).body).toEqual({ mode: 'slow', delayMs: 400 });
      const started = Date.now();
      const res = await call(bureau.url, 'GET', '/reports/556677-8899');
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(395);
      const healthStarted = Date.now();
      const heldHealth = stalls.mark();
      expect((await call(bureau.url, 'GET', '/health')).status).toBe(200);
      expect(Date.now() - healthStarted).toBeLessThan(300 + stalls.lostSince(heldHealth));
    });

    it('hang never answers business requests nor health, and close() still completes quickly', async () => {
      const solo = await startDemoUpstream({ name: 'hanging', host: '127.0.0.1', port: 0, kind: 'business' });
      const put = await call(solo.url, 'PUT', '/_demo/mode', { mode: 'hang' });
      expect(put.body).toMatchObject({ mode: 'hang' });
      await expect(call(solo.url, 'GET', '/loans', undefined, 300)).rejects.toThrow(/no answer within 300 ms/);
      await expect(call(solo.url, 'GET', '/health', undefined, 300)).rejects.toThrow(/no answer within 300 ms/);
      expect((await call(solo.url, 'GET', '/_demo/mode')).body).toMatchObject({ mode: 'hang' });

      // A request still hanging when close() is called is cut off, not waited for.
      const pending = call(solo.url, 'GET', '/loans/1001', undefined, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const held = stalls.mark();
      await solo.close();
      expect(Date.now() - started).toBeLessThan(500 + stalls.lostSince(held));
      await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
      await solo.close(); // idempotent
    });

    it('close() also cuts a request waiting in slow mode', async () => {
      const solo = await startDemoUpstream({ name: 'slowpoke', host: '127.0.0.1', port: 0, kind: 'archive' });
      await call(solo.url, 'PUT', '/_demo/mode', { mode: 'slow', delayMs: 60000 });
      const pending = call(solo.url, 'GET', '/documents/D-5001', undefined, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      const held = stalls.mark();
      await solo.close();
      expect(Date.now() - started).toBeLessThan(500 + stalls.lostSince(held));
      await expect(pending).rejects.toThrow();
    });

    it('health answers up with a stable instanceId; POST /_demo/restart changes it', async () => {
      const first = await call(business.url, 'GET', '/health');
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ status: 'up', name: 'business', instanceId: expect.any(String) });
      expect((await call(business.url, 'GET', '/health')).body.instanceId).toBe(first.body.instanceId);
      const restart = await call(business.url, 'POST', '/_demo/restart');
      expect(restart.status).toBe(200);
      expect(restart.body).toMatchObject({ previousInstanceId: first.body.instanceId });
      const after = await call(business.url, 'GET', '/health');
      expect(after.body.instanceId).toBe(restart.body.instanceId);
      expect(after.body.instanceId).not.toBe(first.body.instanceId);
      // Each upstream has its own instance id.
      expect((await call(bureau.url, 'GET', '/health')).body.instanceId).not.toBe(after.body.instanceId);
    });

    it.each([
      ['an unknown mode in the body', 'PUT', '/_demo/mode', { mode: 'broken' }],
      ['an unknown mode in the query', 'POST', '/_demo/mode?mode=broken', undefined],
      ['a negative delay', 'PUT', '/_demo/mode', { mode: 'slow', delayMs: -1 }],
      ['a fractional delay', 'POST', '/_demo/mode?mode=slow&delayMs=1.5', undefined],
      ['an unknown member', 'PUT', '/_demo/mode', { mood: 'fail' }],
      ['a body that is not an object', 'PUT', '/_demo/mode', '"fail"'],
      ['malformed JSON', 'PUT', '/_demo/mode', '{"mode":'],
      ['nothing at all', 'PUT', '/_demo/mode', undefined],
    ])('refuses %s with 400 naming the allowed values', async (_label, method, path, body) => {
      const res = await call(business.url, method, path, body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_mode', allowed: { mode: ['ok', 'fail', 'hang', 'slow', 'down'] } });
      expect(res.body.message).toMatch(/ok, fail, hang, slow, down/);
      expect((await call(business.url, 'GET', '/_demo/mode')).body).toEqual({ mode: 'ok', delayMs: 3000 });
    });

    it('refuses wrong methods on control endpoints with 405', async () => {
      expect((await call(business.url, 'DELETE', '/_demo/mode')).status).toBe(405);
      expect((await call(business.url, 'GET', '/_demo/restart')).status).toBe(405);
    });
  });
});

describe('startDemoUpstreams', () => {
  it('closes the upstreams it started when one port is taken', async () => {
    const blocker = await startDemoUpstream({ name: 'blocker', host: '127.0.0.1', port: 0, kind: 'archive' });
    try {
      await expect(startDemoUpstreams('127.0.0.1', { business: 0, 'credit-bureau': 0, archive: blocker.port, identity: 0 })).rejects.toThrow(/archive.*cannot listen/);
    } finally {
      await blocker.close();
    }
  });

  it('defaults to the ports of the demo configuration', () => {
    expect(DEMO_PORTS).toEqual({ business: 9001, 'credit-bureau': 9002, archive: 9003, identity: 9004, 'business-2': 9005 });
  });
});

describe('demo-config.yaml', () => {
  const text = readFileSync(DEMO_CONFIG_PATH, 'utf8');

  it('is found at DEMO_CONFIG_PATH', () => {
    expect(DEMO_CONFIG_PATH).toMatch(/src[\\/]demo[\\/]demo-config\.yaml$/);
  });

  it('parses as YAML with the demo upstreams and routes', () => {
    const raw = parseYaml(text) as {
      listen: unknown;
      admin: { token: string };
      upstreams: Record<string, { url?: string; targets?: { url: string; name: string }[]; healthCheck: Record<string, unknown> }>;
      routes: { path: string; upstream: string; requires?: string[] }[];
    };
    expect(raw.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(raw.admin.token).toBe('${ADMIN_TOKEN:-}');
    expect(Object.keys(raw.upstreams)).toEqual(['business', 'credit-bureau', 'archive', 'identity']);
    // The business layer runs as two instances: the demo upstreams "business" and "business-2".
    expect(raw.upstreams.business?.targets).toEqual([
      { url: `http://127.0.0.1:${DEMO_PORTS.business}`, name: 'business-1' },
      { url: `http://127.0.0.1:${DEMO_PORTS['business-2']}`, name: 'business-2' },
    ]);
    for (const [name, u] of Object.entries(raw.upstreams)) {
      if (name !== 'business') expect(u.url).toBe(`http://127.0.0.1:${DEMO_PORTS[name as keyof typeof DEMO_PORTS]}`);
      expect(u.healthCheck).toEqual({ path: '/health', intervalMs: 1000, timeoutMs: 500, unhealthyThreshold: 2, healthyThreshold: 1 });
    }
    expect(raw.routes.map((r) => [r.path, r.upstream])).toEqual([
      ['/api/loans', 'business'],
      ['/api/loan-applications', 'business'],
      ['/api/credit-reports', 'credit-bureau'],
      ['/api/documents', 'archive'],
      ['/queued', 'business'],
      ['/app', 'business'],
      ['/api/session', 'business'],
      ['/api/cases', 'business'],
      ['/auth', 'identity'],
    ]);
    expect(raw.routes.find((r) => r.path === '/api/loan-applications')?.requires).toEqual(['credit-bureau']);
  });

  it('is a valid gateway configuration', () => {
    const config = parseConfigText(text, 'yaml', {});
    expect(config.admin.token).toBe('');
    expect(config.upstreams.map((u) => [u.name, u.timeoutMs, u.breaker.volumeThreshold])).toEqual([
      ['business', 2000, 3],
      ['credit-bureau', 2000, 3],
      ['archive', 2000, 3],
      ['identity', 2000, 3],
    ]);
    expect(parseConfigText(text, 'yaml', { ADMIN_TOKEN: '123456' }).admin.token).toBe('123456');
  });

  it('maps every route onto paths the demo upstreams serve', async () => {
    const config = parseConfigText(text, 'yaml', {});
    const demo = await startDemoUpstreams('127.0.0.1', { business: 0, 'credit-bureau': 0, archive: 0, identity: 0 });
    try {
      const urlOf = (name: string) => demo.upstreams.find((u) => u.name === name)?.url ?? '';
      const examples: [string, string, unknown?][] = [
        ['GET', '/api/loans'],
        ['POST', '/api/loans', { orgNumber: '556447-8120', amountSek: 300000 }],
        ['GET', '/api/loans/1001'],
        ['PUT', '/api/loans/1001', { status: 'active' }],
        ['POST', '/api/loan-applications', { orgNumber: '556447-8120', amountSek: 300000 }],
        ['GET', '/api/credit-reports/556447-8120'],
        ['GET', '/api/documents/D-5002'],
        ['POST', '/api/documents', { title: 'Offert', content: 'x' }],
        ['POST', '/auth/login', { username: 'demo', password: 'demo' }],
        ['POST', '/queued/api/loan-applications', { orgNumber: '556447-8120', amountSek: 300000 }],
      ];
      for (const [method, path, body] of examples) {
        // Longest prefix on whole segments, as the gateway matches (SPEC §3).
        const route = [...config.routes]
          .filter((r) => path === r.path || path.startsWith(`${r.path}/`))
          .sort((a, b) => b.path.length - a.path.length)[0];
        expect(route).toBeDefined();
        expect(route?.methods ?? [method]).toContain(method);
        const upstreamPath = route?.stripPrefix ? path.slice(route.path.length) || '/' : path;
        const res = await call(urlOf(route?.upstream ?? ''), method, upstreamPath, body);
        expect(`${method} ${path} → ${upstreamPath}: ${res.status}`).toMatch(/: 2\d\d$/);
      }
    } finally {
      await demo.close();
    }
  });
});
