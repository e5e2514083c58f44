/**
 * How good a potential is the adapted GRM-tiny's fused progress, measured against the simulator's
 * PRIVILEGED geometric progress on the same states. pbrs pays gamma * P(s') - P(s) every step, so
 * what matters is (a) whether P is lower in failing states than in succeeding ones and (b) how
 * much of each step's change in P is noise. Episodes are the scripted expert at several noise
 * levels (noise 1 misjudges the cube, lapses and drops it), under the RL benchmark's set-up.
 *
 *   npm run bench:rl-potential [-- --layout-spread f] [--episodes n] [--adapt-variants n]
 *     [--adapt-steps n] [--work-dir d] [--stem name]
 *
 * Writes bench/results/<stem>.json (default rl-potential[-layout<f>]).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { loadConfig } from '../config/load.js';
import { adaptedRewardModel } from '../policy/adapted-reward.js';
import { SimEnvironment } from '../policy/environment.js';
import { viewsOf } from '../policy/reward-model.js';
import { spearman } from '../reward/evaluation.js';
import type { FusionHops, FusionOptions } from '../reward/fusion.js';
import { ProgressFusion } from '../reward/fusion.js';
import { progressAfterHop } from '../reward/hops.js';
import type { TaskReferences } from '../reward/model.js';
import { predictFusedStep } from '../reward/model.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { readReferences } from '../reward/task-references.js';
import { findTask } from '../robot/sim/tasks.js';
import { benchRlSettings } from './rl-settings.js';
import { numberFlag, textFlag } from './flags.js';

const flag = numberFlag;

const log = createLogger('bench:rl-potential');
const config = loadConfig(undefined);
const settings = benchRlSettings(config);
const spread = flag('--layout-spread');
if (spread !== undefined && !(spread >= 0 && spread <= 1)) throw new Error(`--layout-spread: expected a fraction from 0 to 1, got ${textFlag('--layout-spread')}`);
const layout = spread === undefined ? undefined : { seed: flag('--layout-seed') ?? 0, spread };
const perNoise = flag('--episodes') ?? 10;
const noises = [0.3, 0.6, 1];
const variants = flag('--adapt-variants');
const adaptSteps = flag('--adapt-steps') ?? settings.adapt.steps;
const stem = textFlag('--stem') ?? `rl-potential${layout ? `-layout${layout.spread}` : ''}`;
const workIndex = process.argv.indexOf('--work-dir');
const work = workIndex >= 0 ? process.argv[workIndex + 1]! : mkdtempSync(join(tmpdir(), 'bench-rl-potential-'));
mkdirSync(work, { recursive: true });

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const mean = (v: readonly number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);
const std = (v: readonly number[]): number => Math.sqrt(mean(v.map((x) => (x - mean(v)) ** 2)));

interface EpisodeTrace {
  noise: number;
  seed: number;
  success: boolean;
  /** The model's three hops for each state after the first. */
  hops: FusionHops[];
  privileged: number[];
}

/** The potentials compared: the plain mean of the three perspectives, the configured fusion, and the anchored estimates alone. */
const fusions: Record<string, FusionOptions | 'anchored'> = {
  mean: { ...config.reward.fusion, consistency: false },
  configured: config.reward.fusion,
  anchored: 'anchored',
};
const fused = (t: EpisodeTrace, options: FusionOptions | 'anchored'): number[] => {
  // anchored: the mean of the forward- and backward-anchored estimates alone, a function of
  // (START, s_t, GOAL) with no chain through earlier states (not a fusion the product offers).
  if (options === 'anchored') return [0, ...t.hops.map((h) => (progressAfterHop(0, h.fromStart) + progressAfterHop(1, h.fromGoal)) / 2)];
  const fusion = new ProgressFusion(options);
  return [fusion.progress, ...t.hops.map((h) => fusion.step(h).progress)];
};

/** Probability that a random successful episode's value beats a random failed one's (ties count half). */
function separation(success: number[], failed: number[]): number {
  let wins = 0;
  for (const s of success) for (const f of failed) wins += s > f ? 1 : s === f ? 0.5 : 0;
  return success.length && failed.length ? wins / (success.length * failed.length) : NaN;
}

const started = performance.now();
const env = await SimEnvironment.create({ task: settings.task, physicsStepS: settings.physicsStepS, controlHz: settings.controlHz, bounds: settings.bounds, cameras: settings.camera, maxSteps: settings.maxSteps, ...(layout ? { layout } : {}) });
const task = findTask(settings.task)!;
const traces: EpisodeTrace[] = [];
try {
  const modelPath = await adaptedRewardModel(env, task, { base: DEFAULT_GRM_TINY, dir: work, seed: 1, steps: adaptSteps, pairs: settings.adapt.pairs, log, ...(variants === undefined ? {} : { variants }) });
  const model = await OnnxRewardModel.load(modelPath, { executionProvider: 'cpu', threads: 1, logger: log });
  const references = readReferences(modelPath)!;
  for (const noise of noises) {
    for (let k = 0; k < perNoise; k++) {
      // Seeds far from the demo's (1..10) and from each other's noise level.
      const seed = 5000 + Math.round(noise * 1000) + k;
      const first = await env.reset(seed);
      const taskReferences: TaskReferences = { instruction: references.info.instructions[0]!, start: viewsOf(first.observation), goal: references.goal };
      const hops: FusionHops[] = [];
      let previous = first;
      const privileged = [first.privileged!.progress];
      const expert = env.expert(noise, seed);
      let success = false;
      for (let t = 0; t < env.maxSteps; t++) {
        const command = expert.next();
        if (!command) break;
        const step = await env.act(command);
        hops.push(await predictFusedStep(model, taskReferences, viewsOf(previous.observation), viewsOf(step.next.observation)));
        previous = step.next;
        privileged.push(step.next.privileged!.progress);
        if (step.success === true) {
          success = true;
          break;
        }
      }
      traces.push({ noise, seed, success, hops, privileged });
    }
    log.info(`noise ${noise}: ${traces.filter((t) => t.noise === noise && t.success).length} of ${perNoise} episodes successful`);
  }
  await model.close();
} finally {
  await env.close();
  if (workIndex < 0) rmSync(work, { recursive: true, force: true });
}

