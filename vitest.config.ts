import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Process tests start `gavel` as a child; give them room without hiding a hang.
    testTimeout: 30_000,
    // Two test files at a time even on a 2-core machine (vitest's default there is one): most
    // files wait on PostgreSQL, NATS or child processes, and one at a time no longer fits CI's
    // 20 minutes. Nothing here times itself against the wall clock, so sharing cores only slows.
    maxWorkers: 2,
    minWorkers: 1,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
