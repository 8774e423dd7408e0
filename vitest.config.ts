import { defineConfig } from 'vitest/config';

// Three projects, one `npm test`: unit (pure functions), integration (supertest + the in-process sandbox),
// e2e (playwright-core driving Debian's Chromium). Integration and e2e start real servers on port 0.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // one browser at a time on a 2-core CI machine
          fileParallelism: false,
        },
      },
    ],
  },
});
