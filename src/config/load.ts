import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { upstreamReading } from '../core/path-reading';
import { markReferences, resolveReferences } from './interpolate';
import { describeReadFailure } from './read-failure';
import { tlsFileIssues } from './tls-files';
import { queueCrossCheck } from './queue-schema';
import { configSchema, isUpstreamName, NAME_RULE, type RawConfig } from './schema';
import type { GatewayConfig, UpstreamConfig } from './types';

/** Invalid configuration; `issues` holds one `path: message` line per offending key. */
export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The configuration file cannot be read at all. There is nothing to validate, so the whole
 * message is one line naming the file and the reason; `issues` keeps the usual form.
 */
export class ConfigFileError extends ConfigError {
  constructor(readonly file: string, readonly code: string) {
    super([`${file}: cannot read file (${code})`]);
    this.name = 'ConfigFileError';
    this.message = `${file}: ${describeReadFailure(code)}`;
  }
}

/** Reads, interpolates, validates and freezes a YAML or JSON configuration file. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, (err as NodeJS.ErrnoException).code ?? 'error');
  }
  return parseConfigText(text, extname(file).toLowerCase() === '.json' ? 'json' : 'yaml', env);
}

/** Same as loadConfigFile, from text already in memory. */
export function parseConfigText(text: string, format: 'yaml' | 'json', env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  // Editors on Windows save UTF-8 with a byte order mark; JSON.parse calls it a syntax error.
  const marked = markReferences(text.startsWith('\uFEFF') ? text.slice(1) : text, format);
  let parsed: unknown;
  try {
    parsed = format === 'json' ? JSON.parse(marked.text) : parseYaml(marked.text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (err) {
    // The parser's message names line and column; its stack is of no use to the user.
    throw new ConfigError([`syntax: ${(err as Error).message.split('\n')[0]}`]);
  }
  const { value, missing, wholeValues } = resolveReferences(parsed ?? {}, marked, env);
  // Named by the key that holds the reference, like every other message (SPEC §2); a
  // reference in a key has no such path, only its line.
  const issues = missing.map((m) => `${m.path ? formatPath(m.path) : `line ${m.line}`}: environment variable ${m.name} is not set and has no default (use \${${m.name}:-default})`);
  // What else is wrong with such a key's value (`port: ${PORT}` left empty is no port number)
  // follows from the unset variable alone: a second line would only send the reader the wrong
  // way. A key that is itself unknown is wrong whatever the variable holds, and still said.
  const unsetKeys = missing.flatMap((m) => (m.path ? [`${formatPath(m.path)}: `] : []));
  const followsFromUnset = (issue: string): boolean => !issue.endsWith(': unknown key') && unsetKeys.some((k) => issue.startsWith(k));
  let config: GatewayConfig;
  try {
    config = parseConfig(readSubstitutedScalars(withEnvironmentDefaults(value, env), wholeValues));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...issues, ...err.issues.filter((i) => !followsFromUnset(i))]);
    throw err;
  }
  // An unset variable is an error even when the rest of the file is valid (SPEC §3): the
  // empty string it left behind may well pass validation (a token, a host).
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/**
 * A value that came whole from a variable is text (`PORT=8181` gives "8181"). Where the
 * schema wants a number or a boolean there, the text is read as one, and only there:
 * `token: ${ADMIN_TOKEN}` with ADMIN_TOKEN=123456 stays the string "123456".
 */
function readSubstitutedScalars(raw: unknown, wholeValues: ReadonlySet<string>): unknown {
  if (wholeValues.size === 0) return raw;
  const result = configSchema.safeParse(raw);
  if (result.success) return raw;
  for (const issue of result.error.issues) {
    if (issue.code !== 'invalid_type' || (issue.expected !== 'number' && issue.expected !== 'boolean')) continue;
    if (!wholeValues.has(JSON.stringify(issue.path))) continue;
    const parent = issue.path.slice(0, -1).reduce<unknown>((node, key) => (node as Record<PropertyKey, unknown>)[key as PropertyKey], raw) as Record<PropertyKey, unknown>;
    const key = issue.path[issue.path.length - 1] as PropertyKey;
    const text = parent[key];
    if (typeof text !== 'string') continue;
    if (issue.expected === 'number' && /^\s*-?\d+(\.\d+)?\s*$/.test(text)) parent[key] = Number(text);
    if (issue.expected === 'boolean' && (text === 'true' || text === 'false')) parent[key] = text === 'true';
  }
  return raw;
}

/**
 * SPEC §3's defaults that come from the environment: `admin.token` is `${ADMIN_TOKEN:-}`
 * when the file does not set it, so an operator who exports ADMIN_TOKEN is never left with
 * an open admin API because the file has no `admin` section.
 */
function withEnvironmentDefaults(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const token = env.ADMIN_TOKEN;
  if (!token || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const admin = (raw as { admin?: unknown }).admin;
  if (admin === undefined || admin === null) return { ...raw, admin: { token } };
  if (typeof admin !== 'object' || Array.isArray(admin) || (admin as { token?: unknown }).token !== undefined) return raw;
  return { ...raw, admin: { ...admin, token } };
}

/** Validates an already-parsed object into the frozen, defaulted configuration. */
export function parseConfig(raw: unknown): GatewayConfig {
  // reportInput: zod 4 leaves `issue.input` out otherwise, and describeIssue needs it to tell
  // a missing key from a value of the wrong type.
  const result = configSchema.safeParse(raw, { reportInput: true, error: houseMessage });
  const issues = [...(result.success ? [] : withoutFollowUps(result.error.issues).flatMap(describeIssue)), ...crossCheck(raw), ...tlsFileIssues(raw)];
  if (!result.success || issues.length > 0) throw new ConfigError(issues);
  return deepFreeze(resolve(result.data));
}

/**
 * `upstreams.business.timeoutMs`, `routes[0].path`. A key that would be invisible or misread
 * in that notation (empty, leading or trailing blanks, control characters, `: `) is quoted,
 * `listen["port "]`, so a stray space in a key is still visible in the message.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'symbol' || key === '' || key.trim() !== key || key.includes(': ') || hasControlCharacter(key)) out += `[${JSON.stringify(String(key))}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out || '(root)';
}

function hasControlCharacter(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * The wording for issues whose schema gives no message of its own (a schema's own message
 * always wins over this map): zod's defaults ("Invalid input: expected boolean, received
 * string") read unlike every other line of the report. Returning undefined keeps zod's.
 */
function houseMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    if (issue.expected === 'boolean') return 'expected true or false';
    if (issue.expected === 'string') return 'expected a string';
    if (issue.expected === 'number') return 'expected a number';
  }
  if (issue.code === 'too_small' && issue.origin === 'array') return issue.minimum === 1 ? 'expected a non-empty list' : `expected at least ${String(issue.minimum)} items`;
  if (issue.code === 'too_small' && issue.origin === 'string') return 'expected a non-empty string';
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map(String).join(', ')}`;
  return undefined;
}

/**
 * zod goes on checking a value of the wrong type (`instanceIdField: []` is also "too small",
 * as an array): once a key's type is wrong, that is the one thing to say about it.
 */
function withoutFollowUps(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const wrongType = new Set(issues.filter((i) => i.code === 'invalid_type').map((i) => JSON.stringify(i.path)));
  return issues.filter((i) => i.code === 'invalid_type' || !wrongType.has(JSON.stringify(i.path)));
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`);
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return [`${formatPath(issue.path)}: required`];
  if (issue.code === 'invalid_type' && (issue.expected === 'object' || issue.expected === 'record')) return [`${formatPath(issue.path)}: expected a mapping`];
  if (issue.code === 'invalid_type' && issue.expected === 'array') return [`${formatPath(issue.path)}: expected a list`];
  if (issue.code === 'invalid_key') return issue.issues.map((i) => `${formatPath(issue.path)}: ${i.message}`);
  return [`${formatPath(issue.path)}: ${issue.message}`];
}

