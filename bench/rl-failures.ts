/**
 * Where does a trained policy fail? Loads a finished (or stopped) `dopamine rl` run's newest good
 * checkpoint and runs it on the same fresh seeds four ways: the deterministic policy (what the
 * success curve evaluates), the sampled one (what collects training rollouts), and the two mixes
 * (deterministic motion with the sampled gripper, and the reverse), so a gap between the first two
 * is pinned on the motion or on the gripper. Each episode is classed by the furthest stage it
 * reached, judged by PRIVILEGED simulator progress (debugging only: object poses the policy never
 * sees), with its longest stall (consecutive steps moving less than a tenth of the step cap) and,
 * at its last state, the gripper's log-odds and which hand the critics value more.
 * A diagnostic, not a timing: writes bench/results/rl-failures-<name>.json.
 *
 *   npm run bench:rl-failures -- --run-dir <dir> [--episodes 20] [--name label] [--eval-seeds n]
 *   (--modes deterministic,sampled,mixed: which of the four ways, default all; --eval-seeds n: the seeds of the run's own evaluation after n rollouts instead of fresh ones)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createLogger } from '../common/log.js';
import { vectorToAction } from '../policy/environment.js';
import { LocalLearner } from '../policy/learner.js';
import { Rng } from '../policy/rng.js';
import { checkRemovedSettings } from '../policy/resume-flags.js';
import type { RlSettings } from '../policy/train.js';
import { evaluationSeed, runEnvironment, runLearnerSettings, runObservations } from '../policy/train.js';
import { deriveSeed } from '../robot/sim/rng.js';

function textFlag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const runDir = textFlag('--run-dir');
const episodes = Number(textFlag('--episodes') ?? '20');
if (!runDir || !existsSync(join(runDir, 'run.json')) || !(Number.isInteger(episodes) && episodes >= 1)) {
  console.error('bench:rl-failures: expected --run-dir <folder of a dopamine rl run, with run.json and checkpoints> and --episodes >= 1');
  process.exit(2);
}
const name = textFlag('--name') ?? basename(runDir);
const evalSeedsOf = textFlag('--eval-seeds') === undefined ? undefined : Number(textFlag('--eval-seeds'));
if (evalSeedsOf !== undefined && !(Number.isInteger(evalSeedsOf) && evalSeedsOf >= 0)) {
  console.error(`bench:rl-failures: --eval-seeds: expected a number of rollouts (an evaluation point of the run), got ${textFlag('--eval-seeds')}`);
  process.exit(2);
}

/** Fresh seeds, a stream no run draws from (train.ts uses 0.5M..3M). */
const FAILURE_STREAM = 4_000_000;
/** Translation below this fraction of the step cap counts as standing still. */
const STALL_FRACTION = 0.1;

const MODES = {
  deterministic: { motion: 'mode', gripper: 'mode' },
  sampled: { motion: 'sample', gripper: 'sample' },
  'deterministic motion, sampled gripper': { motion: 'mode', gripper: 'sample' },
  'sampled motion, deterministic gripper': { motion: 'sample', gripper: 'mode' },
} as const;
type Mode = keyof typeof MODES;
const modes = (textFlag('--modes')?.split(',') ?? ['deterministic', 'sampled', 'mixed']).flatMap((m): Mode[] => {
  if (m === 'mixed') return ['deterministic motion, sampled gripper', 'sampled motion, deterministic gripper'];
  if (m === 'deterministic' || m === 'sampled') return [m];
  console.error(`bench:rl-failures: --modes: expected a comma-separated subset of deterministic, sampled, mixed, got ${JSON.stringify(m)}`);
  process.exit(2);
});

/**
 * pick-place's PRIVILEGED progress bands (policy/environment.ts): reaching up to 0.35, +0.05 with
 * the hand closed at the cube, 0.45..0.9 holding it (rising as it nears the bin), 0.95 released
 * over the bin, 1 success.
 */
function stage(success: boolean, maxProgress: number): string {
  if (success) return 'success';
  if (maxProgress >= 0.95) return 'released over the bin, not in it';
  if (maxProgress >= 0.45) return 'held the cube, never released it over the bin';
  if (maxProgress >= 0.3) return 'reached the cube, never held it';
  return 'never reached the cube';
}

interface EpisodeTrace {
  seed: number;
  success: boolean;
  steps: number;
  stage: string;
  maxProgress: number;
  finalProgress: number;
  longestStall: number;
  gripperSwitches: number;
  /** At the last state: the closed-hand log-odds and the critics' values of the motion's mode with the hand closed and open. */
  last: { logit: number; qClosed: number; qOpen: number; handClosed: boolean };
}

