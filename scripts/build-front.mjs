// Front-end build (run by `npm run build`): the caller kit breakwater/client as one ESM file
// with its type declarations, and the demo app's bundle. esbuild, not tsc, bundles: browsers
// get one file, and the kit's size is measured on exactly what ships.
//   node scripts/build-front.mjs            everything
//   node scripts/build-front.mjs client     only dist/client
//   node scripts/build-front.mjs web        only dist/web
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv[2];
/** Browsers of 2023 and Node 20. */
const target = ['es2022', 'chrome110', 'firefox115', 'safari16.4', 'node20'];

/** The kit as one readable ESM file, a package.json that makes dist/client ESM, and .d.ts from tsc. */
async function buildClient() {
  const out = path.join(root, 'dist', 'client');
  rmSync(out, { recursive: true, force: true });
  await esbuild.build({ entryPoints: [path.join(root, 'src/client/index.ts')], outfile: path.join(out, 'index.js'), bundle: true, format: 'esm', platform: 'neutral', target, logLevel: 'warning' });
  writeFileSync(path.join(out, 'package.json'), '{ "type": "module", "sideEffects": false }\n');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.client.json')], { stdio: 'inherit' });
  const bytes = await clientSize();
  console.log(`breakwater/client: ${bytes.minified} bytes minified, ${bytes.gzipped} bytes minified+gzipped`);
}

/** What a browser bundle of the whole kit costs: minified, then gzipped (level 9). */
export async function clientSize() {
  const result = await esbuild.build({ entryPoints: [path.join(root, 'src/client/index.ts')], bundle: true, format: 'esm', platform: 'neutral', target, minify: true, write: false });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length };
}

/** The demo app (served by the demo business layer at /app/): one bundle plus its static files. */
async function buildWeb() {
  const src = path.join(root, 'src/web/app');
  const out = path.join(root, 'dist/web/app');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await esbuild.build({ entryPoints: [path.join(src, 'main.ts')], outfile: path.join(out, 'app.js'), bundle: true, format: 'esm', platform: 'browser', target, minify: true, sourcemap: true, logLevel: 'warning' });
  for (const file of readdirSync(src)) if (/\.(html|css|svg)$/.test(file)) copyFileSync(path.join(src, file), path.join(out, file));
  console.log(`demo app: ${path.relative(root, out)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (only !== 'web') await buildClient();
  if (only !== 'client' && existsSync(path.join(root, 'src/web/app'))) await buildWeb();
}
