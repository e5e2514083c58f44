/**
 * Checks of an adapted reward model on episodes made from ONE real demo (issue 31), for labs that
 * have a single recording of their task:
 * - `perturbedEpisode`: the demo at a stride, seen by cameras set up a little differently
 *   (brighter or darker, another contrast, slightly zoomed and shifted, softer focus): frames and
 *   looks that adaptation did not train on. It is not another episode of the task; it checks that
 *   the adapted model reads the task and not the exact pixels of its demo.
 * - `forwardThenBack`: the demo's frames played forward to a turning frame and then backwards to
 *   an earlier one, as a policy undoing its work; the truth is the step-wise label of each frame.
 * The frames are kept in memory at a reduced size (the model reads 64x48 or so).
 */
import sharp from 'sharp';
import type { CameraRole } from '../robot/types.js';
import { CAMERA_ROLES } from '../robot/types.js';
import { memoryEpisode } from './grm-tiny/memory-episode.js';
import type { Episode, RgbImage } from './episode.js';
import type { CompletionRule } from './completion.js';
import { spearman, type Completion } from './evaluation.js';
import type { FusionOptions } from './fusion.js';
import { stepwiseLabels } from './labels.js';
import type { RewardModel, TaskReferences } from './model.js';
import { episodeViews, meanAbsoluteError, scoreFrames } from './scoring.js';

/** A camera set up differently: gain, contrast, zoom (crop share kept), shift of the crop centre, blur. */
export interface CameraChange {
  brightness: number;
  contrast: number;
  /** Share of the width and height kept around the (shifted) centre, in (0, 1]. */
  zoom: number;
  /** Shift of the crop centre as a share of the width and height. */
  shift: [number, number];
  blur: number;
}

/** The three views' changes of perturbedEpisode: each camera differs from the demo's in its own way. */
export const REAL_CHECK_CHANGES: Record<CameraRole, CameraChange> = {
  front: { brightness: 1.12, contrast: 0.9, zoom: 0.94, shift: [0.02, -0.015], blur: 0.8 },
  left_wrist: { brightness: 0.88, contrast: 1.1, zoom: 0.92, shift: [-0.02, 0.02], blur: 0.6 },
  right_wrist: { brightness: 1.06, contrast: 1.05, zoom: 0.95, shift: [0.015, 0.02], blur: 1 },
};

async function changed(image: RgbImage, change: CameraChange | undefined, width: number, height: number): Promise<RgbImage> {
  let pipeline = sharp(image.rgb, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (change) {
    const w = Math.round(image.width * change.zoom);
    const h = Math.round(image.height * change.zoom);
    const left = Math.max(0, Math.min(image.width - w, Math.round((image.width - w) / 2 + change.shift[0] * image.width)));
    const top = Math.max(0, Math.min(image.height - h, Math.round((image.height - h) / 2 + change.shift[1] * image.height)));
    pipeline = pipeline.extract({ left, top, width: w, height: h }).linear(change.contrast * change.brightness, 128 * (1 - change.contrast) * change.brightness);
    if (change.blur > 0.3) pipeline = pipeline.blur(change.blur);
  }
  const rgb = await pipeline.resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
  return { width, height, rgb: new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.length) };
}

async function viewsOf(episode: Episode, frame: number, size: { width: number; height: number }, changes?: Record<CameraRole, CameraChange>) {
  const images = await Promise.all(CAMERA_ROLES.map(async (role) => changed(await episode.frame(role, frame), changes?.[role], size.width, size.height)));
  return { front: images[0]!, left_wrist: images[1]!, right_wrist: images[2]! };
}

/** The step-wise label progress of every frame of an episode (linear between label points). */
export function frameTruth(episode: Episode): number[] {
  const labels = stepwiseLabels(episode.segments, episode.frameCount, { sampleFactor: 1 });
  const out: number[] = [];
  for (let f = 0; f < episode.frameCount; f++) {
    const i = labels.frames.findIndex((p) => p >= f);
    if (i <= 0) out.push(i === 0 ? labels.progress[0]! : labels.progress[labels.progress.length - 1]!);
    else {
      const [a, b] = [labels.frames[i - 1]!, labels.frames[i]!];
      out.push(labels.progress[i - 1]! + ((f - a) / (b - a)) * (labels.progress[i]! - labels.progress[i - 1]!));
    }
  }
  return out;
}

export interface DerivedEpisode {
  episode: Episode;
  /** The source frame of each frame. */
  source: number[];
  /** Step-wise label progress of each frame (of its source frame). */
  truth: number[];
}

