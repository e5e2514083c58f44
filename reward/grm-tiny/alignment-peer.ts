/**
 * The demo-alignment peer of `dopamine grm eval` (issue 31): open-end DTW of each rollout against
 * the one clean demo the model is adapted on (reward/alignment.ts), on the frozen GRM-tiny
 * encoder's features (reward/alignment-features.ts), scored on the same frames and with the same
 * figures as the model: VOC and mean absolute error against the step-wise labels on the clean
 * rollouts, completion classes on clean and failed ones by the same completion judge as the model's
 * (reward/completion.ts) and by the paper's Eq. 58.
 */
import type { Logger } from '../../common/log.js';
import { DemoAlignment, type AlignmentDistance } from '../alignment.js';
import { grmTinyAlignmentFeatures, type AlignmentFeatures } from '../alignment-features.js';
import type { Episode } from '../episode.js';
import { completionRule, judgeCompletion, type CompletionRule } from '../completion.js';
import { classifyCompletion, voc, type Completion } from '../evaluation.js';
import { stepwiseLabels } from '../labels.js';
import type { FailedFigures } from './evaluate.js';
import { episodeViews, meanAbsoluteError, strideFrames } from '../scoring.js';

/** The same figures as the model's failed ones (classes by the judge and by Eq. 58). */
export type AlignmentClassFigures = FailedFigures;

export interface AlignmentPeerFigures {
  method: string;
  features: string;
  distance: AlignmentDistance;
  /** Demo frames aligned against (the demo's step-wise label frames). */
  demoPoints: number;
  /** On the clean rollouts, at their step-wise label frames (as the model's `clean` figures). */
  clean: { episodes: number; voc: number; mae: number; completion: Record<Completion, number>; completionPaper: Record<Completion, number> };
  /** On the failed rollouts, every `stride`-th frame (as the model's `failed` figures). */
  failed: AlignmentClassFigures;
  /** Share of all rollouts whose class is right (clean: success; failed: not success), by the judge. */
  completionAccuracy: number;
  /** The same by Eq. 58. */
  completionAccuracyPaper: number;
  /** Wall time of the peer: the encoder and the alignment over the demo and every rollout. */
  seconds: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const mean = (values: number[]): number => (values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length);
const vocOrZero = (curve: number[]): number => {
  const value = curve.length >= 2 ? voc(curve) : NaN;
  return Number.isNaN(value) ? 0 : value;
};

/** Aligns rollouts against one demo; the demo's features are computed once. */
export class AlignmentPeer {
  private constructor(
    readonly features: AlignmentFeatures,
    private readonly demo: readonly Float32Array[],
    readonly distance: AlignmentDistance,
    private readonly rule: CompletionRule,
  ) {}

  static async create(features: AlignmentFeatures, demo: Episode, demoFrames: readonly number[], distance: AlignmentDistance = 'cosine', rule: CompletionRule = completionRule()): Promise<AlignmentPeer> {
    const encoded: Float32Array[] = [];
    for (const frame of demoFrames) encoded.push(await features.encode(await episodeViews(demo, frame)));
    return new AlignmentPeer(features, encoded, distance, rule);
  }

  get demoPoints(): number {
    return this.demo.length;
  }

  /** Progress at `frames` (ascending) of an episode, each from the frames up to it. */
  async curve(episode: Episode, frames: readonly number[]): Promise<number[]> {
    const alignment = new DemoAlignment(this.demo, { distance: this.distance });
    const curve: number[] = [];
    for (const frame of frames) curve.push(alignment.step(await this.features.encode(await episodeViews(episode, frame))));
    return curve;
  }

  async cleanFigures(episodes: readonly Episode[], sampleFactor: number): Promise<AlignmentPeerFigures['clean']> {
    const vocs: number[] = [];
    const maes: number[] = [];
    const completion: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
    const completionPaper: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
    for (const episode of episodes) {
      const labels = stepwiseLabels(episode.segments, episode.frameCount, { sampleFactor });
      const curve = await this.curve(episode, labels.frames);
      vocs.push(vocOrZero(curve));
      maes.push(meanAbsoluteError(curve, labels.progress));
      completion[judgeCompletion(curve, this.rule)]++;
      completionPaper[classifyCompletion(curve)]++;
    }
    return { episodes: episodes.length, voc: round3(mean(vocs)), mae: round3(mean(maes)), completion, completionPaper };
  }

  async classFigures(episodes: readonly Episode[], stride: number, log?: Logger): Promise<AlignmentClassFigures> {
    const classes: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
    const classesPaper: Record<Completion, number> = { success: 0, partial: 0, failure: 0 };
    for (const episode of episodes) {
      const curve = await this.curve(episode, strideFrames(episode.frameCount, stride));
      const completion = judgeCompletion(curve, this.rule);
      classes[completion]++;
      classesPaper[classifyCompletion(curve)]++;
      log?.debug(`alignment peer, rollout ${episode.name}: ${completion}, final progress ${curve[curve.length - 1]!.toFixed(3)}`);
    }
    return { count: episodes.length, classes, classesPaper, notSuccess: round3(episodes.length === 0 ? 1 : (classes.partial + classes.failure) / episodes.length) };
  }
}

export interface AlignmentPeerOptions {
  /** The GRM-tiny file whose frozen encoder gives the features (the base model; adaptation leaves the encoder as it is). */
  model: string;
  /** The clean demo the model is adapted on, and the frames of it aligned against. */
  demo: Episode;
  demoFrames: readonly number[];
  clean: readonly Episode[];
  failed: readonly Episode[];
  sampleFactor: number;
  /** Frame stride on failed rollouts (the model's failed figures use 2). */
  failedStride: number;
  distance?: AlignmentDistance;
  /** The completion judge's rule, as the model's figures use (default completionRule()). */
  completion?: CompletionRule;
  /** Features to use instead of the model file's encoder (tests). */
  features?: AlignmentFeatures;
  logger?: Logger;
}

/** The peer's figures on the same rollouts as the model's. */
export async function alignmentPeerFigures(options: AlignmentPeerOptions): Promise<AlignmentPeerFigures> {
  const started = performance.now();
  const features = options.features ?? (await grmTinyAlignmentFeatures(options.model));
  const peer = await AlignmentPeer.create(features, options.demo, options.demoFrames, options.distance, options.completion);
  const clean = await peer.cleanFigures(options.clean, options.sampleFactor);
  const failed = await peer.classFigures(options.failed, options.failedStride, options.logger);
  const total = clean.episodes + failed.count;
  const right = clean.completion.success + failed.classes.partial + failed.classes.failure;
  const rightPaper = clean.completionPaper.success + failed.classesPaper.partial + failed.classesPaper.failure;
  return {
    method: 'open-end DTW of each rollout against the adaptation demo (starts at both first frames, ends anywhere in the demo); progress = aligned demo frame / (demo points - 1), online',
    features: features.label,
    distance: peer.distance,
    demoPoints: peer.demoPoints,
    clean,
    failed,
    completionAccuracy: round3(total === 0 ? 0 : right / total),
    completionAccuracyPaper: round3(total === 0 ? 0 : rightPaper / total),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
