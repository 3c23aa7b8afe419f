import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      '*/test/**/*.test.ts',
      'test/e2e/**/*.test.ts',
      'test/controlplane/**/*.test.ts',
      'test/helm/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // The control-plane and broker suites start real processes on 2 cores;
    // running their files one after another keeps them from starving each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
