/**
 * The figures of a reward model on labelled episodes: fused progress scored at the step-wise
 * label points, its VOC and each perspective's VOC, mean absolute error against the labels, the
 * completion class; and the plain pixel-distance baseline on the same frames (progress = distance
 * to START / (distance to START + distance to GOAL), mean absolute pixel difference of the front
 * view at model size), so the comparison is made in one run.
 */
import type { Preprocessor } from '../../perception/preprocess.js';
import type { Episode } from '../episode.js';
import { voc, type Completion } from '../evaluation.js';
import { stepwiseLabels } from '../labels.js';
import type { FusionOptions } from '../fusion.js';
import type { CompletionRule } from '../completion.js';
import type { RewardModel, TaskReferences } from '../model.js';
import { episodeViews, meanAbsoluteError, scoreFrames, summariseSteps, type EpisodeScore } from '../scoring.js';

export interface EpisodeFigures {
  episodes: number;
  /** Mean VOC over episodes. */
  voc: { fused: number; incremental: number; forward: number; backward: number };
  /** Mean absolute error of fused progress against the step-wise labels. */
  mae: number;
  /** Classes of the completion judge (reward/completion.ts). */
  completion: Record<Completion, number>;
  /** Classes of the paper's Eq. 58 on the same curves. */
  completionPaper: Record<Completion, number>;
  baseline: { voc: number; mae: number };
}

const mean = (values: number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function pixelDistance(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

export interface FigureOptions {
  sampleFactor: number;
  preprocessor: Preprocessor;
  /**
   * Goal (and instruction) for every episode, e.g. an adapted model's demo goal; default each
   * episode's own last label frame. START is always the judged episode's first label frame, as in
   * the reference (method.md section 5).
   */
  references?: { instruction: string; goal: TaskReferences['goal'] };
  /** Fusion settings (reward.fusion); default the paper's Eq. 8. */
  fusion?: FusionOptions;
  /** The completion judge's rule (reward.shaping.successDelta and successWindow); default completionRule(). */
  completion?: CompletionRule;
}

/** Scores one labelled episode; returns the score, the labels' progress and the baseline curve. */
export async function scoreLabelled(model: RewardModel, episode: Episode, options: FigureOptions): Promise<{ score: EpisodeScore; truth: number[]; baseline: number[] }> {
  const labels = stepwiseLabels(episode.segments, episode.frameCount, { sampleFactor: options.sampleFactor });
  const frames = labels.frames;
  const lastLabel = frames[frames.length - 1]!;
  // Frames after the last sub-task (the arm resting at the end: sim-data.ts REST_STEPS) are not
  // labelled; the completion judge reads them too, at the label spacing, since "done" is judged
  // over a window of scored steps. VOC and error stay over the labelled frames.
  const tail: number[] = [];
  for (let f = lastLabel + options.sampleFactor; f < episode.frameCount; f += options.sampleFactor) tail.push(f);
  const task: TaskReferences = {
    instruction: options.references?.instruction ?? episode.instructions[0]!,
    start: await episodeViews(episode, frames[0]!),
    goal: options.references?.goal ?? (await episodeViews(episode, lastLabel)),
  };
  const cache = new Map<number, Awaited<ReturnType<typeof episodeViews>>>();
  const views = async (frame: number) => {
    let v = cache.get(frame);
    if (!v) cache.set(frame, (v = await episodeViews(episode, frame)));
    return v;
  };
  const scoring = { mode: 'fused' as const, views, fusion: options.fusion, ...(options.completion ? { completion: options.completion } : {}) };
  // Fused progress streams, so the labelled frames' steps are the first ones of the whole curve.
  const judged = await scoreFrames(model, episode, task, [...frames, ...tail], scoring);
  const score = tail.length === 0 ? judged : { ...summariseSteps(judged.steps.slice(0, frames.length), 'fused', options.completion), completion: judged.completion, completionPaper: judged.completionPaper };
  const pre = options.preprocessor;
  const start = Uint8Array.from(await pre.resizeRgb(task.start.front));
  const goal = Uint8Array.from(await pre.resizeRgb(task.goal.front));
  const baseline: number[] = [];
  for (const frame of frames) {
    const image = await pre.resizeRgb((await views(frame)).front);
    const toStart = pixelDistance(image, start);
    const toGoal = pixelDistance(image, goal);
    baseline.push(toStart + toGoal === 0 ? 0 : toStart / (toStart + toGoal));
  }
  return { score, truth: labels.progress, baseline };
}

export async function evaluateEpisodes(model: RewardModel, episodes: readonly Episode[], options: FigureOptions): Promise<EpisodeFigures> {
  const vocs = { fused: [] as number[], incremental: [] as number[], forward: [] as number[], backward: [] as number[] };
  const maes: number[] = [];
  const baselineVoc: number[] = [];
  const baselineMae: number[] = [];
  const completion: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
  const completionPaper: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
  for (const episode of episodes) {
    const { score, truth, baseline } = await scoreLabelled(model, episode, options);
    vocs.fused.push(score.voc);
    vocs.incremental.push(score.perspectiveVoc!.incremental);
    vocs.forward.push(score.perspectiveVoc!.forward);
    vocs.backward.push(score.perspectiveVoc!.backward);
    maes.push(meanAbsoluteError(score.steps.map((s) => s.progress), truth));
    completion[score.completion]++;
    completionPaper[score.completionPaper]++;
    const b = voc(baseline);
    baselineVoc.push(Number.isNaN(b) ? 0 : b);
    baselineMae.push(meanAbsoluteError(baseline, truth));
  }
  return {
    episodes: episodes.length,
    voc: { fused: round3(mean(vocs.fused)), incremental: round3(mean(vocs.incremental)), forward: round3(mean(vocs.forward)), backward: round3(mean(vocs.backward)) },
    mae: round3(mean(maes)),
    completion,
    completionPaper,
    baseline: { voc: round3(mean(baselineVoc)), mae: round3(mean(baselineMae)) },
  };
}
