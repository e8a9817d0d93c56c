/**
 * SPEC §2 through the real entry point in a child process: exit codes (0 clean shutdown,
 * 1 invalid configuration naming every offending key without a stack trace, 2 bad usage),
 * `--config FILE`, `--check-config FILE` and GATEWAY_CONFIG.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { request, waitFor } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Lines that would come from a stack trace. */
const STACK_LINE = /^\s+at /m;

describe('CLI (compiled entry point)', () => {
  let cli: CliBuild;
  let dir: string;
  let upstream: ControlledUpstream;

  beforeAll(async () => {
    cli = buildCli();
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-cli-config-'));
    upstream = await startUpstream();
  });
  afterAll(async () => {
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
    await upstream.close();
  });

  const file = (name: string, text: string): string => {
    const p = path.join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  const goodYaml = (): string =>
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      'admin: { host: 127.0.0.1, port: 0 }',
      'shutdown: { drainTimeoutMs: 1000 }',
      'log: { level: info }',
      'upstreams:',
      `  business: { url: ${upstream.url} }`,
      'routes:',
      '  - { path: /api, upstream: business }',
    ].join('\n');

  /** Runs the CLI to completion (or kills it after `timeoutMs`). */
  function run(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 10000): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cli.main, ...args], { env: { ...cli.env, GATEWAY_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  /** Starts the gateway, waits for its traffic listener, proves it serves, then SIGTERMs it. */
  async function startServeAndStop(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ run: Run; status: number }> {
    const child = spawn(process.execPath, [cli.main, ...args], { env: { ...cli.env, GATEWAY_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
    const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
    try {
      let port = 0;
      await waitFor(() => {
        for (const line of stdout.split('\n')) {
          if (!line.includes('"listener":"traffic"')) continue;
          port = (JSON.parse(line) as { port: number }).port;
        }
        return port > 0 || child.exitCode !== null;
      }, 8000, 'traffic listener log line');
      const r = port > 0 ? await request(`http://127.0.0.1:${port}`, '/api/hello') : { status: 0 };
      child.kill('SIGTERM');
      return { run: await closed, status: r.status };
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }

  describe('--check-config', () => {
    it('exits 1 and names every offending key by its path, without a stack trace', async () => {
      const bad = file(
        'bad.yaml',
        [
          'listen: { port: 99999 }',
          'defaults: { timeoutMs: -5 }',
          'upstreams:',
          '  business: { url: http://127.0.0.1:9001, timeoutMs: 0, retries: 3 }',
          'routes:',
          '  - { path: /api, upstream: nowhere }',
        ].join('\n'),
      );
      const r = await run(['--check-config', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('listen.port: expected a port number (0-65535)');
      expect(r.stderr).toContain('defaults.timeoutMs: expected a positive integer');
      expect(r.stderr).toContain('upstreams.business.timeoutMs: expected a positive integer');
      expect(r.stderr).toContain('upstreams.business.retries: unknown key');
      expect(r.stderr).toContain('routes[0].upstream: unknown upstream "nowhere"');
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.stdout).toBe('');
    });

    it('exits 1 for an unset ${VAR}, naming the variable and the key that holds it', async () => {
      const bad = file('env.yaml', goodYaml().replace('port: 0 }', 'port: ${BREAKWATER_TEST_UNSET_PORT} }'));
      const r = await run(['--check-config', bad], { BREAKWATER_TEST_UNSET_PORT: undefined });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\n {2}listen\.port: environment variable BREAKWATER_TEST_UNSET_PORT is not set/);
      expect(r.stderr).not.toContain('listen.port: expected');
      expect(r.stderr).not.toMatch(STACK_LINE);
    });

    it('exits 1 for a file that cannot be read, without a stack trace', async () => {
      const r = await run(['--check-config', path.join(dir, 'missing.yaml')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('cannot read file (ENOENT)');
      expect(r.stderr).not.toMatch(STACK_LINE);
    });

    it('says in one line which file cannot be read and why, naming it once', async () => {
      const missing = path.join(dir, 'missing.yaml');
      for (const args of [['--check-config', missing], ['--config', missing]]) {
        const r = await run(args);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`breakwater: ${missing}: cannot read file (ENOENT): no such file\n`);
      }
    });

    it('accepts a JSON file that starts with a UTF-8 byte order mark', async () => {
      const r = await run(['--check-config', file('bom.json', `\uFEFF${JSON.stringify({ upstreams: { b: { url: upstream.url } }, routes: [{ path: '/b', upstream: 'b' }] })}`)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });

    it('exits 1 for a YAML syntax error, naming it, without a stack trace', async () => {
      const r = await run(['--check-config', file('syntax.yaml', 'listen: { port: 1\nroutes: [')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('syntax:');
      expect(r.stderr).not.toMatch(STACK_LINE);
    });

    it('exits 0 for a valid file (YAML or JSON) and says so', async () => {
      const yaml = await run(['--check-config', file('good.yaml', goodYaml())]);
      expect(yaml.code).toBe(0);
      expect(yaml.stdout).toMatch(/configuration is valid \(1 upstreams, 1 routes\)/);
      const json = await run([
        '--check-config',
        file('good.json', JSON.stringify({ upstreams: { b: { url: upstream.url } }, routes: [{ path: '/b', upstream: 'b' }] })),
      ]);
      expect(json.code).toBe(0);
    });
  });

  // Every usage error is covered by parseArgs' unit test; these prove the exit code and output.
  describe('bad usage exits 2 with the usage text', () => {
    it.each([
      [['--bogus']],
      [['--config']],
      [['--config', 'a.yaml', '--check-config', 'b.yaml']],
    ])('%j', async (args) => {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('Usage: breakwater');
      expect(r.stderr).not.toMatch(STACK_LINE);
    });

    it('--help exits 0 with the usage on stdout', async () => {
      const r = await run(['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: breakwater');
    });
  });

  describe('running', () => {
    it('--config FILE starts the gateway on that file; SIGTERM drains and exits 0', async () => {
      upstream.reset();
      const { run: r, status } = await startServeAndStop(['--config', file('run.yaml', goodYaml())]);
      expect(status).toBe(200);
      expect(upstream.received.map((q) => q.url)).toEqual(['/api/hello']);
      expect(r.code).toBe(0);
      expect(r.signal).toBeNull();
      expect(r.stdout).toContain('"event":"draining"');
    });

    it('GATEWAY_CONFIG=FILE does the same without arguments', async () => {
      upstream.reset();
      const { run: r, status } = await startServeAndStop([], { GATEWAY_CONFIG: file('env-run.yaml', goodYaml()) });
      expect(status).toBe(200);
      expect(upstream.received).toHaveLength(1);
      expect(r.code).toBe(0);
    });

    it('--config with a trusted proxy the gateway could not load exits 1 naming the key, never starting', async () => {
      const bad = file('bad-proxy.yaml', goodYaml().replace('port: 0 }', "port: 0, trustedProxies: ['not:an:ip'] }"));
      const r = await run(['--config', bad]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('listen.trustedProxies[0]: expected an IP address or CIDR');
      expect(r.stderr).not.toContain('Invalid socket address');
      expect(r.stdout).not.toContain('"event":"listening"');
    });

    it('GATEWAY_CONFIG naming an invalid file exits 1 naming that file (not the demo)', async () => {
      const bad = file('env-bad.yaml', 'upstreams: {}\nroutes: []\n');
      const r = await run([], { GATEWAY_CONFIG: bad });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(bad);
      expect(r.stderr).toContain('upstreams: expected at least one upstream');
      expect(r.stderr).toContain('routes: expected at least one route');
    });
  });
});
