import { defineConfig } from 'vitest/config';

// Five projects, one `npm test`: unit (pure functions), integration (supertest + the in-process sandbox),
// security (each defence shown holding against its attack: the proof behind SECURITY.md), interop (the same
// scenarios against an independent OpenID provider, glewlwyd), e2e (playwright-core driving Debian's Chromium).
// Everything but unit starts real servers on port 0 or a free port.
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
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // one external provider and one browser at a time on a 2-core CI machine
          fileParallelism: false,
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
