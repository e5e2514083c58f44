/**
 * The two-process set-up end to end: `dopamine rl-learner` in one process, `dopamine rl --learner`
 * in another. With --learner-max-lag 0 the actor waits at each episode start (and before each
 * evaluation) until the learner has done every update owed for the episodes sent, so at the end
 * the learner has done exactly updatesPerStep updates per online transition, as in one process.
 * The networks are sized so that the learner is much slower than the actor: without the bound the
 * run would end with updates still owed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../cli/testing.js';
import { startLearnerProcess } from './learner-process.js';
import type { RlResult } from './train.js';

const dir = mkdtempSync(join(tmpdir(), 'rl-two-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'cpu.yaml');
writeFileSync(config, 'engine:\n  executionProvider: cpu\n  threads: 1\n');

const tiny = ['--task', 'pick-place', '--observation', 'privileged', '--reward', 'privileged', '--demos', '2', '--hidden', '256,256', '--batch-size', '256', '--updates-per-step', '2', '--eval-every', '2', '--eval-episodes', '1', '--max-steps', '40', '--bc-steps', '10', '--critic-warmup-steps', '10', '--final-eval-episodes', '1', '--actor-delay', '0'];

describe('rl with a learner process and a lag bound', () => {
  it('the learner has done every owed update by the end; the result says the actor waited', async () => {
    const learner = await startLearnerProcess({ args: ['--config', config, '--port', '0', '--run-dir', join(dir, 'learner')], cwd: repoRoot, stderr: 'ignore' });
    try {
      const port = learner.port;
      const run = runCli(['rl', '--config', config, ...tiny, '--rollouts', '4', '--run-dir', join(dir, 'actor'), '--learner', `127.0.0.1:${port}`, '--learner-max-lag', '0', '--json'], { timeoutMs: 180_000 });
      expect(run.stderr).not.toMatch(/internal error/);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as RlResult;
      const transitions = result.rollouts.reduce((n, r) => n + r.steps, 0);
      expect(result.rollouts).toHaveLength(4);
      expect(result.learner.updates).toBe(2 * transitions);
      expect(result.learner.where).toMatch(/actor waits at each episode start until at most 0 updates are owed/);
      expect(result.learner.actorWaitS).toBeGreaterThanOrEqual(0);
      expect(result.curve.map((p) => p.rollouts)).toEqual([0, 2, 4]);
      // The learner's health travels with each point once it has made full updates (none before the first rollout).
      expect(result.curve[0]!.learner).toBeUndefined();
      for (const point of result.curve.slice(1)) {
        expect(point.learner!.updates).toBeGreaterThan(0);
        expect(point.learner!.updates).toBeLessThanOrEqual(200);
        for (const value of [point.learner!.meanQ, point.learner!.criticLoss, point.learner!.actorLoss, point.learner!.entropy]) expect(Number.isFinite(value)).toBe(true);
        expect(point.learner!.alpha).toBeGreaterThan(0);
      }
    } finally {
      await learner.stop();
    }
  }, 240_000);

  it('a learner that cannot start is reported with what it printed, not waited on', async () => {
    await expect(startLearnerProcess({ args: ['--port', 'not-a-port', '--run-dir', join(dir, 'bad')], cwd: repoRoot, stderr: 'ignore' })).rejects.toThrow(/rl-learner exited with 2 before listening/);
  }, 60_000);
});
