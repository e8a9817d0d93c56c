/**
 * SPEC §7 GET /metrics after real traffic: request counts by route/upstream/method/status/code,
 * the duration histogram, breaker state and transitions, upstream health and process metrics,
 * with label values that never hold raw paths or ids.
 */
import net from 'node:net';
import { expectProblem, request, startGateway, waitFor, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

const find = (samples: Sample[], name: string, labels: Record<string, string>): Sample | undefined =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('GET /metrics', () => {
  let backend: ControlledUpstream;
  let checked: ControlledUpstream;
  let gw: StartedGateway;
  let samples: Sample[];
  let text: string;
  let contentType: string;
  let failed: number;

  beforeAll(async () => {
    backend = await startUpstream();
    checked = await startUpstream();
    gw = await startGateway({
      upstreams: {
        backend: { url: backend.url, breaker: { volumeThreshold: 2, resetTimeoutMs: 60000 } },
        checked: { url: checked.url, healthCheck: { path: '/health', intervalMs: 50, timeoutMs: 200, unhealthyThreshold: 1 } },
      },
      routes: [
        { path: '/api/loans', upstream: 'backend', methods: ['GET', 'POST'] },
        { path: '/checked', upstream: 'checked' },
      ],
    });
    const call = (path: string, method = 'GET'): Promise<unknown> => request(gw.url, path, { method });
    // Real traffic, with ids in paths and queries that must never become label values.
    for (const id of ['1001', '1002', '1003']) expect((await request(gw.url, `/api/loans/${id}?customer=4711`, { headers: { 'X-Request-Id': `req-${id}` } })).status).toBe(200);
    await call('/checked/doc-99');
    expectProblem(await request(gw.url, '/no-such-route/8e1f2c'), { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
    expectProblem(await request(gw.url, '/api/loans/1', { method: 'DELETE' }), { status: 405, code: 'METHOD_NOT_ALLOWED', forwarded: false, retryable: false });
    await call('/api/loans/1', 'PROPFIND');
    await call('/healthz');
    // Refused on the raw socket, before any handler: smuggling-shaped framing and CONNECT.
    for (const text of ['GET /api/loans/1 HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n']) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.end(text));
        socket.on('data', () => undefined);
        socket.on('close', () => resolve());
      });
    }
    backend.setMode({ kind: 'status', status: 503 });
    failed = 0;
    while (gw.gw.registry.get('backend').breaker.state().value === 'closed' && failed < 20) {
      await call(`/api/loans/${5 + failed}`);
      failed++;
    }
    expectProblem(await request(gw.url, '/api/loans/77'), { status: 503, code: 'CIRCUIT_OPEN', forwarded: false, retryable: true, upstream: 'backend' });
    checked.setHealth(false);
    await waitFor(() => gw.gw.registry.get('checked').health.state === 'down', 2000, 'checked down');

    const reply = await request(gw.gw.adminUrl, '/metrics');
    expect(reply.status).toBe(200);
    text = reply.body;
    contentType = String(reply.headers['content-type']);
    samples = parseMetrics(text);
  });
  afterAll(async () => {
    await gw.close();
    await Promise.all([backend.close(), checked.close()]);
  });

  it('is Prometheus text, every metric prefixed breakwater_', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(samples.length).toBeGreaterThan(20);
    for (const s of samples) expect(s.name).toMatch(/^breakwater_/);
  });

  it('counts requests by route, upstream, method, status, status class and code', () => {
    expect(find(samples, 'breakwater_requests_total', { route: '/api/loans', upstream: 'backend', method: 'GET', status: '200', status_class: '2xx', code: '' })?.value).toBe(3);
    expect(find(samples, 'breakwater_requests_total', { route: '/api/loans', upstream: 'backend', method: 'GET', status: '503', status_class: '5xx', code: '' })?.value).toBe(failed);
    expect(find(samples, 'breakwater_requests_total', { route: '/api/loans', upstream: 'backend', status: '503', code: 'CIRCUIT_OPEN' })?.value).toBe(1);
    expect(find(samples, 'breakwater_requests_total', { route: '/api/loans', method: 'DELETE', status: '405', code: 'METHOD_NOT_ALLOWED' })?.value).toBe(1);
    expect(find(samples, 'breakwater_requests_total', { route: '/checked', upstream: 'checked', status: '200' })?.value).toBe(1);
    expect(find(samples, 'breakwater_requests_total', { route: '/healthz', upstream: '', status: '200' })?.value).toBe(1);
  });

  it('counts requests refused on the raw socket too, with route="" and no duration', () => {
    // The method is read from the refused bytes where they show it (GET); CONNECT is not a label value of its own.
    expect(find(samples, 'breakwater_requests_total', { route: '', upstream: '', method: 'GET', status: '400', status_class: '4xx', code: 'INVALID_REQUEST' })?.value).toBe(1);
    expect(find(samples, 'breakwater_requests_total', { route: '', upstream: '', method: 'OTHER', status: '400', status_class: '4xx', code: 'INVALID_REQUEST' })?.value).toBe(1);
    expect(find(samples, 'breakwater_request_duration_seconds_count', { route: '', upstream: '', method: 'OTHER', status_class: '4xx' })).toBeUndefined();
  });

  it('labels unmatched requests with route="" and upstream="", and unknown methods as OTHER', () => {
    expect(find(samples, 'breakwater_requests_total', { route: '', upstream: '', method: 'GET', status: '404', status_class: '4xx', code: 'ROUTE_NOT_FOUND' })?.value).toBe(1);
    expect(find(samples, 'breakwater_requests_total', { method: 'OTHER', route: '/api/loans' })?.value).toBe(1);
    expect(text).not.toContain('PROPFIND');
  });

  it('never puts raw paths, ids or queries in labels', () => {
    for (const leaked of ['1001', '4711', 'customer', 'no-such-route', '8e1f2c', 'doc-99', 'req-1001', '/api/loans/']) {
      expect(samples.filter((s) => Object.values(s.labels).some((v) => v.includes(leaked)))).toEqual([]);
    }
  });

  it('has a request duration histogram with buckets from 1 ms to 30 s', () => {
    const buckets = samples.filter((s) => s.name === 'breakwater_request_duration_seconds_bucket' && s.labels.route === '/api/loans' && s.labels.status_class === '2xx');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '+Inf']);
    expect(buckets.at(-1)?.value).toBe(3);
    expect(find(samples, 'breakwater_request_duration_seconds_count', { route: '/api/loans', status_class: '2xx' })?.value).toBe(3);
    const sum = find(samples, 'breakwater_request_duration_seconds_sum', { route: '/api/loans', status_class: '2xx' })?.value as number;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(3);
  });

  it('shows breaker state per upstream and state, and counts transitions', () => {
    expect(find(samples, 'breakwater_breaker_state', { upstream: 'backend', state: 'open' })?.value).toBe(1);
    expect(find(samples, 'breakwater_breaker_state', { upstream: 'backend', state: 'closed' })?.value).toBe(0);
    expect(find(samples, 'breakwater_breaker_state', { upstream: 'backend', state: 'half-open' })?.value).toBe(0);
    expect(find(samples, 'breakwater_breaker_transitions_total', { upstream: 'backend', from: 'closed', to: 'open', reason: 'failures' })?.value).toBe(1);
    // Health checks marked "checked" down, which opened its breaker.
    expect(find(samples, 'breakwater_breaker_transitions_total', { upstream: 'checked', from: 'closed', to: 'open', reason: 'health' })?.value).toBe(1);
    expect(find(samples, 'breakwater_breaker_forced', { upstream: 'backend' })?.value).toBe(0);
  });

  it('shows upstream health per upstream and state', () => {
    expect(find(samples, 'breakwater_upstream_health', { upstream: 'checked', state: 'down' })?.value).toBe(1);
    expect(find(samples, 'breakwater_upstream_health', { upstream: 'checked', state: 'up' })?.value).toBe(0);
    expect(find(samples, 'breakwater_upstream_health', { upstream: 'backend', state: 'unknown' })?.value).toBe(1);
  });

  it('includes process metrics and the in-flight gauge', () => {
    for (const name of ['breakwater_process_cpu_user_seconds_total', 'breakwater_process_resident_memory_bytes', 'breakwater_nodejs_heap_size_used_bytes', 'breakwater_nodejs_eventloop_lag_seconds']) {
      expect(samples.some((s) => s.name === name)).toBe(true);
    }
    expect(find(samples, 'breakwater_requests_in_flight', {})?.value).toBe(0);
  });

  it('is served on the admin listener only', async () => {
    expectProblem(await request(gw.url, '/metrics'), { status: 404, code: 'ROUTE_NOT_FOUND', forwarded: false, retryable: false });
  });
});
