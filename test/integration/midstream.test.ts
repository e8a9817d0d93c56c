/**
 * SPEC §4: once the upstream's headers were passed on, a failure can no longer become a
 * problem; the gateway aborts the caller's connection so a truncated body never looks
 * complete, and a body that stalls is bounded too (idle-body timeout = timeoutMs between chunks).
 */
import { oneRoute, request, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';
import { startStallMeter } from '../helpers/stall-meter';

/** Upper time bounds allow for the time this process (the gateway with it) was held up. */
const stalls = startStallMeter();
afterAll(() => stalls.stop());

const TIMEOUT_MS = 400;

describe('failures after the response headers', () => {
  let upstream: ControlledUpstream;
  let g: StartedGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    g = await startGateway(oneRoute(upstream.url, { timeoutMs: TIMEOUT_MS, breaker: { volumeThreshold: 100000 } }));
  });
  afterAll(async () => {
    await g.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  it('die-mid-body: the caller\'s connection is aborted, never a clean short body', async () => {
    upstream.setMode({ kind: 'die-mid-body' });
    const r = await request(g.url, '/api/file');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('1000');
    expect(r.complete).toBe(false);
    expect(r.error).toBeDefined();
    expect(r.body.length).toBeLessThan(1000);
  });

  it('headers-then-hang: the stalled body is cut within timeoutMs of the last chunk, and the caller sees an abort', async () => {
    upstream.setMode({ kind: 'headers-then-hang' });
    const started = Date.now();
    const held = stalls.mark();
    const r = await request(g.url, '/api/stream', { timeoutMs: 5000 });
    const elapsed = Date.now() - started;
    expect(r.status).toBe(200);
    expect(r.body).toBe('first chunk\n');
    expect(r.complete).toBe(false);
    expect(r.error).not.toBe('ETIMEDOUT'); // the gateway ended it, not our own deadline
    expect(r.error).toBeDefined();
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000 + stalls.lostSince(held));
    // The upstream's socket was given up too.
    const deadline = Date.now() + 1000;
    while (upstream.openSockets > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect(upstream.openSockets).toBe(0);
  });

  it('a slow but steady body (chunks closer together than timeoutMs) is relayed whole, however long it takes', async () => {
    // 6 chunks 150 ms apart: 900 ms in all, more than twice timeoutMs.
    upstream.setMode({ kind: 'trickle', chunkDelayMs: 150, chunks: 6 });
    const r = await request(g.url, '/api/stream');
    expect(r.error).toBeUndefined();
    expect(r.complete).toBe(true);
    expect(r.body).toBe('chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n');
  });

  it('a slow upstream within timeoutMs answers normally (the response timer does not fire early)', async () => {
    upstream.setMode({ kind: 'slow', delayMs: TIMEOUT_MS - 150 });
    const r = await request(g.url, '/api/slow');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ok: true, path: '/api/slow' });
  });
});