/** Checks between sections that a per-key schema cannot express. Works on raw input so it can run beside schema errors. */
function crossCheck(raw: unknown): string[] {
  if (!isObject(raw)) return [];
  const issues: string[] = [];
  // An empty mapping is a mapping too: `upstreams: {}` leaves every route's upstream unknown.
  const names = isObject(raw.upstreams) ? new Set(Object.keys(raw.upstreams)) : null;
  const seen = new Map<string, number>();
  const readings = new Map<string, number>();
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  routes.forEach((route, i) => {
    if (!isObject(route)) return;
    if (typeof route.upstream === 'string' && names && !names.has(route.upstream)) {
      issues.push(`routes[${i}].upstream: unknown upstream "${route.upstream}"`);
    }
    if (Array.isArray(route.requires)) {
      route.requires.forEach((r, j) => {
        if (typeof r === 'string' && names && !names.has(r)) issues.push(`routes[${i}].requires[${j}]: unknown upstream "${r}"`);
      });
    }
    if (typeof route.path === 'string') {
      const first = seen.get(route.path);
      const reading = upstreamReading(route.path) ?? route.path;
      const alike = readings.get(reading);
      if (first !== undefined) issues.push(`routes[${i}].path: duplicate of routes[${first}].path "${route.path}"`);
      // The gateway refuses a path an upstream reads as another route's; two routes read alike cannot be told apart.
      else if (alike !== undefined) issues.push(`routes[${i}].path: reads as routes[${alike}].path "${String((routes[alike] as { path: string }).path)}" to an upstream that folds case or drops ";" parameters`);
      else seen.set(route.path, i);
      if (alike === undefined) readings.set(reading, i);
    }
  });
  if (isObject(raw.upstreams)) {
    for (const [name, u] of Object.entries(raw.upstreams)) {
      if (!isUpstreamName(name)) issues.push(`${formatPath(['upstreams', name])}: ${NAME_RULE}`);
      // TLS options on a plain-http upstream would be silently ignored: most likely the url was meant to be https://.
      if (!isObject(u)) continue;
      const hasUrl = u.url !== undefined;
      const hasTargets = u.targets !== undefined;
      if (hasUrl === hasTargets) issues.push(`${formatPath(['upstreams', name])}: expected either url or targets (not both)`);
      const urls = hasTargets && Array.isArray(u.targets) ? u.targets.map((t) => (isObject(t) ? t.url : undefined)) : [u.url];
      if (u.tls !== undefined && urls.some((x) => typeof x === 'string' && x.startsWith('http:'))) {
        issues.push(`${formatPath(['upstreams', name, 'tls'])}: applies only to an https:// url`);
      }
      if (Array.isArray(u.targets)) {
        const names = new Map<string, number>();
        u.targets.forEach((t, i) => {
          const targetName = isObject(t) && typeof t.name === 'string' ? t.name : `${name}-${i + 1}`;
          const first = names.get(targetName);
          if (first !== undefined) issues.push(`${formatPath(['upstreams', name, 'targets', i, 'name'])}: duplicate of targets[${first}] "${targetName}"`);
          else names.set(targetName, i);
        });
      }
    }
  }
  const listen = isObject(raw.listen) ? raw.listen : {};
  const admin = isObject(raw.admin) ? raw.admin : {};
  issues.push(...tlsCrossCheck(listen, admin, routes));
  const listenPort = listen.port ?? 8080;
  const adminPort = admin.port ?? 9090;
  if (typeof listenPort === 'number' && listenPort !== 0 && listenPort === adminPort) {
    issues.push(`admin.port: must differ from listen.port (${listenPort})`);
  }
  issues.push(...queueCrossCheck(raw, formatPath));
  return issues;
}

