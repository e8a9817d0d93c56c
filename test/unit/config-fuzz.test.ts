/**
 * Config fuzz (issue 6): random and mutated configurations fed to the loader. Whatever the
 * input, the loader either returns a valid, frozen configuration or throws a ConfigError whose
 * every line names the offending key (or the line of a syntax error): never another exception,
 * never a stack trace. Through the real CLI, an invalid file always means exit 1 with such a
 * message, and the gateway never starts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { ConfigError, formatPath as format, parseConfig, parseConfigText } from '../../src/config/load';
import { buildCli, type CliBuild } from '../helpers/cli-build';

/** `path: message`, where path is a key path such as `upstreams.business.timeoutMs` or `routes[0].path`. */
const ISSUE = /^(?:\(root\)|[^\s].*?|line \d+|syntax): \S/s;
const STACK = /^\s+at |\n\s+at |\.ts:\d+|\.js:\d+/;
/** zod's own English ("Invalid input: expected boolean, received string"), which the loader rewords. */
const RAW_ZOD = /: (Invalid|Too (small|big)|Unrecognized)\b/;
/** CONFIG_FUZZ_FACTOR=20 fuzzes twenty times as long (locally; CI runs the default). */
const FACTOR = Math.max(1, Number(process.env.CONFIG_FUZZ_FACTOR) || 1);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A valid configuration touching every section, so mutations reach every kind of key. */
function validConfig(): Record<string, Json> {
  return {
    listen: { host: '127.0.0.1', port: 0, trustedProxies: ['10.0.0.0/8'], requestTimeoutMs: 30000, headersTimeoutMs: 10000, keepAliveTimeoutMs: 5000, maxHeaderBytes: 16384 },
    admin: { host: '127.0.0.1', port: 0, token: 'secret' },
    shutdown: { drainTimeoutMs: 1000 },
    log: { level: 'silent' },
    defaults: {
      connectTimeoutMs: 2000,
      timeoutMs: 10000,
      failureStatuses: [500, 502, 503, 504],
      maxConcurrent: 100,
      breaker: { errorThresholdPercentage: 50, volumeThreshold: 5, resetTimeoutMs: 10000, rollingWindowMs: 10000 },
    },
    upstreams: {
      business: {
        url: 'http://127.0.0.1:9001',
        timeoutMs: 5000,
        breaker: { volumeThreshold: 10 },
        healthCheck: { path: '/health', intervalMs: 2000, timeoutMs: 1000, unhealthyThreshold: 2, healthyThreshold: 1 },
      },
      'credit-bureau': { url: 'https://127.0.0.1:9002', tls: { rejectUnauthorized: true, servername: 'bureau.example' } },
    },
    routes: [
      { path: '/api/loans', upstream: 'business', methods: ['GET', 'POST', 'PUT'], stripPrefix: false, requires: ['credit-bureau'], maxBodyBytes: 1048576 },
      { path: '/api/bureau', upstream: 'credit-bureau' },
    ],
  };
}

/** Every key path of a value, as arrays of keys and indexes. */
function pathsOf(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = prefix.length > 0 ? [prefix] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

type Mutation = { kind: 'set'; path: (string | number)[]; value: Json } | { kind: 'delete'; path: (string | number)[] } | { kind: 'add'; path: (string | number)[]; key: string; value: Json };

function apply(config: Record<string, Json>, m: Mutation): Record<string, Json> {
  const copy = structuredClone(config);
  const parentPath = m.kind === 'add' ? m.path : m.path.slice(0, -1);
  let parent: Json = copy;
  for (const key of parentPath) parent = (parent as Record<string | number, Json>)[key] as Json;
  const target = parent as Record<string | number, Json>;
  const last = m.path[m.path.length - 1] as string | number;
  // defineProperty, as JSON.parse and the YAML parser do: `obj.__proto__ = x` would set the prototype instead.
  const define = (key: string | number, value: Json): void => void Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  if (m.kind === 'set') define(last, m.value);
  else if (m.kind === 'add') define(m.key, m.value);
  else if (Array.isArray(target) && typeof last === 'number') target.splice(last, 1);
  else delete target[last];
  return copy;
}

const ALL_PATHS = pathsOf(validConfig());
const OBJECT_PATHS = [[], ...ALL_PATHS.filter((p) => {
  let v: Json = validConfig();
  for (const k of p) v = (v as Record<string | number, Json>)[k] as Json;
  return v !== null && typeof v === 'object' && !Array.isArray(v);
})];

/** Values a hand-written or templated config plausibly gets wrong, plus anything at all. */
const anyValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 65536, 1e21, '', ' ', '0', '8080', 'true', 'http://', '/', '..', '${UNSET}', [], {}, [null], { '': 1 }),
  fc.integer({ min: -100000, max: 100000 }),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...ALL_PATHS), value: anyValue }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...ALL_PATHS) }),
  fc.record({
    kind: fc.constant('add' as const),
    path: fc.constantFrom(...OBJECT_PATHS),
    key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'timeoutMS', 'port ', 'Url', 'method', 'require'), fc.string({ minLength: 1, maxLength: 12 })),
    value: anyValue,
  }),
);

