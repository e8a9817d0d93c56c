/**
 * TLS through the real entry point in a child process (docs/tls.md): certificate files that
 * cannot be used stop the start with exit 1 naming the key, and SIGHUP reloads the
 * certificates of both listeners while connections opened before it go on being served.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { waitFor } from '../helpers/gateway';
import { createTestPki, fingerprintOf, httpsRequest, type TestPki } from '../helpers/tls';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const STACK_LINE = /^\s+at /m;

describe('TLS in the CLI (compiled entry point)', () => {
  let cli: CliBuild;
  let pki: TestPki;
  let upstream: ControlledUpstream;

  beforeAll(async () => {
    cli = buildCli();
    pki = createTestPki();
    upstream = await startUpstream();
  });
  afterAll(async () => {
    cli.remove();
    pki.remove();
    await upstream.close();
  });

  const config = (name: string, tls: { cert: string; key: string }): string => pki.write(name, [
    `listen: { host: 127.0.0.1, port: 0, tls: { cert: ${tls.cert}, key: ${tls.key}, ca: ${pki.caPath}, requestCert: true, clientCertHeader: X-Client-Cert-Subject } }`,
    `admin: { host: 127.0.0.1, port: 0, tls: { cert: ${tls.cert}, key: ${tls.key} } }`,
    'shutdown: { drainTimeoutMs: 1000 }',
    'upstreams:',
    `  business: { url: ${upstream.url} }`,
    'routes:',
    '  - { path: /api, upstream: business, clientCert: required }',
  ].join('\n'));

  function spawnCli(args: string[]): { child: ChildProcess; out: () => string; err: () => string; closed: Promise<number | null> } {
    const child = spawn(process.execPath, [cli.main, ...args], { env: { ...cli.env, GATEWAY_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { child, out: () => stdout, err: () => stderr, closed };
  }

  const linesOf = (stdout: string): Record<string, unknown>[] =>
    stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it.each([['--check-config'], ['--config']])('%s: a certificate file that cannot be read is exit 1, named by its key, without a stack trace', async (flag) => {
    const missing = path.join(pki.dir, 'missing.pem');
    const file = config(`missing-${flag.slice(2)}.yaml`, { cert: missing, key: pki.server.keyPath });
    const run = spawnCli([flag, file]);
    const killer = setTimeout(() => run.child.kill('SIGKILL'), 10000);
    const code = await run.closed;
    clearTimeout(killer);
    expect(code).toBe(1);
    expect(run.err()).toContain(`listen.tls.cert: ${missing}: cannot read file (ENOENT): no such file`);
    expect(run.err()).toContain(`admin.tls.cert: ${missing}: cannot read file (ENOENT): no such file`);
    expect(run.err()).not.toMatch(STACK_LINE);
  });

  it('SIGHUP reloads both listeners\' certificates; a connection opened before it is still served; bad files keep the old one', async () => {
    const cert = pki.write('cli-live.pem', pki.server.cert);
    const key = pki.write('cli-live-key.pem', pki.server.key);
    const run = spawnCli(['--config', config('reload.yaml', { cert, key })]);
    const killer = setTimeout(() => run.child.kill('SIGKILL'), 20000);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports: Record<string, number> = {};
      await waitFor(() => {
        for (const line of linesOf(run.out())) if (line.event === 'listening') ports[line.listener as string] = line.port as number;
        return (ports.traffic !== undefined && ports.admin !== undefined) || run.child.exitCode !== null;
      }, 8000, 'both listeners');
      const traffic = `https://127.0.0.1:${ports.traffic}`;
      const admin = `https://127.0.0.1:${ports.admin}`;
      const started = linesOf(run.out()).find((l) => l.listener === 'traffic');
      expect(started?.tls).toMatchObject({ subject: 'CN=localhost', fingerprint256: fingerprintOf(pki.server), minVersion: 'TLSv1.2', requestCert: true });

      const before = await httpsRequest(traffic, '/api/a', { ca: pki.ca, cert: pki.client, agent });
      expect(before.status).toBe(200);
      expect(before.fingerprint256).toBe(fingerprintOf(pki.server));
      expect(upstream.received.at(-1)?.headers['x-client-cert-subject']).toBe('CN=loan-system,O=Capitex Test');

      copyFileSync(pki.serverRenewed.certPath, cert);
      copyFileSync(pki.serverRenewed.keyPath, key);
      run.child.kill('SIGHUP');
      await waitFor(() => linesOf(run.out()).filter((l) => l.event === 'tls-reloaded').length === 2, 5000, 'two tls-reloaded lines');
      expect(linesOf(run.out()).filter((l) => l.event === 'tls-reloaded').map((l) => [l.listener, l.fingerprint256])).toEqual([
        ['traffic', fingerprintOf(pki.serverRenewed)],
        ['admin', fingerprintOf(pki.serverRenewed)],
      ]);
      const fresh = await httpsRequest(traffic, '/api/b', { ca: pki.ca, cert: pki.client });
      expect(fresh.status).toBe(200);
      expect(fresh.fingerprint256).toBe(fingerprintOf(pki.serverRenewed));
      expect((await httpsRequest(admin, '/admin/breakers', { ca: pki.ca })).fingerprint256).toBe(fingerprintOf(pki.serverRenewed));
      const kept = await httpsRequest(traffic, '/api/c', { ca: pki.ca, cert: pki.client, agent });
      expect(kept.status).toBe(200);
      expect(kept.reusedSocket).toBe(true);

      // A broken key: the error is logged with the key's name, the renewed certificate stays, the process lives on.
      writeFileSync(key, 'broken');
      run.child.kill('SIGHUP');
      await waitFor(() => linesOf(run.out()).some((l) => l.event === 'tls-reload-failed'), 5000, 'a tls-reload-failed line');
      const failed = linesOf(run.out()).filter((l) => l.event === 'tls-reload-failed');
      expect(failed.map((l) => l.listener)).toEqual(['traffic', 'admin']);
      expect(failed[0]?.issues).toEqual([expect.stringMatching(/^listen\.tls\.key: expected an unencrypted PEM private key/)]);
      const after = await httpsRequest(traffic, '/api/d', { ca: pki.ca, cert: pki.client });
      expect(after.status).toBe(200);
      expect(after.fingerprint256).toBe(fingerprintOf(pki.serverRenewed));

      agent.destroy();
      run.child.kill('SIGTERM');
      expect(await run.closed).toBe(0);
      expect(run.err()).toBe('');
    } finally {
      agent.destroy();
      clearTimeout(killer);
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
