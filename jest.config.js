// Jest runs every test under test/, one project per folder, TypeScript through @swc/jest.
// `npm test` runs them all; `npm test -- --selectProjects unit`, `npm test -- test/unit/config.test.ts`
// or `npm test -- -t "name"` narrow it down (README, "Development"). test/topologies is not
// part of it: `npm run test:topologies` runs it (jest.topologies.config.js).
// @ts-check
const path = require('node:path');

/** @type {import('@swc/core').Options} */
const swc = {
  jsc: {
    parser: { syntax: 'typescript' },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

// openid-client v6 and its dependencies ship ES modules only: compile them like our sources.
const ESM_ONLY = ['openid-client', 'oauth4webapi', 'jose'];

/**
 * One project per test folder; `timeout` is a single test's (or hook's) limit in ms; `extra`
 * adds project options (the chart project's globalSetup).
 */
function project(name, timeout, extra = {}) {
  return {
    displayName: name,
    rootDir: __dirname,
    testMatch: [`<rootDir>/test/${name}/**/*.test.ts`],
    testEnvironment: 'node',
    transform: { '^.+\\.(t|j)s$': ['@swc/jest', swc] },
    transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
    moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
    setupFiles: [
      path.join(__dirname, 'test/jest/env.ts'),
      path.join(__dirname, 'test/jest/realm.ts'),
    ],
    setupFilesAfterEnv: [path.join(__dirname, 'test/jest/timeout.ts')],
    // read by test/jest/timeout.ts: Jest's testTimeout is global, not per project
    globals: { TEST_TIMEOUT_MS: timeout },
    ...extra,
  };
}

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    project('unit', 30_000),
    project('cli', 60_000),
    project('integration', 120_000),
    project('security', 120_000),
    // Builds helm and kubevalidate (scripts/build-tools.sh, cached in .bin/) before the chart
    // tests start, so a cold Go cache shows its output up front and costs no test its timeout.
    project('chart', 120_000, { globalSetup: '<rootDir>/test/jest/chart-tools.ts' }),
    project('e2e', 180_000),
  ],
  globalSetup: '<rootDir>/test/jest/global-setup.ts',
  globalTeardown: '<rootDir>/test/jest/global-teardown.ts',
  // The machine has two cores and may run another suite beside this one.
  maxWorkers: 2,
  coverageProvider: 'v8',
  collectCoverageFrom: ['src/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  // Warn about probable open handles (a leak to fix) when Jest has not exited 5 s after the run.
  openHandlesTimeout: 5000,
  verbose: true,
};