interface Verdict {
  valid: boolean;
  issues: readonly string[];
}

/** Runs the loader; anything but a config or a ConfigError fails the property by throwing. */
function load(run: () => unknown): Verdict {
  try {
    const config = run();
    expect(Object.isFrozen(config)).toBe(true);
    return { valid: true, issues: [] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`loader threw ${(err as Error)?.name}: ${(err as Error)?.message}`);
    return { valid: false, issues: err.issues };
  }
}

function expectWellFormed(v: Verdict): void {
  if (v.valid) return;
  expect(v.issues.length).toBeGreaterThan(0);
  for (const issue of v.issues) {
    expect(issue).toMatch(ISSUE);
    expect(issue).not.toMatch(STACK);
    // The YAML or JSON parser's own words ("syntax: Invalid escape sequence \\l at line 1,
    // column 2") are the message for a syntax error; zod's, about a key, are reworded.
    if (!issue.startsWith('syntax: ')) expect(issue).not.toMatch(RAW_ZOD);
  }
}

/** Issue paths the mutation may be blamed under: itself, its parents, its children, or a cross-section check. */
function namesMutatedKey(issues: readonly string[], m: Mutation): boolean {
  const mutated = format(m.kind === 'add' ? [...m.path, m.key] : m.path);
  const parent = format(m.kind === 'add' ? m.path : m.path.slice(0, -1));
  return issues.some((issue) => {
    const p = issue.slice(0, issue.indexOf(': '));
    return (
      p === '(root)' ||
      p.startsWith(mutated) ||
      mutated.startsWith(p) ||
      // An array element's removal shifts the blame to its siblings, and a removed upstream to the routes naming it.
      (m.kind === 'delete' && (p.startsWith(parent) || /^routes\[\d+\]\.(upstream|requires)/.test(p))) ||
      /^routes\[\d+\]\.(upstream|requires\[\d+\]|path): (unknown upstream|duplicate)/.test(issue) ||
      /^admin\.port: must differ/.test(issue)
    );
  });
}

