/** Three projects so `npm test` (unit + integration) needs nothing but `npm ci`; e2e needs Chromium. */
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json' }];
const project = (name, extra = {}) => ({
  displayName: name,
  testEnvironment: 'node',
  testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
  transform: { '^.+\\.ts$': tsJest },
  ...extra,
});
module.exports = {
  projects: [
    project('unit'),
    project('integration', { testTimeout: 20000 }),
    project('e2e', { testTimeout: 60000 }),
  ],
};
