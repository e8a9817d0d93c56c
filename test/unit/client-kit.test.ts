/**
 * The caller kit's pure parts (README "Caller kit"): backoff with full jitter, Retry-After,
 * the retry budget, problem recognition, generated keys, the draft store, and the size of
 * what ships. Randomness is injected; no timers, no network.
 */
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { backoffDelay, retryAfterDelay } from '../../src/client/backoff';
import { createDraftStore, generateKey, lostUpstreams, ProblemError, readProblem, retryAfterMs, type DraftStorage, type GatewayStatus } from '../../src/client';
import { createRetryBudget } from '../../src/client/retry-budget';

const timing = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000 };

describe('backoff', () => {
  it('is full jitter: uniform below min(maxDelayMs, baseDelayMs·2^(n-1))', () => {
    expect(backoffDelay(1, timing, () => 0)).toBe(0);
    expect(backoffDelay(1, timing, () => 0.999999)).toBe(199);
    expect(backoffDelay(2, timing, () => 0.5)).toBe(200);
    expect(backoffDelay(3, timing, () => 0.999999)).toBe(799);
    expect(backoffDelay(10, timing, () => 0.999999)).toBe(4999); // capped by maxDelayMs
  });

  it('waits Retry-After plus up to baseDelayMs of jitter, and not at all beyond maxDelayMs', () => {
    expect(retryAfterDelay(1000, timing, () => 0)).toBe(1000);
    expect(retryAfterDelay(1000, timing, () => 0.999999)).toBe(1199);
    expect(retryAfterDelay(5000, timing, () => 0)).toBe(5000);
    expect(retryAfterDelay(5001, timing, () => 0)).toBeUndefined();
  });

  it('reads Retry-After as seconds or an HTTP date, else retryAfterSeconds', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', undefined, now)).toBe(3000);
    expect(retryAfterMs(' 0 ', undefined, now)).toBe(0);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', undefined, now)).toBe(10_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', undefined, now)).toBe(0);
    expect(retryAfterMs(null, { retryAfterSeconds: 2 }, now)).toBe(2000);
    expect(retryAfterMs('soon', { retryAfterSeconds: 2 }, now)).toBe(2000);
    expect(retryAfterMs(null, {}, now)).toBeUndefined();
  });
});

