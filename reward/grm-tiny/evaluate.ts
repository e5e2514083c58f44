/**
 * `dopamine grm eval`: GRM-tiny on simulator rollouts of one task (by default the held-out one):
 * one clean expert demo for one-shot adaptation, `clean` successful rollouts and `failed` failed
 * ones (the expert stopped part-way, or so noisy it misses). Reports, before and after
 * adaptation, VOC of fused progress and of each perspective on the clean rollouts, mean absolute
 * error against their step-wise labels, the pixel-distance baseline on the same frames, and the
 * completion classes of clean and failed rollouts (the completion judge's, reward/completion.ts, and
 * the paper's Eq. 58 beside them). All scoring uses the demo's goal and instruction, and each rollout's own first frame as START.
 * Near misses and regressions (episode-kinds.ts), after adaptation: the completion classes of
 * near-miss rollouts (none a success by the predicate), and how far the final fused progress of
 * regressions (forward to success, then played back) is from their true final progress.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { Preprocessor } from '../../perception/preprocess.js';
import { SimRobot } from '../../robot/sim/robot.js';
import type { Episode } from '../episode.js';
import { completionRule, type CompletionRule } from '../completion.js';
import type { Completion } from '../evaluation.js';
import type { FusionOptions } from '../fusion.js';
import { stepwiseLabels } from '../labels.js';
import type { RewardModel, TaskReferences } from '../model.js';
import { OnnxRewardModel } from '../onnx-backend.js';
import { episodeViews, scoreFrames, strideFrames } from '../scoring.js';
import { adaptGrmTiny, type AdaptReport } from './adapt.js';
import { alignmentPeerFigures, type AlignmentPeerFigures } from './alignment-peer.js';
import { evaluateEpisodes, type EpisodeFigures } from './figures.js';
import { loadGrmTiny } from './io.js';
import { REST_STEPS, runSimEpisode } from './sim-data.js';
import { kindTries, type KindEpisode } from './episode-kinds.js';

export interface HeldOutOptions {
  config: Config;
  task: string;
  model: string;
  clean: number;
  failed: number;
  /** Near-miss rollouts (cycling through the task's near-miss classes). */
  nearMiss: number;
  /** Regression rollouts (a clean episode forward to success, then played back). */
  regression: number;
  seed: number;
  adaptSteps: number;
  /** Label sample factor of the simulator's 10 Hz episodes (default 2). */
  sampleFactor?: number;
  /**
   * Also return each rollout's fused-progress curve after adaptation, scored every `curveStride`
   * frames (1: every control step, as `rl` scores), for setting the completion judge on data
   * (reward/completion-calibration.ts). Absent: no curves.
   */
  curveStride?: number;
  logger?: Logger;
}

/** Fused progress P(s_0) .. P(s_T) of one rollout after adaptation, and whether the simulator called it a success. */
export interface RolloutCurve {
  name: string;
  success: boolean;
  progress: number[];
}

export interface FailedFigures {
  count: number;
  /** Classes of the completion judge (reward/completion.ts). */
  classes: Record<Completion, number>;
  /** Classes of the paper's Eq. 58 on the same curves. */
  classesPaper: Record<Completion, number>;
  /** Share not classed success. */
  notSuccess: number;
}

