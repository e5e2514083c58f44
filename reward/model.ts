/**
 * One reward-model interface for every backend (the project's ONNX models, a GRM behind an
 * OpenAI-compatible server): given the task (instruction, start and goal references) and a batch
 * of (BEFORE, AFTER) states, the hop of each pair, and where the backend has one its distribution
 * over discrete hop bins and a confidence. A backend never invents a hop: when it cannot give one
 * it throws an error that names the problem: a RewardModelError, or an InputError naming the
 * server when a reward server is unreachable or answers wrongly (the user's to fix).
 */
import type { ViewSet } from '../perception/images.js';

/** What the model is told about the task. */
export interface TaskReferences {
  /** The task instruction (one paraphrase). */
  instruction: string;
  /** The start state (reference START); backends that use one view read its front view. */
  start: ViewSet;
  /** The goal state (reference END). */
  goal: ViewSet;
}

/** Which of the three fusion perspectives a query serves (paper Eqs. 6-8). */
export type Perspective = 'incremental' | 'forward' | 'backward';

export interface HopQuery {
  before: ViewSet;
  after: ViewSet;
  /**
   * backward: BEFORE is the goal state. The OpenAI backend then puts the front goal image into all
   * three BEFORE slots, as the reference does; other backends read `before` as given.
   */
  perspective?: Perspective;
}

export interface HopPrediction {
  /** The hop in [-1, 1]. */
  hop: number;
  /** Probability of each hop bin (centres in `RewardModel.hopBins`), when the backend has them. */
  bins?: Float32Array;
  /** Confidence in [0, 1] (1 - normalised entropy of the bins), when the backend has bins. */
  confidence?: number;
}

export interface RewardModel {
  /** Names the backend and model in logs and reports. */
  readonly name: string;
  /** Centres of the hop bins, ascending, when the backend predicts a distribution. */
  readonly hopBins?: readonly number[];
  /** One prediction per query, in order. */
  predict(task: TaskReferences, queries: readonly HopQuery[]): Promise<HopPrediction[]>;
  close(): Promise<void>;
}

/** A backend could not give a hop (a non-finite output, too few predictions). */
export class RewardModelError extends Error {
  override readonly name = 'RewardModelError';
}

/** The three queries of one fused step, in the order incremental, forward, backward: one batch. */
export function fusedStepQueries(task: TaskReferences, previous: ViewSet, current: ViewSet): HopQuery[] {
  return [
    { before: previous, after: current, perspective: 'incremental' },
    { before: task.start, after: current, perspective: 'forward' },
    { before: task.goal, after: current, perspective: 'backward' },
  ];
}

/** The three hops of one fused step (FusionHops of reward/fusion.ts), from one batched call. */
export async function predictFusedStep(
  model: RewardModel,
  task: TaskReferences,
  previous: ViewSet,
  current: ViewSet,
): Promise<{ incremental: number; fromStart: number; fromGoal: number; predictions: HopPrediction[] }> {
  const predictions = await model.predict(task, fusedStepQueries(task, previous, current));
  const [incremental, forward, backward] = predictions;
  if (!incremental || !forward || !backward) throw new RewardModelError(`${model.name}: expected 3 predictions for a fused step, got ${predictions.length}`);
  return { incremental: incremental.hop, fromStart: forward.hop, fromGoal: backward.hop, predictions };
}

/** Softmax of logits into `out` (both length B); returns `out`. */
export function softmaxInto(logits: ArrayLike<number>, out: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < out.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < out.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

/** 1 - H(p) / log(B): 1 when all mass is in one bin, 0 for a uniform distribution. */
export function binConfidence(probs: ArrayLike<number>): number {
  const count = probs.length;
  if (count < 2) return 1;
  let entropy = 0;
  for (let i = 0; i < count; i++) {
    const p = probs[i]!;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.max(0, Math.min(1, 1 - entropy / Math.log(count)));
}
