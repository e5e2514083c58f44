import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The vision check fixes its arm, observation and reward: a flag that would change one is refused
// before anything is simulated or written.
describe('bench:rl --vision', () => {
  for (const clash of [['--arms', 'pbrs'], ['--privileged'], ['--grm-features']]) {
    it(`refuses ${clash[0]} beside it`, () => {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/rl.ts', '--vision', ...clash], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`--vision with ${clash[0]}: expected --vision alone`);
    });
  }
});
