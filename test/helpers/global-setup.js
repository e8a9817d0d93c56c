/**
 * Jest global setup: builds the browser pages (dist/web: the dashboard the admin listener
 * serves, the demo app), so that `npm test` after nothing but `npm ci` serves the same files
 * `npm start` does. esbuild takes well under a second for both.
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = function buildFront() {
  const root = path.resolve(__dirname, '..', '..');
  execFileSync(process.execPath, [path.join(root, 'scripts/build-front.mjs'), 'web'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
};