describe('config fuzz', () => {
  it('the base configuration is valid (so every failure below is the mutation’s)', () => {
    expect(load(() => parseConfig(validConfig())).valid).toBe(true);
  });

  it('any JSON value at all: a config or a ConfigError naming keys, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 3, withNullPrototype: true, withObjectString: true, withMap: true, withSet: true })), (raw) => {
        expectWellFormed(load(() => parseConfig(raw)));
      }),
      { numRuns: 400 * FACTOR },
    );
  }, 30000 * FACTOR);

  it('one mutation of a valid config: valid, or refused naming the mutated key', () => {
    fc.assert(
      fc.property(mutation, (m) => {
        const verdict = load(() => parseConfig(apply(validConfig(), m)));
        expectWellFormed(verdict);
        if (!verdict.valid && !namesMutatedKey(verdict.issues, m)) {
          throw new Error(`issues do not name the mutated key ${JSON.stringify(m)}: ${verdict.issues.join(' | ')}`);
        }
      }),
      { numRuns: 600 * FACTOR },
    );
  }, 30000 * FACTOR);

  it('several mutations at once, as YAML and as JSON text: always a well-formed verdict', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 2, maxLength: 6 }), fc.boolean(), (ms, asJson) => {
        let config = validConfig();
        for (const m of ms) {
          try {
            config = apply(config, m);
          } catch {
            // an earlier mutation removed this one's parent
          }
        }
        const text = asJson ? JSON.stringify(config) : toYaml(config);
        expectWellFormed(load(() => parseConfigText(text, asJson ? 'json' : 'yaml', {})));
      }),
      { numRuns: 300 * FACTOR },
    );
  }, 30000 * FACTOR);

  it('corrupted YAML text (characters inserted, dropped, replaced): a syntax or key error, never a crash', () => {
    const yaml = toYaml(validConfig());
    const edit = fc.record({
      at: fc.nat({ max: yaml.length }),
      drop: fc.nat({ max: 8 }),
      insert: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(':', '- ', '{', '}', '[', ']', '&a', '*a', '!!binary', '\t', '\n  ', '"', "'", '#', '${X}', '${X:-', '<<: *a', '%YAML 1.1\n---\n')),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = yaml;
        for (const e of edits) {
          const at = Math.min(e.at, text.length);
          text = text.slice(0, at) + e.insert + text.slice(at + e.drop);
        }
        expectWellFormed(load(() => parseConfigText(text, 'yaml', {})));
      }),
      // The first: found by a random run (a parser message that says "Invalid"); kept so every run tries it.
      { numRuns: 500 * FACTOR, examples: [[[{ at: 0, drop: 0, insert: '"\\' }]]] },
    );
  }, 30000 * FACTOR);

  it('alias bombs and deep nesting are refused, not expanded until memory runs out', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    const verdict = load(() => parseConfigText(bomb, 'yaml', {}));
    expectWellFormed(verdict);
    // Refused by the parser's alias cap, before anything is expanded.
    expect(verdict.issues).toEqual([expect.stringMatching(/^syntax: .*alias/i)]);
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    expectWellFormed(load(() => parseConfigText(deep, 'json', {})));
    expectWellFormed(load(() => parseConfigText(`listen: ${deep}`, 'yaml', {})));
  });

  describe('through the CLI', () => {
    let cli: CliBuild;
    let dir: string;
    beforeAll(() => {
      cli = buildCli();
      dir = mkdtempSync(path.join(os.tmpdir(), 'breakwater-fuzz-'));
    });
    afterAll(() => {
      cli.remove();
      rmSync(dir, { recursive: true, force: true });
    });

    function runCli(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
      return new Promise((resolve) => {
        const child = spawn(process.execPath, [cli.main, '--config', file], { env: { ...cli.env, ADMIN_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        // A process still running after this long has started: the worst outcome, and a failure.
        const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });
    }

    it('invalid generated configs: exit 1, every offending key named, no stack trace, never listening', async () => {
      // Mutations that make the config invalid, drawn with a fixed seed so the files are reproducible.
      const invalid = fc
        .sample(mutation, { numRuns: 400, seed: 4711 })
        .map((m) => ({ m, config: apply(validConfig(), m) }))
        .filter(({ config }) => !load(() => parseConfig(config)).valid)
        .slice(0, 6);
      expect(invalid).toHaveLength(6);
      for (const [i, { config }] of invalid.entries()) {
        const file = path.join(dir, `fuzz-${i}.${i % 2 === 0 ? 'yaml' : 'json'}`);
        writeFileSync(file, i % 2 === 0 ? toYaml(config) : JSON.stringify(config));
        const expected = load(() => parseConfig(config)).issues;
        const run = await runCli(file);
        expect({ file: path.basename(file), code: run.code }).toEqual({ file: path.basename(file), code: 1 });
        expect(run.stderr).not.toMatch(STACK);
        expect(run.stderr).toContain(`breakwater: ${file}: invalid configuration:`);
        for (const issue of expected) expect(run.stderr).toContain(issue);
        expect(run.stdout).not.toMatch(/"event":"listening"/);
      }
    }, 60000);
  });
});
