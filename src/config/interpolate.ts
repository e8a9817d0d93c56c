/**
 * One `${NAME}` or `${NAME:-default}` reference as a pattern source, for the published JSON
 * Schema (editors match whole values with it). The gateway itself finds references with a
 * hand-written scanner (markReferences), never with this pattern.
 */
export const REFERENCE_SOURCE = '\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\\}';
/** What stands in for a reference while the file is parsed: plain text in YAML and in a JSON string. */
const PREFIX = '__breakwater_env_';
const placeholder = (i: number): string => `${PREFIX}${i}__`;
const PLACEHOLDER = new RegExp(`${PREFIX}(\\d+)__`, 'g');
/** A scalar that is one placeholder and nothing else. */
const WHOLE = new RegExp(`^${PREFIX}\\d+__$`);
/** How deep references are looked for: far below any real key, far above a stack overflow. */
const MAX_DEPTH = 64;

/** One `${…}` in the file. */
interface Reference {
  name: string;
  fallback: string | undefined;
  line: number;
}

/** The file's text with every reference replaced by a placeholder, and what each one was. */
export interface MarkedText {
  text: string;
  references: readonly Reference[];
}

/** A variable referenced without a default and not set. */
export interface Missing {
  name: string;
  /** The line the reference is on. */
  line: number;
  /** The key whose value holds the reference; null when it sits in a key or is the whole document. */
  path: (string | number)[] | null;
}

export interface Resolved {
  /** The parsed document with every reference replaced by its value, always as text. */
  value: unknown;
  /** Variables referenced without a default and not set. */
  missing: Missing[];
  /**
   * Where a whole scalar was one reference (`port: ${PORT}`), as JSON-encoded paths: only
   * there may the text be read as the number or boolean the schema wants.
   */
  wholeValues: ReadonlySet<string>;
}

/**
 * Replaces each `${VAR}` / `${VAR:-default}` with a placeholder before the file is parsed, so
 * that a variable's value never goes through the YAML or JSON parser: a value such as
 * `abc #def` or `x, y: z` stays that text, instead of being cut at a comment or adding keys.
 * Outside a JSON string, the placeholder is quoted so the JSON stays valid. References on
 * YAML comment lines never reach the parsed document, so they are never looked up.
 */
export function markReferences(text: string, format: 'yaml' | 'json'): MarkedText {
  const references: Reference[] = [];
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
  const inString = format === 'json' ? jsonStringMask(text) : null;
  // Scanned by hand, each character once: a pattern such as /\$\{…(?::-([^}]*))?\}/g went
  // quadratic on a file of many unclosed `${a:-` (SECURITY.md, "Regular expressions").
  let out = '';
  let copied = 0;
  for (let at = text.indexOf('${'); at !== -1; at = text.indexOf('${', at)) {
    const ref = referenceAt(text, at);
    if (ref === 'unclosed') break; // no `}` anywhere after: no later reference can close either
    if (ref === null) {
      at += 2;
      continue;
    }
    const token = placeholder(references.length);
    references.push({ name: ref.name, fallback: ref.fallback, line: lineOf(lineStarts, at) });
    out += text.slice(copied, at) + (inString === null || inString[at] ? token : `"${token}"`);
    at = copied = ref.end;
  }
  return { text: out + text.slice(copied), references };
}

/**
 * The `${NAME}` or `${NAME:-default}` at `at` (names follow POSIX shell variable rules), with
 * the offset just past it; null when none starts there, 'unclosed' when a default never ends.
 */
function referenceAt(text: string, at: number): { name: string; fallback: string | undefined; end: number } | null | 'unclosed' {
  let i = at + 2;
  if (!isNameChar(text.charCodeAt(i), true)) return null;
  while (isNameChar(text.charCodeAt(i), false)) i++;
  const name = text.slice(at + 2, i);
  if (text.charCodeAt(i) === 125 /* } */) return { name, fallback: undefined, end: i + 1 };
  if (text.charCodeAt(i) !== 58 /* : */ || text.charCodeAt(i + 1) !== 45 /* - */) return null;
  const close = text.indexOf('}', i + 2);
  return close === -1 ? 'unclosed' : { name, fallback: text.slice(i + 2, close), end: close + 1 };
}

function isNameChar(c: number, first: boolean): boolean {
  return c === 95 || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (!first && c >= 48 && c <= 57);
}

/** The 1-based line of `offset`, by binary search over the lines' start offsets. */
function lineOf(lineStarts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((lineStarts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Puts the variables' values where the placeholders ended up in the parsed document (keys included). */
export function resolveReferences(parsed: unknown, marked: MarkedText, env: NodeJS.ProcessEnv): Resolved {
  const missing: Missing[] = [];
  const reported = new Set<number>();
  const wholeValues = new Set<string>();
  // A YAML alias can put one reference at several paths: it is reported once, at the first.
  const valueOf = (index: number, path: (string | number)[] | null): string => {
    const ref = marked.references[index] as Reference;
    const value = env[ref.name];
    if (value !== undefined && value !== '') return value;
    if (ref.fallback !== undefined) return ref.fallback;
    if (value === undefined && !reported.has(index)) {
      reported.add(index);
      missing.push({ name: ref.name, line: ref.line, path: path === null || path.length === 0 ? null : path });
    }
    return '';
  };
  const substitute = (s: string, path: (string | number)[] | null): string => s.replace(PLACEHOLDER, (_m, i: string) => valueOf(Number(i), path));
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    // No configuration key lies this deep; what does is invalid anyway, and left as it is.
    if (path.length > MAX_DEPTH) return node;
    if (typeof node === 'string') {
      if (!node.includes(PREFIX)) return node;
      if (WHOLE.test(node)) wholeValues.add(JSON.stringify(path));
      return substitute(node, path);
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (typeof node === 'object' && node !== null) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) {
        const k = key.includes(PREFIX) ? substitute(key, null) : key;
        // defineProperty: a key `__proto__` stays a key (and an unknown one), never a prototype.
        Object.defineProperty(out, k, { value: walk(item, [...path, k]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return node;
  };
  const value = marked.references.length === 0 ? parsed : walk(parsed, []);
  missing.sort((a, b) => a.line - b.line);
  return { value, missing, wholeValues };
}

/** For each character of a JSON text, whether it lies inside a string literal. */
function jsonStringMask(text: string): boolean[] {
  const mask: boolean[] = new Array<boolean>(text.length).fill(false);
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inside) {
      mask[i] = true;
      if (c === '\\') {
        mask[i + 1] = true;
        i++;
      } else if (c === '"') {
        inside = false;
      }
    } else if (c === '"') {
      inside = true;
      mask[i] = true;
    }
  }
  return mask;
}
