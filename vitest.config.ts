import { defineConfig } from 'vitest/config';

/**
 * Three kinds of tests, named by suffix: *.unit.test.ts (no servers), *.int.test.ts (real engines,
 * started once by the global setup), *.e2e.test.ts (running Cairn processes over HTTP/WebSocket).
 */
export default defineConfig({
  test: {
    // JSON reports (one per `npm run test:<kind>`) let .ci/run print one plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      { test: { name: 'unit', include: ['test/**/*.unit.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'int',
          include: ['test/**/*.int.test.ts'],
          globalSetup: ['test/setup/engines.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          globalSetup: ['test/setup/engines.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
          // Each e2e file starts whole Cairn processes: one file at a time on a 2-core machine.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
      {
        test: {
          name: 'fault',
          include: ['test/**/*.fault.test.ts'],
          globalSetup: ['test/setup/engines.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Fault tests stop and restart shared engines: strictly one file at a time, after the others.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
