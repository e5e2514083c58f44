import { describe, expect, it } from 'vitest';
import { runCli } from '../testing.js';

type Classes = { success: number; partial: number; failure: number };
const sum = (c: Classes): number => c.success + c.partial + c.failure;

describe('dopamine grm eval', () => {
  it('exits 2 with one line on a bad --near-miss or --regression count', () => {
    for (const [flag, value] of [['--near-miss', '-1'], ['--regression', 'many']] as const) {
      const run = runCli(['grm', 'eval', flag, value]);
      expect(run.code, flag).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`${flag}: expected an integer in 0\\.\\.1000, got "${value}"`));
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('reports near misses, regressions and completion accuracy over clean, failed and near-miss rollouts', () => {
    const run = runCli(['grm', 'eval', '--task', 'pick-place', '--clean', '1', '--failed', '1', '--near-miss', '2', '--regression', '1', '--adapt-steps', '2', '--json'], { timeoutMs: 180_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as {
      clean: { after: { episodes: number; completion: Classes } };
      failed: { after: { count: number; classes: Classes } };
      nearMiss: { episodes: number; classes: Classes; variants: Record<string, { episodes: number; success: number }> };
      regression: { episodes: number; finalError: number; finalProgress: { truth: number; model: number } };
      completionAccuracy: number;
    };
    const { clean, failed, nearMiss, regression } = report;
    expect(nearMiss.episodes).toBe(2);
    expect(sum(nearMiss.classes)).toBe(2);
    // The first two near-miss classes of pick-place, one rollout each.
    expect(Object.keys(nearMiss.variants)).toEqual(['beside-target', 'released-over-rim']);
    expect(Object.values(nearMiss.variants).reduce((n, v) => n + v.success, 0)).toBe(nearMiss.classes.success);
    expect(regression.episodes).toBe(1);
    // Played back to before the success: the true final progress is below 1.
    expect(regression.finalProgress.truth).toBeLessThan(1);
    expect(regression.finalError).toBeCloseTo(Math.abs(regression.finalProgress.model - regression.finalProgress.truth), 2);
    const right = clean.after.completion.success + failed.after.count - failed.after.classes.success + nearMiss.episodes - nearMiss.classes.success;
    expect(report.completionAccuracy).toBeCloseTo(right / (clean.after.episodes + failed.after.count + nearMiss.episodes), 3);
  });
});