/**
 * A client certificate is only worth asking for when there is a CA to verify it against (without
 * one, Node would accept any certificate from a public CA), and a route or header that relies
 * on one needs the traffic listener to ask for it.
 */
function tlsCrossCheck(listen: Record<string, unknown>, admin: Record<string, unknown>, routes: readonly unknown[]): string[] {
  const issues: string[] = [];
  for (const [at, section] of [['listen', listen], ['admin', admin]] as const) {
    const tls = section.tls;
    if (isObject(tls) && tls.requestCert === true && tls.ca === undefined) issues.push(`${at}.tls.ca: required with requestCert: true (callers' certificates are verified against it)`);
  }
  const asks = isObject(listen.tls) && listen.tls.requestCert === true;
  if (isObject(listen.tls) && listen.tls.clientCertHeader !== undefined && !asks) issues.push('listen.tls.clientCertHeader: needs listen.tls.requestCert: true');
  routes.forEach((route, i) => {
    if (isObject(route) && route.clientCert === 'required' && !asks) issues.push(`routes[${i}].clientCert: required needs listen.tls with requestCert: true`);
  });
  return issues;
}

function resolve(raw: RawConfig): GatewayConfig {
  const d = raw.defaults;
  const upstreams: UpstreamConfig[] = Object.entries(raw.upstreams).map(([name, u]) => {
    const targets = (u.targets ?? [{ url: u.url as string }]).map((t, i) => ({ name: t.name ?? `${name}-${i + 1}`, url: withoutTrailingSlashes(t.url) }));
    return {
    name,
    url: (targets[0] as { url: string }).url,
    targets,
    balance: u.balance,
    retry: u.retry,
    ...(u.sticky ? { sticky: u.sticky } : {}),
    connectTimeoutMs: u.connectTimeoutMs ?? d.connectTimeoutMs,
    timeoutMs: u.timeoutMs ?? d.timeoutMs,
    failureStatuses: u.failureStatuses ?? d.failureStatuses,
    maxConcurrent: u.maxConcurrent ?? d.maxConcurrent,
    breaker: { ...d.breaker, ...u.breaker },
    ...(u.healthCheck ? { healthCheck: u.healthCheck } : {}),
    ...(u.tls ? { tls: u.tls } : {}),
    ...(u.headers ? { headers: u.headers } : {}),
    };
  });
  return { listen: raw.listen, admin: raw.admin, shutdown: raw.shutdown, log: raw.log, queue: raw.queue, upstreams, routes: raw.routes };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** `url` without the slashes it ends with (by hand: a pattern like /\/+$/ is quadratic on many slashes). */
function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 47) end--;
  return url.slice(0, end);
}