const SIZE = { width: 128, height: 96 };

/** The demo every `stride` frames from `offset` (its last frame included), every camera changed as `changes`. */
export async function perturbedEpisode(demo: Episode, stride: number, offset = 0, changes = REAL_CHECK_CHANGES): Promise<DerivedEpisode> {
  const truthAll = frameTruth(demo);
  const source: number[] = [];
  for (let f = offset; f < demo.frameCount; f += stride) source.push(f);
  if (source[source.length - 1] !== demo.frameCount - 1) source.push(demo.frameCount - 1);
  const frames = [];
  for (const f of source) frames.push(await viewsOf(demo, f, SIZE, changes));
  const episode = memoryEpisode({ name: `${demo.name}-perturbed`, instructions: demo.instructions, frames, fps: demo.fps / stride });
  return { episode, source, truth: source.map((f) => truthAll[f]!) };
}

/** The demo every `stride` frames forward to frame `turn`, then backwards to frame `backTo`. */
export async function forwardThenBack(demo: Episode, stride: number, turn: number, backTo: number): Promise<DerivedEpisode> {
  if (!(backTo >= 0 && backTo < turn && turn < demo.frameCount)) throw new RangeError(`expected 0 <= backTo < turn < ${demo.frameCount}, got backTo ${backTo}, turn ${turn}`);
  const truthAll = frameTruth(demo);
  const source: number[] = [];
  for (let f = 0; f < turn; f += stride) source.push(f);
  for (let f = turn; f > backTo; f -= stride) source.push(f);
  source.push(backTo);
  const frames = [];
  for (const f of source) frames.push(await viewsOf(demo, f, SIZE));
  const episode = memoryEpisode({ name: `${demo.name}-forward-then-back`, instructions: demo.instructions, frames, fps: demo.fps / stride });
  return { episode, source, truth: source.map((f) => truthAll[f]!) };
}

export interface RealCheckFigures {
  perturbed: { stride: number; frames: number; voc: number; mae: number; final: number; completion: Completion; completionPaper: Completion };
  forwardThenBack: { stride: number; frames: number; turn: number; backTo: number; final: number; truthFinal: number; finalError: number; spearman: number };
}

/**
 * Scores the two made-up episodes with an adapted model: START each episode's own first frame,
 * GOAL and instruction the demo's (as the adapted model's task references are).
 */
export async function realDemoFigures(model: RewardModel, demo: Episode, options: { stride: number; fusion: FusionOptions; completion: CompletionRule }): Promise<RealCheckFigures> {
  const labels = stepwiseLabels(demo.segments, demo.frameCount, { sampleFactor: 1 });
  const goal = await episodeViews(demo, labels.frames[labels.frames.length - 1]!);
  const score = async (d: DerivedEpisode) => {
    const task: TaskReferences = { instruction: demo.instructions[0]!, start: await episodeViews(d.episode, 0), goal };
    const frames = [...Array(d.episode.frameCount).keys()];
    const s = await scoreFrames(model, d.episode, task, frames, { mode: 'fused', fusion: options.fusion, completion: options.completion });
    return { s, progress: s.steps.map((x) => x.progress) };
  };
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  const perturbed = await perturbedEpisode(demo, options.stride, Math.floor(options.stride / 2));
  const p = await score(perturbed);
  // Forward to the end (the task done), back to 40% of the demo: most of the work undone.
  const turn = demo.frameCount - 1;
  const backTo = Math.round(0.4 * demo.frameCount);
  const back = await forwardThenBack(demo, options.stride, turn, backTo);
  const b = await score(back);
  const final = b.progress[b.progress.length - 1]!;
  const truthFinal = back.truth[back.truth.length - 1]!;
  return {
    perturbed: {
      stride: options.stride,
      frames: perturbed.episode.frameCount,
      voc: round3(p.s.voc),
      mae: round3(meanAbsoluteError(p.progress, perturbed.truth)),
      final: round3(p.progress[p.progress.length - 1]!),
      completion: p.s.completion,
      completionPaper: p.s.completionPaper,
    },
    forwardThenBack: {
      stride: options.stride,
      frames: back.episode.frameCount,
      turn,
      backTo,
      final: round3(final),
      truthFinal: round3(truthFinal),
      finalError: round3(Math.abs(final - truthFinal)),
      spearman: round3(spearman(b.progress, back.truth)),
    },
  };
}
