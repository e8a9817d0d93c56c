/**
 * Imports point one way (README "Architecture"): no file imports itself through others, and no
 * folder of src/ imports another that imports it back (proxy/ and upstreams/, errors/ and
 * routing/ once did). `core/` imports nothing of the project, `errors/` only `core/`, and
 * `client/` (when present) stands alone. Type-only imports count too: they tie the modules
 * together just the same for a reader.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(__dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

/** The project files a file imports (relative specifiers only), resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/g)) {
    const base = path.resolve(path.dirname(file), m[1] as string);
    const candidates = [`${base}.ts`, path.join(base, 'index.ts')];
    const hit = candidates.find((c) => {
      try {
        return statSync(c).isFile();
      } catch {
        return false;
      }
    });
    if (hit) out.push(hit);
  }
  return out;
}

/** Every cycle's members as found by a depth-first walk, each cycle once (as its first member sees it). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

const files = sourceFiles(SRC);
const fileGraph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string): string => path.relative(SRC, f);
/** The top folder under src/ (or the file itself at the top: gateway.ts, main.ts, …). */
const folderOf = (f: string): string => rel(f).split(path.sep)[0] as string;

describe('import graph of src/', () => {
  it('finds the imports it walks (the walk itself works)', () => {
    expect(files.length).toBeGreaterThan(20);
    const gateway = fileGraph.get(path.join(SRC, 'gateway.ts')) ?? [];
    expect(gateway.map(rel)).toContain(path.join('upstreams', 'registry.ts'));
    // A cycle planted in a copy of the graph is found: the check can fail.
    const planted = new Map(fileGraph);
    planted.set(path.join(SRC, 'core', 'clock.ts'), [path.join(SRC, 'gateway.ts')]);
    expect(findCycles(planted).length).toBeGreaterThan(0);
  });

  it('has no cycle between files', () => {
    expect(findCycles(fileGraph).map((c) => c.map(rel).join(' → '))).toEqual([]);
  });

  it('has no cycle between folders', () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, imports] of fileGraph) {
      const from = folderOf(file);
      const set = folders.get(from) ?? new Set<string>();
      for (const i of imports) if (folderOf(i) !== from) set.add(folderOf(i));
      folders.set(from, set);
    }
    const graph = new Map([...folders].map(([k, v]) => [k, [...v]]));
    expect(findCycles(graph).map((c) => c.join(' → '))).toEqual([]);
  });

  it('core/ imports nothing of the project, errors/ only core/', () => {
    const wrong: string[] = [];
    for (const [file, imports] of fileGraph) {
      const from = folderOf(file);
      const allowed = from === 'core' ? ['core'] : from === 'errors' ? ['core', 'errors'] : from === 'client' ? ['client'] : null;
      if (!allowed) continue;
      for (const i of imports) if (!allowed.includes(folderOf(i))) wrong.push(`${rel(file)} → ${rel(i)}`);
    }
    expect(wrong).toEqual([]);
  });
});
