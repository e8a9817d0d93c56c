/**
 * The gateway's own exhaustion is not the upstream's failure (issue 16, item 5): a gateway
 * process with a file-descriptor limit of 64 (`ulimit -n`) is filled with idle caller
 * connections until it can open no socket; requests then get 503 GATEWAY_OVERLOADED
 * (forwarded: false), /healthz on a held connection still answers, and once descriptors
 * are free again the upstream's breaker is still closed: nothing was counted against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { parseRaw, request, sleep, waitFor } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

/** One request on an open connection; resolves with the parsed answer. */
function ask(socket: net.Socket, path: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (c: Buffer): void => {
      text += c.toString('latin1');
      const reply = parseRaw(text);
      if (text.includes('\r\n\r\n') && reply.body.length >= Number(reply.headers['content-length'] ?? 0)) {
        socket.off('data', onData);
        resolve(reply);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: gw\r\n\r\n`);
  });
}

describe('file descriptors exhausted (ulimit -n 64)', () => {
  let cli: CliBuild;
  let dir: string;
  let upstream: ControlledUpstream;
  let child: ChildProcess;
  let port = 0;
  let adminPort = 0;
  const held: net.Socket[] = [];

  beforeAll(async () => {
    cli = buildCli();
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-fd-'));
    upstream = await startUpstream();
    const config = path.join(dir, 'gateway.yaml');
    writeFileSync(config, [
      // A cap above the descriptor limit, so the limit itself is reached.
      'listen: { host: 127.0.0.1, port: 0, maxConnections: 1000 }',
      'admin: { host: 127.0.0.1, port: 0 }',
      'log: { level: info }',
      'defaults: { breaker: { volumeThreshold: 2, errorThresholdPercentage: 50 } }',
      'upstreams:',
      `  business: { url: ${upstream.url} }`,
      'routes:',
      '  - { path: /api, upstream: business }',
    ].join('\n'));
    child = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${cli.main}" --config "${config}"`], { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitFor(() => {
      for (const line of stdout.split('\n')) {
        if (line.includes('"listener":"traffic"')) port = (JSON.parse(line) as { port: number }).port;
        if (line.includes('"listener":"admin"')) adminPort = (JSON.parse(line) as { port: number }).port;
      }
      return (port > 0 && adminPort > 0) || child.exitCode !== null;
    }, 10000, 'listening log lines');
  }, 20000);

  afterAll(async () => {
    held.forEach((s) => s.destroy());
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'close');
    }
    await upstream.close();
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('requests needing a new upstream socket get GATEWAY_OVERLOADED, and the breaker stays closed', async () => {
    expect(port).toBeGreaterThan(0);
    // Fill the descriptor table: idle connections until the gateway can accept no more
    // (libuv accepts and closes at once when accept() fails with EMFILE).
    for (let i = 0; i < 70; i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      const closed = await Promise.race([once(s, 'close').then(() => true), sleep(150).then(() => false)]);
      if (closed) break;
      held.push(s);
    }
    expect(held.length).toBeGreaterThan(5);
    expect(held.length).toBeLessThan(64);

    const first = held[0] as net.Socket;
    for (let i = 0; i < 3; i++) {
      const reply = await ask(first, `/api/try-${i}`);
      expect(reply.status).toBe(503);
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'GATEWAY_OVERLOADED', forwarded: false, retryable: true, upstream: 'business' });
    }
    expect(upstream.received).toHaveLength(0);
    // The gateway's own endpoints need no new descriptor: still answering.
    expect((await ask(held[1] as net.Socket, '/healthz')).status).toBe(200);

    // Free descriptors: the same upstream is served at once, its breaker never opened.
    for (const s of held.splice(2)) s.destroy();
    await sleep(200);
    expect((await ask(first, '/api/after')).status).toBe(200);
    const breakers = await request(`http://127.0.0.1:${adminPort}`, '/admin/breakers');
    expect(JSON.stringify(breakers.json)).toContain('"state":"closed"');
    expect(JSON.stringify(breakers.json)).not.toContain('"open"');
  }, 30000);
});
