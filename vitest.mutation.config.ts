import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (`npm run mutation`, stryker.config.mjs): the unit
 * tests of the mutated modules only. The CLI and serve tests reach the same code through child
 * processes, where a mutant is not switched on, and would only add minutes.
 */
export default defineConfig({
  test: {
    include: [
      'robot/safety*.test.ts',
      'policy/safe-environment.test.ts',
      'dashboard/server*.test.ts',
      'dashboard/telemetry*.test.ts',
      'dashboard/tls.test.ts',
      'dashboard/metrics.test.ts',
      'reward/shaping*.test.ts',
      'reward/fusion*.test.ts',
      'reward/labels*.test.ts',
      'reward/hops*.test.ts',
      'reward/pairs*.test.ts',
      'policy/run-store*.test.ts',
      'engine/trainer.test.ts',
      'engine/checkpoint*.test.ts',
    ],
    exclude: ['node_modules/**', 'tmp/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
