/**
 * Scoring a recorded episode with a reward model: per scored frame the hop and the progress of
 * the chosen mode (incremental, forward-anchored, backward-anchored, or fused), plus VOC and the
 * completion class (the completion judge's, reward/completion.ts; Eq. 58's beside it). In fused mode the three hops of a step go to the model as one batch, and the
 * per-perspective curves come out of the same pass (for evaluation).
 */
import type { ViewSet } from '../perception/images.js';
import { CAMERA_ROLES } from '../robot/types.js';
import type { Episode } from './episode.js';
import { completionRule, judgeCompletion, type CompletionRule } from './completion.js';
import { classifyCompletion, voc, type Completion } from './evaluation.js';
import { ProgressFusion, type FusionOptions } from './fusion.js';
import { progressAfterHop } from './hops.js';
import type { HopQuery, RewardModel, TaskReferences } from './model.js';
import { fusedStepQueries } from './model.js';

export type ScoreMode = 'incremental' | 'forward' | 'backward' | 'fused';
export const SCORE_MODES: readonly ScoreMode[] = ['incremental', 'forward', 'backward', 'fused'];

export interface ScoredStep {
  frame: number;
  /** The mode's hop for this frame (fused: the incremental hop). */
  hop: number;
  progress: number;
  /** Fused mode: the three hops and the three single-perspective progress values. */
  hops?: { incremental: number; forward: number; backward: number };
  perspectives?: { incremental: number; forward: number; backward: number };
}

export interface EpisodeScore {
  mode: ScoreMode;
  steps: ScoredStep[];
  voc: number;
  /**
   * The completion judge's class (reward/completion.ts): success when the progress of `window`
   * scored steps in a row (after the first) is >= the threshold; else partial or failure by the
   * mean of the last third, as Eq. 58.
   */
  completion: Completion;
  /** The paper's Eq. 58 classifier on the same curve (final > 0.8 and last-third mean > 0.6), for comparison. */
  completionPaper: Completion;
  /** Fused mode: VOC of each perspective's own curve. */
  perspectiveVoc?: { incremental: number; forward: number; backward: number };
}

/** The views of one frame as the model sees them (a role without a camera repeats front, by Episode). */
export async function episodeViews(episode: Episode, frame: number): Promise<ViewSet> {
  const [front, left, right] = await Promise.all(CAMERA_ROLES.map((role) => episode.frame(role, frame)));
  return { front: front!, left_wrist: left, right_wrist: right };
}

/** Frames 0, stride, 2*stride, ... and always the last frame. */
export function strideFrames(frameCount: number, stride: number): number[] {
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride: expected a positive integer, got ${stride}`);
  const frames: number[] = [];
  for (let f = 0; f < frameCount; f += stride) frames.push(f);
  if (frames[frames.length - 1] !== frameCount - 1) frames.push(frameCount - 1);
  return frames;
}

const vocOrZero = (curve: number[]): number => {
  const value = curve.length >= 2 ? voc(curve) : NaN;
  return Number.isNaN(value) ? 0 : value;
};

export interface ScoreOptions {
  mode: ScoreMode;
  fusion?: FusionOptions;
  /** Walk the frames backwards, progress starting from 1 (the reference's reversed evaluation); the curve is returned in forward time order. */
  reversed?: boolean;
  /** Views of a frame (default: read from the episode). */
  views?: (frame: number) => Promise<ViewSet>;
  /** The completion judge's rule (default: reward.shaping's defaults, completionRule()). */
  completion?: CompletionRule;
}

/** Scores `frames` (ascending) of an episode. The first frame gets the initial progress (0, or 1 reversed). */
export async function scoreFrames(model: RewardModel, episode: Episode, task: TaskReferences, frames: readonly number[], options: ScoreOptions): Promise<EpisodeScore> {
  if (frames.length < 2) throw new RangeError(`scoring: expected at least 2 frames, got ${frames.length}`);
  const order = options.reversed ? [...frames].reverse() : [...frames];
  const views = options.views ?? ((frame: number) => episodeViews(episode, frame));
  const initial = options.reversed ? 1 : 0;
  const fusion = new ProgressFusion({ ...options.fusion, initial });
  let incremental = initial;
  const steps: ScoredStep[] = [{ frame: order[0]!, hop: 0, progress: initial }];
  if (options.mode === 'fused') steps[0]!.perspectives = { incremental: initial, forward: initial, backward: initial };
  let previous = await views(order[0]!);
  for (const frame of order.slice(1)) {
    const current = await views(frame);
    let step: ScoredStep;
    if (options.mode === 'fused') {
      const [inc, fwd, bwd] = await model.predict(task, fusedStepQueries(task, previous, current));
      const fused = fusion.step({ incremental: inc!.hop, fromStart: fwd!.hop, fromGoal: bwd!.hop });
      incremental = progressAfterHop(incremental, inc!.hop);
      step = {
        frame,
        hop: inc!.hop,
        progress: fused.progress,
        hops: { incremental: inc!.hop, forward: fwd!.hop, backward: bwd!.hop },
        perspectives: { incremental, forward: fused.forward, backward: fused.backward },
      };
    } else {
      const query: HopQuery =
        options.mode === 'incremental'
          ? { before: previous, after: current, perspective: 'incremental' }
          : options.mode === 'forward'
            ? { before: task.start, after: current, perspective: 'forward' }
            : { before: task.goal, after: current, perspective: 'backward' };
      const [prediction] = await model.predict(task, [query]);
      const hop = prediction!.hop;
      incremental = progressAfterHop(incremental, hop);
      const progress = options.mode === 'incremental' ? incremental : options.mode === 'forward' ? progressAfterHop(0, hop) : progressAfterHop(1, hop);
      step = { frame, hop, progress };
    }
    steps.push(step);
    previous = current;
  }
  if (options.reversed) steps.reverse();
  return summariseSteps(steps, options.mode, options.completion);
}

/** VOC, completion classes and (fused mode) each perspective's VOC of scored steps in time order. */
export function summariseSteps(steps: ScoredStep[], mode: ScoreMode, completion?: CompletionRule): EpisodeScore {
  const curve = steps.map((s) => s.progress);
  const result: EpisodeScore = {
    mode,
    steps,
    voc: vocOrZero(curve),
    completion: judgeCompletion(curve, completion ?? completionRule()),
    completionPaper: classifyCompletion(curve),
  };
  if (mode === 'fused') {
    const of = (key: 'incremental' | 'forward' | 'backward'): number => vocOrZero(steps.map((s) => s.perspectives![key]));
    result.perspectiveVoc = { incremental: of('incremental'), forward: of('forward'), backward: of('backward') };
  }
  return result;
}

/** Progress at each of `frames` by linear interpolation of a scored curve (frames ascending). */
export function progressAt(steps: readonly ScoredStep[], frames: readonly number[]): number[] {
  return frames.map((frame) => {
    let i = 0;
    while (i + 1 < steps.length && steps[i + 1]!.frame <= frame) i++;
    const a = steps[i]!;
    const b = steps[i + 1];
    if (!b || b.frame === a.frame) return a.progress;
    const t = Math.max(0, Math.min(1, (frame - a.frame) / (b.frame - a.frame)));
    return a.progress + t * (b.progress - a.progress);
  });
}

export function meanAbsoluteError(predicted: readonly number[], truth: readonly number[]): number {
  return predicted.reduce((sum, p, i) => sum + Math.abs(p - truth[i]!), 0) / predicted.length;
}
