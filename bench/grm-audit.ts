/**
 * Can a learner game the reward model's "done"? Runs `dopamine rl` on the held-out task with
 * success judged by the model only (`--success progress`: the completion judge over the adapted
 * GRM-tiny's fused progress, reward/completion.ts), then replays every training rollout the model
 * called a success on the simulator and asks the simulator's predicate whether the task was done
 * at the step the model said so. The policy observes the simulator's exact state
 * (`--observation privileged`): this audit tests the judge, not the policy's eyes; a policy that
 * learns the task gives the judge real successes to confirm, and one that games it, false ones.
 * Writes bench/results/grm-audit.json (or --out file).
 *
 *   npm run bench:grm-audit -- [--rollouts 150] [--seed 1] [--reward-model file] [--run-dir dir] [--out file]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { EpisodeRecord, EvalRecord, LogRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import type { RlSettings } from '../policy/train.js';
import { numberFlag, textFlag } from './lib/flags.js';
import { replayClaims } from './lib/success-replay.js';

const task = 'pick-place';
const rollouts = numberFlag('--rollouts') ?? 150;
const seed = numberFlag('--seed') ?? 1;
const model = textFlag('--reward-model');
const out = textFlag('--out') ?? join('bench', 'results', 'grm-audit.json');
const keep = textFlag('--run-dir');
if (model !== undefined && !existsSync(model)) {
  console.error(`bench:grm-audit: --reward-model ${model}: no such file (expected an ONNX reward model)`);
  process.exit(2);
}
const runDir = keep ?? mkdtempSync(join(tmpdir(), 'grm-audit-'));
// The lab set-up of docs/rl-experiments.md (one layout, 10 demos, the learner's kept options).
const lab = ['--layout-spread', '0.3', '--demos', '10', '--bc-steps', '0', '--bc-weight', '10', '--normalise-q', '--success-demos',
  '--gripper-logit-limit', '5', '--q-filter'];
const resumed = existsSync(join(runDir, 'run.json'));
const args = ['bin/dopamine.js', 'rl', '--task', task, '--success', 'progress', '--reward', 'model', '--observation', 'privileged',
  '--rollouts', String(rollouts), '--seed', String(seed), '--run-dir', runDir, '--eval-every', String(rollouts), '--final-eval-episodes', '20',
  ...lab, ...(model ? ['--reward-model', model] : []), ...(resumed ? ['--resume'] : [])];
const started = performance.now();
console.log(`dopamine ${args.slice(1).join(' ')}`);
const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
if (run.status !== 0) {
  console.error(`bench:grm-audit: dopamine rl exited with ${run.status ?? run.signal}; run folder ${runDir}`);
  process.exit(1);
}
const trainSeconds = (performance.now() - started) / 1000;
const settings = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RlSettings;
const { records } = new RecordLog<LogRecord>(join(runDir, 'episodes.log')).read();
const trained = records.filter((r): r is EpisodeRecord => r.kind === 'episode');
const claims = trained.filter((r) => r.success);
const replayed = await replayClaims(settings, claims);
const confirmed = replayed.filter((c) => c.confirmed).length;
const evaluation = records.filter((r): r is EvalRecord => r.kind === 'eval').at(-1);
const report = {
  task,
  judge: `completion judge over the adapted GRM-tiny's fused progress: >= ${1 - settings.successDelta} held over ${settings.successWindow} scored steps (every control step)`,
  observation: "privileged: the policy observes the simulator's exact state; this audit tests the judge, not the policy's eyes",
  confirmation: "the simulator's success predicate at the step the model called success, on a replay of the logged actions",
  rollouts: trained.length,
  claimedSuccesses: claims.length,
  confirmed,
  precision: claims.length === 0 ? null : Math.round((confirmed / claims.length) * 1000) / 1000,
  confirmedAtSomeStep: replayed.filter((c) => c.confirmedAnyStep).length,
  // Rollouts the model let run to their end although the predicate held at their last step.
  missedSuccesses: await missed(settings, trained.filter((r) => !r.success)),
  falseSuccessSteps: replayed.filter((c) => !c.confirmed).map((c) => c.steps),
  claims: replayed,
  policyEvaluation: evaluation ? { judge: "the simulator's predicate, deterministic policy, fresh seeds", successes: evaluation.successes, episodes: evaluation.episodes } : null,
  settings: { seed, rewardModel: model ?? 'GRM-tiny adapted one-shot on one clean expert demo (cached in the run folder)', args: args.slice(2) },
  // A resumed run (--run-dir of an earlier one) times only what this invocation ran.
  seconds: { rl: Math.round(trainSeconds), total: Math.round((performance.now() - started) / 1000), resumed },
  machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, date: new Date().toISOString() },
  note: process.env.BENCH_NOTE ?? '',
};
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 1)}\n`);
console.log(`${task}: ${claims.length} of ${trained.length} training rollouts called successes by the model, ${confirmed} confirmed by the simulator (precision ${report.precision ?? 'n/a'}); false successes after ${report.falseSuccessSteps.join(', ') || 'none'} steps`);
console.log(`wrote ${out}`);
if (!keep) rmSync(runDir, { recursive: true, force: true });

/** How many rollouts the model let run to the step limit while the task was done at their end. */
async function missed(s: RlSettings, notClaimed: readonly EpisodeRecord[]): Promise<number> {
  const done = await replayClaims(s, notClaimed);
  return done.filter((c) => c.confirmed).length;
}