describe('retry budget', () => {
  it('allows `tokens` retries, then none until successes refill it', () => {
    const budget = createRetryBudget({ tokens: 3, perSuccess: 0.1 });
    expect([budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([true, true, true, false]);
    expect(budget.available).toBe(0);
    for (let i = 0; i < 9; i++) budget.success();
    expect(budget.take()).toBe(false);
    budget.success();
    expect(budget.available).toBe(1);
    expect(budget.take()).toBe(true);
  });

  it('never fills beyond `tokens`, and has the defaults 10 and 0.1', () => {
    const budget = createRetryBudget();
    expect(budget.available).toBe(10);
    budget.success();
    expect(budget.available).toBe(10);
    expect(() => createRetryBudget({ tokens: -1 })).toThrow(RangeError);
  });
});

describe('problems', () => {
  const problem = { type: '/problems/upstream-timeout', title: 'Upstream did not answer in time', status: 504, code: 'UPSTREAM_TIMEOUT', retryable: false, forwarded: true, requestId: 'r1' };
  const respond = (body: unknown, type = 'application/problem+json', headers: Record<string, string> = {}) =>
    new Response(typeof body === 'string' ? body : JSON.stringify(body), { status: 504, headers: { 'content-type': type, ...headers } });

  it('recognises the gateway problem by its members and leaves the response unread', async () => {
    const res = respond(problem);
    expect(await readProblem(res)).toEqual(problem);
    expect(res.bodyUsed).toBe(false);
    expect(await res.json()).toEqual(problem);
  });

  it('passes an upstream answer through, problem+json without the gateway members included', async () => {
    expect(await readProblem(respond(problem, 'application/json'))).toBeUndefined();
    expect(await readProblem(respond({ type: 'about:blank', title: 'Teapot', status: 418 }))).toBeUndefined();
    expect(await readProblem(respond({ ...problem, retryable: 'yes' }))).toBeUndefined();
    expect(await readProblem(respond('not json'))).toBeUndefined();
  });

  it('ProblemError carries the members, the code and the Retry-After wait', () => {
    const err = new ProblemError({ ...problem, code: 'CIRCUIT_OPEN', retryable: true, retryAfterSeconds: 4 }, respond(problem, undefined, { 'retry-after': '4' }), 2);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ProblemError');
    expect([err.code, err.problem.retryable, err.attempts, err.retryAfterMs]).toEqual(['CIRCUIT_OPEN', true, 2, 4000]);
    expect(err.message).toBe('CIRCUIT_OPEN: Upstream did not answer in time');
  });
});

describe('generated keys', () => {
  it('are UUID v4 shaped and distinct', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateKey()));
    expect(keys.size).toBe(100);
    for (const key of keys) expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('lostUpstreams', () => {
  it('names upstreams that are down or whose breaker is open, sorted', () => {
    const u = (state: 'up' | 'down' | 'unknown', breaker: 'closed' | 'open' | 'half-open') => ({ state, breaker, since: '' });
    const status: GatewayStatus = { status: 'degraded', instanceId: 'i', startedAt: '', upstreams: { c: u('down', 'closed'), a: u('unknown', 'open'), b: u('up', 'half-open'), d: u('up', 'closed') } };
    expect(lostUpstreams(status)).toEqual(['a', 'c']);
  });
});

describe('draft store', () => {
  const memory = (): DraftStorage & { map: Map<string, string> } => {
    const map = new Map<string, string>();
    return { map, getItem: (k) => map.get(k) ?? null, setItem: (k, v) => void map.set(k, v), removeItem: (k) => void map.delete(k) };
  };

  it('keeps every change, offers the last one back, and forgets it when cleared', () => {
    const storage = memory();
    const drafts = createDraftStore<{ borrower: string }>({ key: 'case', storage });
    expect(drafts.pending()).toBeNull();
    expect(drafts.save({ borrower: 'A' })).toBe(true);
    expect(drafts.save({ borrower: 'AB' })).toBe(true);
    // A new store on the same storage: what a reloaded page sees.
    const after = createDraftStore<{ borrower: string }>({ key: 'case', storage }).pending();
    expect(after?.value).toEqual({ borrower: 'AB' });
    expect(Date.parse(after?.savedAt ?? '')).toBeGreaterThan(0);
    drafts.clear();
    expect(drafts.pending()).toBeNull();
  });

  it('never throws: a full storage refuses, a corrupt draft is no draft', () => {
    const storage = memory();
    const full = { ...storage, setItem: () => { throw new Error('QuotaExceededError'); } };
    expect(createDraftStore({ key: 'k', storage: full }).save({ a: 1 })).toBe(false);
    storage.map.set('k', '{not json');
    expect(createDraftStore({ key: 'k', storage }).pending()).toBeNull();
    storage.map.set('k', '{"something":"else"}');
    expect(createDraftStore({ key: 'k', storage }).pending()).toBeNull();
    // Without any storage (Node, a locked-down browser) there is simply nothing kept.
    expect(createDraftStore({ key: 'k' }).save({ a: 1 })).toBe(false);
  });
});

describe('size', () => {
  it('is under 4 kB minified and gzipped (README "Caller kit")', async () => {
    const result = await build({ entryPoints: [path.join(__dirname, '../../src/client/index.ts')], bundle: true, format: 'esm', platform: 'neutral', minify: true, write: false, metafile: true });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    expect(gzipSync(code, { level: 9 }).length).toBeLessThan(4096);
    // And it stands alone: nothing of the gateway (or of Node) is bundled in.
    const inputs = Object.keys(result.metafile?.inputs ?? {});
    expect(inputs.length).toBeGreaterThanOrEqual(5);
    expect(inputs.filter((f) => !f.startsWith('src/client/'))).toEqual([]);
  });
});