const gamma = settings.gamma;
/** Figures of one potential over the episodes: failure/success separation and per-step behaviour against PRIVILEGED progress. */
function figures(pick: (t: EpisodeTrace) => number[]) {
  const ok = traces.filter((t) => t.success);
  const failed = traces.filter((t) => !t.success);
  const max = (t: EpisodeTrace): number => Math.max(...pick(t));
  const final = (t: EpisodeTrace): number => pick(t).at(-1)!;
  // Shaping term F = gamma P(s') - P(s) against the privileged one, step by step.
  const errors: number[] = [];
  const terms: number[] = [];
  let signAgree = 0;
  let signCount = 0;
  for (const t of traces) {
    const p = pick(t);
    for (let i = 1; i < p.length; i++) {
      const f = gamma * p[i]! - p[i - 1]!;
      const g = gamma * t.privileged[i]! - t.privileged[i - 1]!;
      errors.push(f - g);
      terms.push(f);
      if (Math.abs(t.privileged[i]! - t.privileged[i - 1]!) >= 0.01) {
        signCount++;
        if (Math.sign(p[i]! - p[i - 1]!) === Math.sign(t.privileged[i]! - t.privileged[i - 1]!)) signAgree++;
      }
    }
  }
  return {
    maxProgress: { successful: round3(mean(ok.map(max))), failed: round3(mean(failed.map(max))), separation: round3(separation(ok.map(max), failed.map(max))) },
    finalProgress: { successful: round3(mean(ok.map(final))), failed: round3(mean(failed.map(final))), separation: round3(separation(ok.map(final), failed.map(final))) },
    spearmanWithPrivileged: round3(mean(traces.map((t) => spearman(pick(t), t.privileged)).filter(Number.isFinite))),
    meanAbsErrorToPrivileged: round3(mean(traces.flatMap((t) => pick(t).map((p, i) => Math.abs(p - t.privileged[i]!))))),
    shapingTermStd: round3(std(terms)),
    shapingTermErrorStd: round3(std(errors)),
    stepSignAgreement: round3(signAgree / Math.max(1, signCount)),
  };
}

const cpu = cpus();
const result = {
  task: settings.task,
  note: `Scripted expert at noise ${noises.join(', ')} (${perNoise} episodes each, at most ${settings.maxSteps} steps), scored by GRM-tiny adapted one-shot on one clean demo (${adaptSteps} steps${variants === undefined ? '' : `, ${variants} appearance variants`}) and by the simulator's PRIVILEGED geometric progress.${layout ? ` Lab reset: layout ${layout.seed}, spread ${layout.spread}.` : ''} separation: the probability that a successful episode's value exceeds a failed one's.`,
  machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, date: new Date().toISOString() },
  episodes: { total: traces.length, successful: traces.filter((t) => t.success).length },
  gamma,
  fusions,
  adaptedGrm: Object.fromEntries(Object.entries(fusions).map(([name, options]) => [name, figures((t) => fused(t, options))])),
  privileged: figures((t) => t.privileged),
  traces: traces.map((t) => ({
    noise: t.noise, seed: t.seed, success: t.success, privileged: t.privileged.map(round3),
    ...Object.fromEntries(Object.entries(fusions).map(([name, options]) => [name, fused(t, options).map(round3)])),
    hops: t.hops.map((h) => [round3(h.incremental), round3(h.fromStart), round3(h.fromGoal)]),
  })),
  wallS: Math.round((performance.now() - started) / 100) / 10,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/${stem}.json`, `${JSON.stringify(result, null, 1)}\n`);
for (const [name, f] of [...Object.entries(result.adaptedGrm).map(([k, v]) => [`GRM ${k}`, v] as const), ['PRIVILEGED', result.privileged] as const]) {
  console.log(`${name.padEnd(16)} max P success/failed ${f.maxProgress.successful}/${f.maxProgress.failed} (sep ${f.maxProgress.separation}), final ${f.finalProgress.successful}/${f.finalProgress.failed} (sep ${f.finalProgress.separation}), spearman ${f.spearmanWithPrivileged}, |P - Ppriv| ${f.meanAbsErrorToPrivileged}, F std ${f.shapingTermStd}, F error std ${f.shapingTermErrorStd}, step sign agreement ${f.stepSignAgreement}`);
}
console.log(`${result.episodes.successful} of ${result.episodes.total} episodes successful; ${result.wallS} s; wrote bench/results/${stem}.json`);