export interface HeldOutReport {
  task: string;
  base: string;
  demo: { seed: number; frames: number };
  adaptation: AdaptReport;
  /** Peer in the same run (issue 31): open-end DTW against the adaptation demo, on the same rollouts and frames. */
  alignment: AlignmentPeerFigures;
  clean: { before: EpisodeFigures; after: EpisodeFigures };
  failed: { before: FailedFigures; after: FailedFigures };
  /** After adaptation. */
  nearMiss: NearMissFigures;
  /** After adaptation. */
  regression: RegressionFigures;
  /** Share of clean, failed and near-miss rollouts whose class is right (clean: success; failed and near-miss: not success), after adaptation. */
  completionAccuracy: number;
  goals: { vocAfterAtLeast09: boolean; fusedAtLeastBestPerspective: boolean; failedNotSuccessAtLeast90: boolean };
  /** With curveStride: every clean and failed rollout's fused curve after adaptation. */
  curves?: { stride: number; rollouts: RolloutCurve[] };
  seconds: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

async function failedFigures(
  model: RewardModel,
  episodes: readonly Episode[],
  references: { instruction: string; goal: TaskReferences['goal'] },
  fusion: FusionOptions,
  completion: CompletionRule,
  log?: Logger,
): Promise<FailedFigures> {
  const classes: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
  const classesPaper: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
  for (const episode of episodes) {
    const task: TaskReferences = { ...references, start: await episodeViews(episode, 0) };
    const score = await scoreFrames(model, episode, task, strideFrames(episode.frameCount, 2), { mode: 'fused', fusion, completion });
    classes[score.completion]++;
    classesPaper[score.completionPaper]++;
    const curve = score.steps.map((s) => s.progress);
    log?.debug(`failed rollout ${episode.name} (${episode.frameCount} frames): ${score.completion}, final progress ${curve[curve.length - 1]!.toFixed(3)}`);
  }
  return { count: episodes.length, classes, classesPaper, notSuccess: round3(episodes.length === 0 ? 1 : (classes.partial + classes.failure) / episodes.length) };
}

// ---------------------------------------------------------------------------------------------
// Near misses and regressions (issue 31): rollouts that look close to success, and rollouts that
// undo the task, with the simulator's true progress per frame.

export interface NearMissFigures {
  episodes: number;
  classes: Record<Completion, number>;
  /** Per scripted near-miss class: its rollouts, and how many the model classed success. */
  variants: Record<string, { episodes: number; success: number }>;
}

export interface RegressionFigures {
  episodes: number;
  /** Mean absolute error between the model's final fused progress and the true final progress. */
  finalError: number;
  /** Means over the rollouts of the true and the model's final progress. */
  finalProgress: { truth: number; model: number };
}

/**
 * Share of rollouts classed right: clean ones classed success, failed and near-miss ones not.
 * `clean`: the clean rollouts' completion classes; the others' likewise.
 */
export function completionAccuracy(clean: Record<Completion, number>, failed: Record<Completion, number>, nearMiss: Record<Completion, number>): number {
  const count = (c: Record<Completion, number>): number => c.success + c.partial + c.failure;
  const total = count(clean) + count(failed) + count(nearMiss);
  const right = clean.success + failed.partial + failed.failure + nearMiss.partial + nearMiss.failure;
  return round3(total === 0 ? 0 : right / total);
}

/** Up to `count` rollouts of a kind on the evaluation's robot, seeds from `from` (4 tries per rollout). */
async function kindRollouts(robot: SimRobot, kind: 'near-miss' | 'regression', count: number, from: number): Promise<KindEpisode[]> {
  const out: KindEpisode[] = [];
  for await (const episode of kindTries(robot, kind, count, from)) out.push(episode);
  return out;
}

/** Fused progress of a rollout at stride 2 (its last frame included), START its own first frame. */
async function fusedCurve(model: RewardModel, episode: Episode, references: { instruction: string; goal: TaskReferences['goal'] }, fusion: FusionOptions, completion: CompletionRule): Promise<{ completion: Completion; final: number }> {
  const task: TaskReferences = { ...references, start: await episodeViews(episode, 0) };
  const score = await scoreFrames(model, episode, task, strideFrames(episode.frameCount, 2), { mode: 'fused', fusion, completion });
  return { completion: score.completion, final: score.steps[score.steps.length - 1]!.progress };
}

async function nearMissFigures(model: RewardModel, episodes: readonly KindEpisode[], references: { instruction: string; goal: TaskReferences['goal'] }, fusion: FusionOptions, rule: CompletionRule, log?: Logger): Promise<NearMissFigures> {
  const classes: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
  const variants: Record<string, { episodes: number; success: number }> = {};
  for (const e of episodes) {
    const { completion, final } = await fusedCurve(model, e.episode, references, fusion, rule);
    classes[completion]++;
    const v = (variants[e.variant] ??= { episodes: 0, success: 0 });
    v.episodes++;
    if (completion === 'success') v.success++;
    log?.debug(`near miss ${e.episode.name} (${e.variant}): ${completion}, final progress ${final.toFixed(3)}, true ${e.progress[e.progress.length - 1]!.toFixed(3)}`);
  }
  return { episodes: episodes.length, classes, variants };
}

async function regressionFigures(model: RewardModel, episodes: readonly KindEpisode[], references: { instruction: string; goal: TaskReferences['goal'] }, fusion: FusionOptions, rule: CompletionRule, log?: Logger): Promise<RegressionFigures> {
  let error = 0;
  let truth = 0;
  let predicted = 0;
  for (const e of episodes) {
    const { final } = await fusedCurve(model, e.episode, references, fusion, rule);
    const trueFinal = e.progress[e.progress.length - 1]!;
    error += Math.abs(final - trueFinal);
    truth += trueFinal;
    predicted += final;
    log?.debug(`regression ${e.episode.name} (${e.variant}): final progress ${final.toFixed(3)}, true ${trueFinal.toFixed(3)}`);
  }
  const mean = (x: number): number => round3(episodes.length === 0 ? 0 : x / episodes.length);
  return { episodes: episodes.length, finalError: mean(error), finalProgress: { truth: mean(truth), model: mean(predicted) } };
}

// ---------------------------------------------------------------------------------------------

export async function evaluateHeldOut(options: HeldOutOptions): Promise<HeldOutReport> {
  const started = performance.now();
  const log = options.logger;
  const sampleFactor = options.sampleFactor ?? 2;
  const { config: modelConfig } = loadGrmTiny(options.model);
  const robot = await SimRobot.create(options.config, { task: options.task, render: true });
  const base = options.seed * 10_000;
  let demo: Awaited<ReturnType<typeof runSimEpisode>> | undefined;
  const clean: Episode[] = [];
  const failed: Episode[] = [];
  let nearMiss: KindEpisode[] = [];
  let regression: KindEpisode[] = [];
  try {
    for (let i = 0; i < 20 && !demo; i++) {
      const sim = await runSimEpisode(robot, base + i, 0);
      if (sim.success) demo = sim;
    }
    if (!demo) throw new Error(`${options.task}: the expert found no successful demo in 20 seeds`);
    for (let i = 0; clean.length < options.clean && i < 4 * options.clean; i++) {
      const sim = await runSimEpisode(robot, base + 100 + i, 0.1, { restSteps: REST_STEPS });
      if (sim.success) clean.push(sim.episode);
    }
    const phases = robot.task.phaseNames.length;
    for (let i = 0; failed.length < options.failed && i < 6 * options.failed; i++) {
      // Half stop after 1..phases-2 phases, half are the expert at full noise.
      const sim =
        i % 2 === 0
          ? await runSimEpisode(robot, base + 500 + i, 0.1, { stopAfterPhases: 1 + ((i / 2) % Math.max(1, phases - 2)), restSteps: REST_STEPS })
          : await runSimEpisode(robot, base + 500 + i, 1, { restSteps: REST_STEPS });
      if (!sim.success) failed.push(sim.episode);
    }
    // Issue 31: near misses and regressions, each with the true progress of every frame.
    nearMiss = await kindRollouts(robot, 'near-miss', options.nearMiss, base + 2000);
    regression = await kindRollouts(robot, 'regression', options.regression, base + 3000);
  } finally {
    await robot.close();
  }
  log?.info(`${options.task}: demo seed ${demo.seed} (${demo.episode.frameCount} frames), ${clean.length} clean and ${failed.length} failed rollouts, ${nearMiss.length} near misses, ${regression.length} regressions`);

  const dir = mkdtempSync(join(tmpdir(), 'grm-eval-'));
  const adaptedFile = join(dir, 'adapted.onnx');
  const preprocessor = new Preprocessor({ width: modelConfig.width, height: modelConfig.height });
  try {
    const adaptation = await adaptGrmTiny(demo.episode, { base: options.model, out: adaptedFile, sampleFactor: 1, pairs: 2000, minVoc: 0, steps: options.adaptSteps, variants: options.config.reward.adapt.variants, logger: log });
    const labels = stepwiseLabels(demo.episode.segments, demo.episode.frameCount, { sampleFactor });
    // The demo's goal and instruction; START is each rollout's own first frame (reference practice).
    const references = {
      instruction: demo.episode.instructions[0]!,
      goal: await episodeViews(demo.episode, labels.frames[labels.frames.length - 1]!),
    };
    const completion = completionRule(options.config.reward.shaping.successDelta, options.config.reward.shaping.successWindow);
    const figures = async (file: string, adapted: boolean): Promise<{ clean: EpisodeFigures; failed: FailedFigures; nearMiss?: NearMissFigures; regression?: RegressionFigures }> => {
      const model = await OnnxRewardModel.load(file, { executionProvider: 'cpu', logger: log });
      const fusion = options.config.reward.fusion;
      try {
        return {
          clean: await evaluateEpisodes(model, clean, { sampleFactor, preprocessor, references, fusion, completion }),
          failed: await failedFigures(model, failed, references, fusion, completion, log),
          // Issue 31: near misses and regressions, after adaptation only.
          ...(adapted ? { nearMiss: await nearMissFigures(model, nearMiss, references, fusion, completion, log), regression: await regressionFigures(model, regression, references, fusion, completion, log) } : {}),
        };
      } finally {
        await model.close();
      }
    };
    const before = await figures(options.model, false);
    const after = await figures(adaptedFile, true);
    const nearMissAfter = after.nearMiss!;
    const stride = options.curveStride;
    let curves: HeldOutReport['curves'];
    if (stride !== undefined) {
      const model = await OnnxRewardModel.load(adaptedFile, { executionProvider: 'cpu', logger: log });
      try {
        const rollouts: RolloutCurve[] = [];
        for (const [episodes, success] of [[clean, true], [failed, false]] as const) {
          for (const episode of episodes) {
            const task: TaskReferences = { ...references, start: await episodeViews(episode, 0) };
            const score = await scoreFrames(model, episode, task, strideFrames(episode.frameCount, stride), { mode: 'fused', fusion: options.config.reward.fusion, completion });
            rollouts.push({ name: episode.name, success, progress: score.steps.map((s) => s.progress) });
          }
        }
        curves = { stride, rollouts };
      } finally {
        await model.close();
      }
    }
    const best = Math.max(after.clean.voc.incremental, after.clean.voc.forward, after.clean.voc.backward);
    return {
      task: options.task,
      base: options.model,
      demo: { seed: demo.seed, frames: demo.episode.frameCount },
      adaptation,
      // Peer (issue 31): demo alignment on the same demo, rollouts and frames as the model's figures.
      alignment: await alignmentPeerFigures({ model: options.model, demo: demo.episode, demoFrames: labels.frames, clean, failed, sampleFactor, failedStride: 2, completion, logger: log }),
      clean: { before: before.clean, after: after.clean },
      failed: { before: before.failed, after: after.failed },
      nearMiss: nearMissAfter,
      regression: after.regression!,
      // Issue 31: near misses count too (right when not classed success).
      completionAccuracy: completionAccuracy(after.clean.completion, after.failed.classes, nearMissAfter.classes),
      goals: {
        vocAfterAtLeast09: after.clean.voc.fused >= 0.9,
        fusedAtLeastBestPerspective: after.clean.voc.fused >= best,
        failedNotSuccessAtLeast90: after.failed.notSuccess >= 0.9,
      },
      ...(curves ? { curves } : {}),
      seconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
