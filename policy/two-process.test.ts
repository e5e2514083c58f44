/**
 * The two-process set-up end to end: `dopamine rl-learner` in one process, `dopamine rl --learner`
 * in another. With --learner-max-lag 0 the actor waits at each episode start (and before each
 * evaluation) until the learner has done every update owed for the episodes sent, so at the end
 * the learner has done exactly updatesPerStep updates per online transition, as in one process.
 * The networks are sized so that the learner is much slower than the actor: without the bound the
 * run would end with updates still owed.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../cli/testing.js';
import { startLearnerProcess } from './learner-process.js';
import type { EvalPolicyRecord, EvalRecord, LogRecord } from './records.js';
import { RecordLog } from './run-store.js';
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
      const run = runCli(['rl', '--config', config, ...tiny, '--rollouts', '4', '--run-dir', join(dir, 'actor'), '--learner', `127.0.0.1:${port}`, '--learner-token-file', learner.tokenFile, '--learner-max-lag', '0', '--json'], { timeoutMs: 180_000 });
      expect(run.stderr).not.toMatch(/internal error/);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout) as RlResult;
      const transitions = result.rollouts.reduce((n, r) => n + r.steps, 0);
      expect(result.rollouts).toHaveLength(4);
      expect(result.learner.updates).toBe(2 * transitions);
      expect(result.learner.where).toMatch(/actor waits at each episode start until at most 0 updates are owed/);
      expect(result.learner.actorWaitS).toBeGreaterThanOrEqual(0);
      expect(result.curve.map((p) => p.rollouts)).toEqual([0, 2, 4]);
      // Points before the last ran beside training with the policy logged when they were due; the last one after it.
      const logged = new RecordLog<LogRecord>(join(dir, 'actor', 'episodes.log')).read().records;
      const at = (kind: string, rollouts: number): number => logged.findIndex((r) => r.kind === kind && (r as EvalRecord | EvalPolicyRecord).rollouts === rollouts);
      expect(logged.filter((r): r is EvalPolicyRecord => r.kind === 'eval-policy').map((r) => r.rollouts)).toEqual([0, 2]);
      expect(logged.filter((r): r is EvalRecord => r.kind === 'eval').map((r) => r.rollouts)).toEqual([0, 2, 4]);
      for (const n of [0, 2]) expect(at('eval-policy', n)).toBeLessThan(at('eval', n));

      // A run stopped after logging the policy of point 2 but before its result: resuming evaluates that policy again.
      const cut = join(dir, 'actor-cut');
      mkdirSync(cut);
      copyFileSync(join(dir, 'actor', 'run.json'), join(cut, 'run.json'));
      const cutLog = new RecordLog<LogRecord>(join(cut, 'episodes.log'));
      const original = logged[at('eval', 2)] as EvalRecord;
      for (const r of logged) if (r !== original) cutLog.append(r);
      const resumed = runCli(['rl', '--config', config, '--resume', '--run-dir', cut, '--learner', `127.0.0.1:${port}`, '--learner-token-file', learner.tokenFile, '--learner-max-lag', '0', '--json'], { timeoutMs: 120_000 });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toMatch(/evaluation after 2 rollouts did not finish before the run stopped: evaluating the policy logged for it again/);
      const again = (JSON.parse(resumed.stdout) as RlResult).curve;
      expect(again.map((p) => p.rollouts)).toEqual([0, 2, 4]);
      // The same weights on the same seeds: the same result.
      expect(again[1]!.success).toBe(original.success);
      expect(cutLog.read().records.filter((r): r is EvalRecord => r.kind === 'eval').map((r) => r.rollouts)).toEqual([0, 4, 2]);
      expect(logged.filter((r) => r.kind === 'episode').length).toBe(4);
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