const settings = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RlSettings;
// A run that used a removed option (docs/rl-options.md) would not act as it trained: refused by name.
try {
  checkRemovedSettings(settings, join(runDir, 'run.json'));
} catch (error) {
  console.error(`bench:rl-failures: ${(error as Error).message}`);
  process.exit(2);
}
if (settings.task !== 'pick-place') {
  console.error(`bench:rl-failures: expected a pick-place run (its stages are named from PRIVILEGED progress), got task ${settings.task}`);
  process.exit(2);
}
const log = createLogger('bench:rl-failures', 'warn');
const { sim, env } = await runEnvironment(settings, log);
const ways = modes.length === 4 ? 'four ways' : modes.join(' / ');
const encoder = await runObservations(settings, sim);
const learner = await LocalLearner.create(runLearnerSettings(settings, encoder.size, env.maxSteps), runDir, log);
const restored = learner.restore();
if (!restored.restored) {
  console.error(`bench:rl-failures: expected a checkpoint in ${join(runDir, 'checkpoints')}, found none that loads`);
  process.exit(2);
}
const seedsLabel = evalSeedsOf === undefined ? 'fresh seeds' : `seeds of the run's evaluation after ${evalSeedsOf} rollouts`;
console.log(`${restored.checkpoint}: ${learner.sac.updates} updates; ${episodes} ${seedsLabel}, ${ways}`);

async function trace(mode: Mode, seed: number, rng: Rng): Promise<EpisodeTrace> {
  const { motion, gripper } = MODES[mode];
  let current = await env.reset(seed);
  let maxProgress = current.privileged!.progress;
  let [stall, longestStall, switches, steps, success] = [0, 0, 0, 0, false];
  let previousClosed: boolean | undefined;
  let observation = await encoder.encode(current);
  for (; steps < env.maxSteps && !success; steps++) {
    const [mean, sample] = [await learner.act(observation, rng, true), await learner.act(observation, rng, false)];
    const action = Float32Array.from(motion === 'mode' ? mean : sample);
    action[4] = (gripper === 'mode' ? mean : sample)[4]!;
    const closed = action[4]! > 0;
    if (previousClosed !== undefined && closed !== previousClosed) switches++;
    previousClosed = closed;
    // Policy units: 1 is the step cap.
    stall = Math.hypot(action[0]!, action[1]!, action[2]!) < STALL_FRACTION ? stall + 1 : 0;
    longestStall = Math.max(longestStall, stall);
    const step = await env.act(vectorToAction(action, settings.bounds));
    if (step.heldBy !== undefined) break;
    current = step.next;
    maxProgress = Math.max(maxProgress, current.privileged!.progress);
    observation = await encoder.encode(current);
    success = step.success === true;
  }
  const view = await learner.sac.inspectGripper(observation);
  return {
    seed, success, steps, stage: stage(success, maxProgress), maxProgress, finalProgress: current.privileged!.progress, longestStall, gripperSwitches: switches,
    last: { ...view, handClosed: previousClosed === true },
  };
}

const results: Record<string, { successes: number; stages: Record<string, number>; failures: { longestStallMean: number; criticPrefersOtherHand: number; meanAbsLogit: number }; episodes: EpisodeTrace[] }> = {};
for (const mode of modes) {
  const traces: EpisodeTrace[] = [];
  for (let j = 0; j < episodes; j++) {
    const seed = evalSeedsOf === undefined ? deriveSeed(settings.seed, FAILURE_STREAM + j) : evaluationSeed(settings.seed, evalSeedsOf, j);
    traces.push(await trace(mode, seed, new Rng(deriveSeed(settings.seed, FAILURE_STREAM + 100_000 + j))));
  }
  const failed = traces.filter((t) => !t.success);
  const stages: Record<string, number> = {};
  for (const t of traces) stages[t.stage] = (stages[t.stage] ?? 0) + 1;
  const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
  results[mode] = {
    successes: traces.length - failed.length,
    stages,
    failures: {
      longestStallMean: mean(failed.map((t) => t.longestStall)),
      // The critics rank the hand the policy is not holding higher at the failure's last state.
      criticPrefersOtherHand: failed.filter((t) => (t.last.handClosed ? t.last.qOpen > t.last.qClosed : t.last.qClosed > t.last.qOpen)).length,
      meanAbsLogit: mean(failed.map((t) => Math.abs(t.last.logit))),
    },
    episodes: traces,
  };
  const r = results[mode];
  console.log(`${mode}: ${r.successes}/${episodes} successes; ${Object.entries(stages).map(([s, n]) => `${s} ${n}`).join(', ')}`);
  console.log(`  failures: longest stall ${r.failures.longestStallMean.toFixed(1)} steps on average, |gripper log-odds| ${r.failures.meanAbsLogit.toFixed(1)} at the end, critics prefer the other hand in ${r.failures.criticPrefersOtherHand} of ${failed.length}`);
}
await env.close();

const out = join('bench', 'results', `rl-failures-${name}.json`);
mkdirSync(join('bench', 'results'), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      run: runDir, checkpoint: restored.checkpoint, updates: learner.sac.updates, task: settings.task, shaping: settings.shaping, seed: settings.seed,
      privileged: 'stages judged by PRIVILEGED simulator progress (debugging only)', seeds: seedsLabel, episodes, stallFraction: STALL_FRACTION, modes: results,
    },
    null,
    1,
  ),
);
console.log(`wrote ${out}`);
