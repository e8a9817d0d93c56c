/** Three projects so `npm test` (unit + integration) needs nothing but `npm ci`; e2e needs Chromium. */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
/*
 * Per-project test timeouts are set by a setup file (jest.setTimeout): jest reads
 * `testTimeout` from the root configuration only, and silently ignores it inside a project,
 * so integration tests ran with jest's default 5 s and failed as soon as a loaded machine
 * made one take longer.
 */
const project = (name, timeoutMs) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform: { '^.+\\.ts$': tsJest },
  // src/client imports with .js extensions (it is ESM); jest resolves them to the .ts sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  ...(timeoutMs ? { setupFilesAfterEnv: [`<rootDir>/test/helpers/timeout-${timeoutMs}.ts`] } : {}),
});
module.exports = {
  // Builds dist/web (the dashboard and the demo app) once per run.
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  projects: [
    project('unit'),
    project('integration', 20000),
    project('e2e', 60000),
  ],
};
