/**
 * A stall of the gateway's own process (a long GC pause, a CPU-starved container, here
 * SIGSTOP) is not the upstream's timeout. The gateway runs as the real CLI in a child
 * process; the upstream, in this process, stops it the moment a request arrives, answers at
 * once, and lets it run again after three times its timeoutMs. The answer then lies in the
 * gateway's socket, unread, while its deadline is long past: due timers run before pending
 * I/O is read, so without care the gateway would call a prompt answer UPSTREAM_TIMEOUT and
 * count a failure against a healthy upstream. A hanging upstream still times out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { request, waitFor } from '../helpers/gateway';
import { startStallMeter } from '../helpers/stall-meter';

const TIMEOUT_MS = 400;
const STALL_MS = 3 * TIMEOUT_MS;

describe('a stall of the gateway process', () => {
  let cli: CliBuild;
  let dir: string;
  let upstream: http.Server;
  let gateway: ChildProcess;
  let stdout = '';
  let base = '';
  let admin = '';
  /** What the upstream does once it has stopped the gateway. */
  let behaviour: 'answer' | 'hang' = 'answer';
  const hung: http.ServerResponse[] = [];

  beforeAll(async () => {
    cli = buildCli();
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-stall-'));
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const pid = gateway.pid as number;
        process.kill(pid, 'SIGSTOP');
        setTimeout(() => process.kill(pid, 'SIGCONT'), STALL_MS);
        if (behaviour === 'hang') return void hung.push(res);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ answeredAt: Date.now() }));
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const file = path.join(dir, 'gateway.yaml');
    writeFileSync(file, [
      'listen: { host: 127.0.0.1, port: 0 }',
      'admin: { host: 127.0.0.1, port: 0 }',
      'log: { format: json }',
      'upstreams:',
      `  slowpoke: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", timeoutMs: ${TIMEOUT_MS}, breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 } }`,
      'routes: [{ path: /api, upstream: slowpoke }]',
    ].join('\n'));
    gateway = spawn(process.execPath, [cli.main, '--config', file], { env: { ...cli.env, GATEWAY_CONFIG: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    gateway.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(() => /"listener":"traffic".*?"port":(\d+)/.test(stdout) && /"listener":"admin".*?"port":(\d+)/.test(stdout), 10000, 'both listeners');
    base = `http://127.0.0.1:${/"listener":"traffic".*?"port":(\d+)/.exec(stdout)?.[1]}`;
    admin = `http://127.0.0.1:${/"listener":"admin".*?"port":(\d+)/.exec(stdout)?.[1]}`;
  });

  afterAll(async () => {
    if (gateway.exitCode === null) {
      process.kill(gateway.pid as number, 'SIGCONT');
      gateway.kill('SIGTERM');
      await once(gateway, 'close');
    }
    for (const res of hung) res.destroy();
    upstream.close();
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an answer that arrived while the gateway was stopped is relayed, not turned into UPSTREAM_TIMEOUT', async () => {
    behaviour = 'answer';
    const started = Date.now();
    const r = await request(base, '/api/now');
    expect({ status: r.status, body: r.body.slice(0, 14) }).toEqual({ status: 200, body: '{"answeredAt":' });
    // It came after the stall (the gateway could not answer sooner), and not much later.
    expect(Date.now() - started).toBeGreaterThanOrEqual(STALL_MS - 50);
    // The breaker (it opens on one failure) counted no failure: the next call goes through too.
    const b = JSON.parse((await request(admin, '/admin/breakers')).body) as { breakers: { state: string; stats: { failures: number; timeouts: number } }[] };
    expect(b.breakers[0]).toMatchObject({ state: 'closed', stats: { failures: 0, timeouts: 0 } });
  });

  it('a hanging upstream still times out: after the stall, at most 100 ms later than it would', async () => {
    behaviour = 'hang';
    const stalls = startStallMeter();
    const held = stalls.mark();
    const started = Date.now();
    const r = await request(base, '/api/hang');
    const elapsed = Date.now() - started;
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'UPSTREAM_TIMEOUT', forwarded: true });
    expect(elapsed).toBeGreaterThanOrEqual(STALL_MS);
    // Due during the stall, the deadline fires when it ends and waits at most 100 ms more (plus slack for a loaded machine).
    expect(elapsed).toBeLessThan(STALL_MS + 100 + 1000 + stalls.lostSince(held));
    stalls.stop();
  });
});
