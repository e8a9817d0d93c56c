import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { markReferences, resolveReferences } from './interpolate';
import { describeReadFailure } from './read-failure';
import { tlsFileIssues } from './tls-files';
import { crossCheck } from './cross-check';
import { formatPath } from './key-path';
import { configSchema, type RawConfig } from './schema';
import type { GatewayConfig, UpstreamConfig } from './types';

export { formatPath };

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
