/**
 * Compiles src/ to JavaScript in a temporary directory so CLI tests can spawn the real entry
 * point (`node …/src/main.js`) on the current sources. Each file is transpiled on its own
 * (tsconfig has isolatedModules, so that is exact); type checking is `tsc --noEmit`'s job.
 * A full `tsc` build takes ~20 s on two cores; this takes about one. Modules resolve from
 * the project's node_modules through NODE_PATH.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface CliBuild {
  /** Absolute path of the compiled src/main.js. */
  main: string;
  /** Environment for spawning it: NODE_PATH set so dependencies resolve. */
  env: NodeJS.ProcessEnv;
  remove(): void;
}

export function buildCli(): CliBuild {
  const out = mkdtempSync(path.join(os.tmpdir(), 'breakwater-cli-'));
  const compilerOptions: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    esModuleInterop: true,
    isolatedModules: true,
  };
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const from = path.join(rel, entry.name);
      if (entry.isDirectory()) {
        mkdirSync(path.join(out, from), { recursive: true });
        walk(from);
      } else if (entry.name.endsWith('.ts')) {
        const { outputText } = ts.transpileModule(readFileSync(path.join(ROOT, from), 'utf8'), { compilerOptions, fileName: from });
        writeFileSync(path.join(out, from.replace(/\.ts$/, '.js')), outputText);
      } else {
        cpSync(path.join(ROOT, from), path.join(out, from)); // demo YAML, dashboard files
      }
    }
  };
  mkdirSync(path.join(out, 'src'));
  walk('src');
  return {
    main: path.join(out, 'src', 'main.js'),
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    remove: () => rmSync(out, { recursive: true, force: true }),
  };
}
