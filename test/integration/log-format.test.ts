/**
 * `log.format` through the real entry point: JSON lines, unchanged, when stdout is no
 * terminal (`auto`, the default); pino-pretty's lines, through pino's transport, when it is
 * one (a real pseudo-terminal from util-linux's `script`) or when `pretty` is configured,
 * as the demo does. Each run serves one request and is stopped the way its user would stop
 * it (SIGTERM, or Ctrl-C at the terminal), so the last lines prove nothing is lost on exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildCli, type CliBuild } from '../helpers/cli-build';
import { request, waitFor } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
/** util-linux's `script` (Debian's bsdutils, always installed) gives a child a real terminal. */
const HAS_SCRIPT = /util-linux/.test(spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout ?? '');

interface Run {
  code: number | null;
  stdout: string;
  status: number;
}

describe('log format (compiled entry point)', () => {
  let cli: CliBuild;
  let dir: string;
  let upstream: ControlledUpstream;

  beforeAll(async () => {
    cli = buildCli();
    dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-log-format-'));
    upstream = await startUpstream();
  });
  afterAll(async () => {
    cli.remove();
    rmSync(dir, { recursive: true, force: true });
    await upstream.close();
  });

  const config = (name: string, logSection: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, ['listen: { host: 127.0.0.1, port: 0 }', 'admin: { host: 127.0.0.1, port: 0 }', logSection, 'upstreams:', `  business: { url: ${upstream.url} }`, 'routes:', '  - { path: /api, upstream: business }'].join('\n'));
    return file;
  };

  /**
   * Starts `child`, waits for the traffic listener's line (JSON or pretty), sends GET
   * /api/hello, then stops it with `stop` and collects everything it wrote.
   */
  async function serveOnce(child: ChildProcess, stop: (child: ChildProcess) => void): Promise<Run> {
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 15000);
    try {
      let port = 0;
      await waitFor(() => {
        const m = /traffic listener up.*?"port":(\d+)/.exec(stdout.replace(ANSI, '')) ?? /"port":(\d+)[^\n]*"msg":"traffic listener up"/.exec(stdout);
        port = m ? Number(m[1]) : 0;
        return port > 0 || child.exitCode !== null;
      }, 10000, 'traffic listener log line');
      const r = await request(`http://127.0.0.1:${port}`, '/api/hello');
      // The request line is written when the response is over; wait for it before stopping.
      await waitFor(() => /request completed/.test(stdout), 5000, 'request log line');
      stop(child);
      return { code: await closed, stdout, status: r.status };
    } finally {
      clearTimeout(killer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }

  const spawnPiped = (file: string, env: NodeJS.ProcessEnv = {}): ChildProcess =>
    spawn(process.execPath, [cli.main, '--config', file], { env: { ...cli.env, GATEWAY_CONFIG: '', NO_COLOR: '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });

  /** The gateway on a pseudo-terminal: what `script` relays is what a person's terminal shows. */
  const spawnOnTerminal = (file: string, env: NodeJS.ProcessEnv = {}): ChildProcess =>
    spawn('script', ['-qfec', `exec '${process.execPath}' '${cli.main}' --config '${file}'`, '/dev/null'], {
      env: { ...cli.env, GATEWAY_CONFIG: '', NO_COLOR: '', TERM: 'xterm', ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
  const sigterm = (child: ChildProcess): void => void child.kill('SIGTERM');
  const ctrlC = (child: ChildProcess): void => void child.stdin?.write('\u0003');

  it('auto (the default), stdout piped: JSON lines, one per line, request line unchanged', async () => {
    const r = await serveOnce(spawnPiped(config('auto.yaml', 'log: { level: info }')), sigterm);
    expect(r.status).toBe(200);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'request completed')).toMatchObject({
      level: 30,
      service: 'breakwater',
      req: { method: 'GET', path: '/api/hello' },
      route: '/api',
      upstream: 'business',
      breaker: 'closed',
      res: { status: 200 },
      msg: 'request completed',
    });
    expect(lines.at(-1)).toMatchObject({ event: 'closed', msg: 'gateway closed' });
    expect(r.stdout).not.toMatch(ANSI);
  });

  it('pretty, stdout piped (as the demo configures it): one readable line per entry, no colour, nothing lost on exit', async () => {
    const r = await serveOnce(spawnPiped(config('pretty.yaml', 'log: { level: info, format: pretty }')), sigterm);
    expect(r.status).toBe(200);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    for (const line of lines) {
      expect(line).toMatch(/^\[\d{2}:\d{2}:\d{2}\.\d{3}\] (INFO|WARN|ERROR|DEBUG): /);
      expect(() => JSON.parse(line)).toThrow();
    }
    expect(lines.find((l) => l.includes('request completed'))).toMatch(/^\[[\d:.]+\] INFO: GET \/api\/hello → 200 [\d.]+ ms request completed \{"requestId":"[^"]+","route":"\/api","upstream":"business","targets":\["business-1"\],"attempts":1,"breaker":"closed"\}$/);
    expect(lines.at(-1)).toMatch(/INFO: gateway closed \{"event":"closed"\}$/);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it('pretty follows an environment variable, as the demo does with LOG_FORMAT', async () => {
    const file = config('env.yaml', 'log: { format: "${LOG_FORMAT:-pretty}" }');
    const json = await serveOnce(spawnPiped(file, { LOG_FORMAT: 'json' }), sigterm);
    expect(json.stdout.trimEnd().split('\n').every((l) => typeof JSON.parse(l) === 'object')).toBe(true);
    const pretty = await serveOnce(spawnPiped(file, { LOG_FORMAT: undefined }), sigterm);
    expect(pretty.stdout).toMatch(/INFO: GET \/api\/hello → 200 /);
  });

  (HAS_SCRIPT ? describe : describe.skip)('on a terminal (util-linux script)', () => {
    it('auto: coloured pretty lines; Ctrl-C drains and exits 0 with the last lines shown', async () => {
      const r = await serveOnce(spawnOnTerminal(config('tty.yaml', 'log: { level: info }')), ctrlC);
      expect(r.status).toBe(200);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(ANSI);
      const plain = r.stdout.replace(ANSI, '');
      expect(plain).toMatch(/INFO: GET \/api\/hello → 200 [\d.]+ ms request completed \{"requestId"/);
      expect(plain).toMatch(/INFO: shutting down \{"signal":"SIGINT"\}/);
      expect(plain).toMatch(/INFO: gateway closed \{"event":"closed"\}\r?\n$/);
      expect(plain).not.toMatch(/"level":30/);
    });

    it('auto with NO_COLOR: pretty lines without colour', async () => {
      const r = await serveOnce(spawnOnTerminal(config('tty-nocolor.yaml', 'log: { level: info }'), { NO_COLOR: '1' }), ctrlC);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/INFO: GET \/api\/hello → 200 /);
      expect(r.stdout).not.toMatch(ANSI);
    });

    it('json on a terminal stays JSON', async () => {
      const r = await serveOnce(spawnOnTerminal(config('tty-json.yaml', 'log: { level: info, format: json }')), ctrlC);
      expect(r.code).toBe(0);
      const lines = r.stdout.split(/\r?\n/).filter((l) => l.startsWith('{'));
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('request completed');
      expect(r.stdout).not.toMatch(ANSI);
    });
  });
});
