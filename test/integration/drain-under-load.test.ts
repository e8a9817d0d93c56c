/**
 * Drain under load (issue 6, SPEC §8) against the real CLI process: 50 requests in flight
 * through a slow upstream, then SIGTERM. All 50 complete with 200 and `Connection: close`;
 * requests arriving during the drain get 503 GATEWAY_SHUTTING_DOWN with `Connection: close`;
 * once the listener is gone, connections are refused; never a reset mid-request; exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { request, waitFor, type Reply } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const IN_FLIGHT = 50;
const UPSTREAM_DELAY_MS = 2000;

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
  error: string | undefined;
}

/** One request on a keep-alive agent: the gateway, not the client, must decide to close. */
function send(agent: http.Agent, port: number, p: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent, headers: { Connection: 'keep-alive' } });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, error: res.complete ? undefined : 'aborted' }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, connection: undefined, body: '', error: err.code ?? err.message }));
    req.end();
  });
}

describe('drain under load (real process, SIGTERM)', () => {
  let cli: CliBuild;
  let dir: string;
  let upstream: ControlledUpstream;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    cli = buildCli();
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-drain-'));
    upstream = await startUpstream({ mode: { kind: 'slow', delayMs: UPSTREAM_DELAY_MS } });
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
    await upstream.close();
  });

  it(`SIGTERM with ${IN_FLIGHT} requests in flight: all complete, newcomers are refused cleanly, exit 0`, async () => {
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(
      config,
      [
        'listen: { host: 127.0.0.1, port: 0 }',
        'admin: { host: 127.0.0.1, port: 0 }',
        'shutdown: { drainTimeoutMs: 10000 }',
        'log: { level: info }',
        'upstreams:',
        `  slow: { url: "${upstream.url}", timeoutMs: 10000 }`,
        'routes:',
        '  - { path: /api, upstream: slow }',
      ].join('\n'),
    );
    const proc = spawn(process.execPath, [cli.main, '--config', config], { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    let buffered = '';
    proc.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          lines.push({ raw: line });
        }
      }
    });
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));

    // The real port comes from the traffic listener's own log line.
    await waitFor(() => lines.some((l) => l.event === 'listening' && l.listener === 'traffic'), 10000, 'the traffic listener');
    const port = Number(lines.find((l) => l.event === 'listening' && l.listener === 'traffic')?.port);
    const base = `http://127.0.0.1:${port}`;
    expect((await request(base, '/readyz')).status).toBe(200);

    const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT + 10 });
    try {
      const inFlight = Array.from({ length: IN_FLIGHT }, (_, i) => send(agent, port, `/api/loans/${i}`));
      await waitFor(() => upstream.received.length === IN_FLIGHT, 5000, `all ${IN_FLIGHT} requests at the upstream`);

      const signalledAt = Date.now();
      proc.kill('SIGTERM');

      // Readiness turns 503 first: that is how an orchestrator learns to send nothing more.
      await waitFor(() => lines.some((l) => l.event === 'draining'), 3000, 'the drain to start');
      const ready = await request(base, '/readyz');
      expect({ status: ready.status, body: ready.json }).toEqual({ status: 503, body: { status: 'draining' } });

      // New requests while the drain lasts: 503 GATEWAY_SHUTTING_DOWN with Connection: close, nothing forwarded.
      const newcomers: Reply[] = [];
      for (let i = 0; i < 5; i++) newcomers.push(await request(base, `/api/new/${i}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Connection: 'keep-alive' }, body: '{}' }));
      for (const r of newcomers) {
        expect({ status: r.status, code: r.json?.code, forwarded: r.json?.forwarded, retryable: r.json?.retryable, connection: r.headers.connection, error: r.error }).toEqual({
          status: 503,
          code: 'GATEWAY_SHUTTING_DOWN',
          forwarded: false,
          retryable: true,
          connection: 'close',
          error: undefined,
        });
      }

      const answers = await Promise.all(inFlight);
      // Every in-flight request completed in full, was answered during the drain, and told its client to close.
      expect(answers.filter((a) => a.status !== 200 || a.error !== undefined)).toEqual([]);
      answers.forEach((a, i) => expect(JSON.parse(a.body)).toEqual({ ok: true, path: `/api/loans/${i}` }));
      expect(answers.filter((a) => a.connection !== 'close')).toEqual([]);
      expect(Date.now() - signalledAt).toBeLessThan(UPSTREAM_DELAY_MS + 3000);

      const { code, signal } = await exited;
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      // Once the process is gone, the port refuses connections: a clean refusal, not a reset.
      expect((await request(base, '/api/late')).error).toBe('ECONNREFUSED');

      expect(upstream.received.map((r) => r.url).filter((u) => u.startsWith('/api/new') || u.startsWith('/api/late'))).toEqual([]);
      const events = lines.map((l) => l.event).filter((e) => e !== undefined);
      expect(events).toEqual(expect.arrayContaining(['draining', 'closed']));
      expect(events).not.toContain('drain-timeout');
    } finally {
      agent.destroy();
    }
  }, 30000);
});
