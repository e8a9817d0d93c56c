/**
 * SPEC §5 breakers through real traffic: failureStatuses answers open the breaker (and still
 * pass through unchanged), an open breaker refuses at once with CIRCUIT_OPEN, after
 * resetTimeoutMs exactly one trial call goes through, its success closes the breaker and its
 * failure re-opens it. 4xx answers and callers going away never count.
 */
import type { UpstreamBreaker } from '../../src/upstreams/upstream';
import { expectProblem, oneRoute, request, sleep, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

const RESET_MS = 250;

describe('breaker cycle through real traffic', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;
  let breaker: UpstreamBreaker;

  beforeEach(async () => {
    upstream = await startUpstream();
    g = await startGateway(
      oneRoute(upstream.url, {
        timeoutMs: 2000,
        breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: RESET_MS, rollingWindowMs: 10000 },
      }),
    );
    breaker = g.gw.registry.get('backend').breaker;
  });
  afterEach(async () => {
    await g.close();
    await upstream.close();
  });

  /** Opens the breaker with three 500s, each passed through unchanged. */
  async function trip(): Promise<void> {
    upstream.setMode({ kind: 'status', status: 500 });
    for (let i = 0; i < 3; i++) {
      const r = await request(g.url, `/api/fail/${i}`);
      expect(r.status).toBe(500);
    }
    expect(breaker.state().value).toBe('open');
  }

  it('a failureStatuses answer passes through unchanged (status, headers, body) while it counts as a failure', async () => {
    upstream.setMode({ kind: 'status', status: 503 });
    const r = await request(g.url, '/api/x');
    expect(r.status).toBe(503);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({ status: 503, error: 'injected' });
    expect(g.gw.registry.get('backend').stats.snapshot().failures).toBe(1);
  });

  it('opens after failures past the threshold; then refuses at once with CIRCUIT_OPEN, Retry-After ≥ 1, nothing sent', async () => {
    await trip();
    upstream.reset();
    const started = Date.now();
    const held = stalls.mark();
    const r = await request(g.url, '/api/x', { method: 'POST', body: '{}' });
    expect(Date.now() - started).toBeLessThan(1000 + stalls.lostSince(held)); // far below timeoutMs (2000): not even attempted
    const body = expectProblem(r, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'backend' });
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(body.retryAfterSeconds).toBe(Number(r.headers['retry-after']));
    expect(upstream.received).toHaveLength(0);
  });

  it('open → half-open after resetTimeoutMs → a successful trial closes it', async () => {
    const transitions: string[] = [];
    breaker.on('transition', (t) => transitions.push(`${t.from}>${t.to}`));
    await trip();
    upstream.setMode({ kind: 'ok' });
    await waitFor(() => breaker.state().value === 'half-open', RESET_MS + 500, 'half-open');
    upstream.reset();
    const trial = await request(g.url, '/api/trial');
    expect(trial.status).toBe(200);
    expect(breaker.state().value).toBe('closed');
    const after = await request(g.url, '/api/after');
    expect(after.status).toBe(200);
    expect(upstream.received.map((q) => q.url)).toEqual(['/api/trial', '/api/after']);
    expect(transitions).toEqual(['closed>open', 'open>half-open', 'half-open>closed']);
  });

  it('a failed trial re-opens it at once', async () => {
    await trip();
    await waitFor(() => breaker.state().value === 'half-open', RESET_MS + 500, 'half-open');
    upstream.reset();
    const trial = await request(g.url, '/api/trial');
    expect(trial.status).toBe(500); // the upstream's own answer, passed through
    expect(breaker.state().value).toBe('open');
    const next = await request(g.url, '/api/next');
    expectProblem(next, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true });
    expect(upstream.received).toHaveLength(1);
  });

  /** Trips the breaker, waits for half-open, then sends `count` requests at once to an upstream slow enough to keep the trial in flight meanwhile. */
  async function concurrentDuringTrial(count: number, delayMs: number, prefix: string): Promise<Awaited<ReturnType<typeof request>>[]> {
    await trip();
    upstream.setMode({ kind: 'slow', delayMs });
    await waitFor(() => breaker.state().value === 'half-open', RESET_MS + 500, 'half-open');
    upstream.reset();
    return Promise.all(Array.from({ length: count }, (_, i) => request(g.url, `/api/${prefix}/${i}`)));
  }

  it('half-open lets exactly one trial through: concurrent callers get CIRCUIT_OPEN while it runs', async () => {
    const replies = await concurrentDuringTrial(5, 600, 'concurrent');
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 503, 503, 503, 503]);
    for (const r of replies.filter((x) => x.status === 503)) {
      expectProblem(r, { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true });
    }
    expect(upstream.received).toHaveLength(1);
    expect(breaker.state().value).toBe('closed');
  });

  it('callers refused during the trial do not dilute the error percentage: after recovery, the next failure reopens it', async () => {
    const replies = await concurrentDuringTrial(20, 1000, 'load');
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 503)).toHaveLength(19);
    expect(breaker.state().value).toBe('closed');
    // Window: 3 failures, 1 success, 19 refusals. One more failure is 4 of 5 calls (80 %):
    // open. Had opossum counted the refusals as calls, it would be 4 of 24 and stay closed.
    upstream.setMode({ kind: 'status', status: 500 });
    expect((await request(g.url, '/api/fail-again')).status).toBe(500);
    expect(breaker.state()).toMatchObject({ value: 'open', reason: 'failures' });
    expectProblem(await request(g.url, '/api/refused'), { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true });
    expect(g.gw.registry.get('backend').stats.snapshot()).toMatchObject({ failures: 4, successes: 1, rejections: 20, errorPercentage: 80 });
  });

  it('4xx answers never trip the breaker', async () => {
    upstream.setMode({ kind: 'status', status: 404 });
    for (let i = 0; i < 8; i++) expect((await request(g.url, `/api/missing/${i}`)).status).toBe(404);
    upstream.setMode({ kind: 'status', status: 429 });
    for (let i = 0; i < 4; i++) expect((await request(g.url, `/api/busy/${i}`)).status).toBe(429);
    expect(breaker.state().value).toBe('closed');
    expect(g.gw.registry.get('backend').stats.snapshot()).toMatchObject({ failures: 0, successes: 12 });
    upstream.setMode({ kind: 'ok' });
    expect((await request(g.url, '/api/ok')).status).toBe(200);
  });

  it('callers going away never count as failures', async () => {
    upstream.setMode({ kind: 'hang' });
    for (let i = 0; i < 6; i++) {
      const controller = new AbortController();
      const pending = request(g.url, `/api/abandoned/${i}`, { signal: controller.signal });
      await waitFor(() => upstream.received.length === i + 1, 2000, 'request to arrive');
      controller.abort();
      await pending;
    }
    await sleep(50);
    expect(breaker.state().value).toBe('closed');
    const snap = g.gw.registry.get('backend').stats.snapshot();
    expect(snap).toMatchObject({ failures: 0, timeouts: 0, successes: 0 });
    upstream.setMode({ kind: 'ok' });
    expect((await request(g.url, '/api/ok')).status).toBe(200);
  });

  it('a half-open trial whose caller goes away decides nothing: the next request is the trial', async () => {
    await trip();
    upstream.setMode({ kind: 'hang' });
    await waitFor(() => breaker.state().value === 'half-open', RESET_MS + 500, 'half-open');
    upstream.reset();
    const controller = new AbortController();
    const pending = request(g.url, '/api/trial', { signal: controller.signal });
    await waitFor(() => upstream.received.length === 1, 2000, 'trial to arrive');
    controller.abort();
    await pending;
    await sleep(50);
    // Nothing proved the upstream healthy or sick (SPEC §5: the caller's own aborts never
    // count): still half-open, and the next request goes through at once as the new trial.
    expect(breaker.state().value).toBe('half-open');
    upstream.setMode({ kind: 'ok' });
    expect((await request(g.url, '/api/trial-2')).status).toBe(200);
    expect(breaker.state()).toMatchObject({ value: 'closed', reason: 'trial-succeeded' });
  });
});
