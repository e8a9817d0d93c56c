/**
 * `import { createClient } from 'breakwater/client'` works for a consumer (README "Caller
 * kit"): the package's exports entry resolves to the built ESM file and its declarations.
 * Builds dist/client with the project's own build step, installs the package into a scratch
 * project (a symlink, as `npm install ../breakwater` makes) and runs and type-checks a
 * consumer there, on plain Node.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { oneRoute, startGateway, type StartedGateway } from '../helpers/gateway';
import { startUpstream, type ControlledUpstream } from '../helpers/upstream';

const root = path.resolve(__dirname, '..', '..');
// Asynchronous: the gateway the child calls runs in this process.
const run = promisify(execFile);

describe('breakwater/client as a package', () => {
  let project: string;
  let upstream: ControlledUpstream;
  let gw: StartedGateway;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(root, 'scripts/build-front.mjs'), 'client'], { cwd: root, stdio: 'pipe' });
    project = mkdtempSync(path.join(tmpdir(), 'bw-consumer-'));
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(root, path.join(project, 'node_modules', 'breakwater'), 'dir');
    writeFileSync(path.join(project, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
    upstream = await startUpstream();
    gw = await startGateway(oneRoute(upstream.url, { timeoutMs: 200 }));
  }, 60_000);
  afterAll(async () => {
    rmSync(project, { recursive: true, force: true });
    await gw?.close();
    await upstream?.close();
  });

  it('ships one ESM file without imports (no runtime dependencies)', () => {
    const code = readFileSync(path.join(root, 'dist/client/index.js'), 'utf8');
    expect(code).not.toMatch(/\bimport\s*[({'"a-zA-Z*]|require\(/);
    expect(code).toMatch(/export\s*{[^}]*createClient/);
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(manifest.exports['./client']).toEqual({ types: './dist/client/index.d.ts', default: './dist/client/index.js' });
  });

  it('is imported by name from an ES module on Node and talks to a real gateway', async () => {
    upstream.setMode({ kind: 'hang' });
    writeFileSync(path.join(project, 'consumer.mjs'), `
      import { createClient, ProblemError, watchConnection, createDraftStore } from 'breakwater/client';
      const client = createClient({ baseUrl: process.env.GATEWAY });
      try {
        await client.request('/api/loans', { method: 'POST', body: '{}' });
        console.log('resolved?');
      } catch (err) {
        console.log(JSON.stringify({ isProblem: err instanceof ProblemError, code: err.problem.code, attempts: err.attempts,
          kinds: [typeof watchConnection, typeof createDraftStore] }));
      }
    `);
    const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project, env: { ...process.env, GATEWAY: gw.url }, encoding: 'utf8' });
    expect(JSON.parse(stdout)).toEqual({ isProblem: true, code: 'UPSTREAM_TIMEOUT', attempts: 1, kinds: ['function', 'function'] });
  });

  it('type-checks a TypeScript consumer (module nodenext) against the declarations', async () => {
    writeFileSync(path.join(project, 'consumer.mts'), `
      import { createClient, ProblemError, type ClientOptions, type ConnectionState, type Problem } from 'breakwater/client';
      const options: ClientOptions = { baseUrl: 'http://127.0.0.1:1', retry: { maxAttempts: 2 }, budget: { tokens: 5 } };
      const client = createClient(options);
      export async function save(): Promise<Problem | number> {
        try { return (await client.request('/x', { method: 'POST', idempotencyKey: true })).status; }
        catch (err) { if (err instanceof ProblemError) return err.problem; throw err; }
      }
      export const s: ConnectionState = 'offline';
    `);
    writeFileSync(path.join(project, 'bad.mts'), `
      import { createClient } from 'breakwater/client';
      createClient({ baseUrl: 'x', retry: { attempts: 2 } });
    `);
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const tsconfig = (file: string) => JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [] }, files: [file] });
    writeFileSync(path.join(project, 'tsconfig.json'), tsconfig('consumer.mts'));
    writeFileSync(path.join(project, 'tsconfig.bad.json'), tsconfig('bad.mts'));
    await expect(run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project })).resolves.toBeDefined();
    // And the declarations are strict enough to refuse a misspelt option.
    const output = await run(process.execPath, [tsc, '-p', 'tsconfig.bad.json'], { cwd: project }).then(() => 'compiled', (err: { stdout?: string }) => String(err.stdout));
    expect(output).toMatch(/'attempts' does not exist/);
  }, 60_000);
});
