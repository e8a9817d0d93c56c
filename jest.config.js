/** Three projects so `npm test` (unit + integration) needs nothing but `npm ci`; e2e needs Chromium. */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
const project = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform: { '^.+\\.ts$': tsJest },
  // src/client imports with .js extensions (it is ESM); jest resolves them to the .ts sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  ...extra,
});
module.exports = {
  // Builds dist/web (the dashboard and the demo app) once per run.
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  projects: [
    project('unit'),
    project('integration', { testTimeout: 20000 }),
    project('e2e', { testTimeout: 60000 }),
  ],
};
