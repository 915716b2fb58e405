// `npm run test:topologies`: test/topologies starts its own Redis Cluster and Sentinel group on
// loopback and kills masters, so it stays out of `npm test` (jest.config.js) and runs alone,
// one file at a time, with the other projects' settings and a long per-test limit (a failover
// takes 30-60 s on a quiet machine, several times that on a loaded one).
// @ts-check
const base = require('./jest.config.js');

const template = /** @type {import('jest').Config} */ (base.projects[0]);

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  projects: [
    {
      ...template,
      displayName: 'topologies',
      testMatch: ['<rootDir>/test/topologies/**/*.test.ts'],
      globals: { TEST_TIMEOUT_MS: 600_000 },
    },
  ],
  maxWorkers: 1,
};
