// Front-end build (run by `npm run build`): the caller kit breakwater/client as one ESM file
// with its type declarations, and the demo app's bundle. esbuild, not tsc, bundles: browsers
// get one file, and the kit's size is measured on exactly what ships.
//   node scripts/build-front.mjs            everything
//   node scripts/build-front.mjs client     only dist/client
//   node scripts/build-front.mjs web        only dist/web (the demo app and the dashboard)
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

/**
 * The browser pages, each one bundle plus its static files: the demo app (served by the demo
 * business layer at /app/, an ES module) and the operators' dashboard (served by the admin
 * listener at /dashboard, a classic script, readable: operators may want to see what runs).
 */
async function buildWeb() {
  const pages = [
    { name: 'app', bundle: 'app.js', format: 'esm', minify: true },
    { name: 'dashboard', bundle: 'dashboard.js', format: 'iife', minify: false },
  ];
  for (const page of pages) {
    const src = path.join(root, 'src/web', page.name);
    const out = path.join(root, 'dist/web', page.name);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    await esbuild.build({ entryPoints: [path.join(src, 'main.ts')], outfile: path.join(out, page.bundle), bundle: true, format: page.format, platform: 'browser', target, minify: page.minify, sourcemap: page.minify, logLevel: 'warning' });
    for (const file of readdirSync(src)) if (/\.(html|css|svg)$/.test(file)) copyFileSync(path.join(src, file), path.join(out, file));
    console.log(`${page.name}: ${path.relative(root, out)}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (only !== 'web') await buildClient();
  if (only !== 'client' && existsSync(path.join(root, 'src/web'))) await buildWeb();
}
