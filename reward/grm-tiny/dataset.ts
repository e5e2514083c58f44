/**
 * Training data of GRM-tiny: from an episode (recorded folder or an in-memory simulator episode),
 * the step-wise labels, the reference pair sampler's pairs, and the frames those pairs need,
 * resized once to the model size and kept as bytes (the decoded-frame cache of a run). Batches
 * are assembled from these bytes into preallocated float buffers, with the augmentations of the
 * reference: view dropout (a wrist view replaced by the front view, as when the camera is
 * missing), misleading views (a wrist view from another moment), and reference swapping (START
 * and GOAL taken from another episode of the same task).
 */
import type { Preprocessor } from '../../perception/preprocess.js';
import type { CameraRole } from '../../robot/types.js';
import { CAMERA_ROLES } from '../../robot/types.js';
import type { Episode } from '../episode.js';
import { encodeInstruction } from '../grm-contract.js';
import { stepwiseLabels, type LabelRounding } from '../labels.js';
import { samplePairs, type TrainingPair } from '../pairs.js';
import type { Rng } from '../rng.js';
import type { GrmTinyConfig } from './model.js';
import { hopBins, imageFloats, LOCATION_SIZE } from './model.js';
import { twoHot } from '../../engine/index.js';

/** The three views of one frame at model size, RGB bytes each. */
export type FrameViews = [Uint8Array, Uint8Array, Uint8Array];

export interface EpisodeSamples {
  name: string;
  task: string;
  instructions: readonly string[];
  /** Step-wise label sample points (frame ids) and their progress. */
  points: number[];
  progress: number[];
  pairs: TrainingPair[];
  /** Frames the pairs and references need, by frame id. */
  frames: Map<number, FrameViews>;
  /** Location targets of those frames (simulator episodes only; model.ts locationHead). */
  locations?: Map<number, Float32Array>;
}

export interface CollectOptions {
  sampleFactor: number;
  rounding?: LabelRounding;
  /** Pairs per episode (the sampler's max). */
  pairs: number;
  seed: number;
  /** Location target of every frame of the episode (simulator episodes; sim-data.ts). */
  locations?: readonly Float32Array[];
}

/** Reads one episode into training samples: labels, sampled pairs and the frames they use. */
export async function collectEpisode(episode: Episode, task: string, preprocessor: Preprocessor, options: CollectOptions): Promise<EpisodeSamples> {
  const labels = stepwiseLabels(episode.segments, episode.frameCount, { sampleFactor: options.sampleFactor, rounding: options.rounding ?? 'reference' });
  if (labels.frames.length < 3) {
    throw new RangeError(`${episode.name}: expected at least 3 label sample points, got ${labels.frames.length} (lower the sample factor)`);
  }
  const sample = samplePairs(labels.frames, episode.instructions, { max: options.pairs, seed: options.seed });
  const needed = new Set<number>(labels.frames);
  for (const pair of sample.pairs) {
    needed.add(pair.before);
    needed.add(pair.after);
  }
  const frames = new Map<number, FrameViews>();
  for (const id of [...needed].sort((a, b) => a - b)) frames.set(id, await frameViews(episode, id, preprocessor));
  const samples: EpisodeSamples = { name: episode.name, task, instructions: episode.instructions, points: labels.frames, progress: labels.progress, pairs: sample.pairs, frames };
  if (options.locations) {
    const all = options.locations;
    if (all.length !== episode.frameCount) throw new RangeError(`${episode.name}: expected ${episode.frameCount} location targets, got ${all.length}`);
    samples.locations = new Map([...frames.keys()].map((id) => [id, all[id]!]));
  }
  return samples;
}

/** One frame's three views at model size (missing wrist cameras repeat front, as Episode does). */
export async function frameViews(episode: Episode, id: number, preprocessor: Preprocessor): Promise<FrameViews> {
  const views = await Promise.all(CAMERA_ROLES.map(async (role: CameraRole) => preprocessor.resizeRgb(await episode.frame(role, id), role)));
  return views.map((v) => Uint8Array.from(v)) as FrameViews;
}

/** One training example before it becomes floats. */
export interface PairExample {
  before: FrameViews;
  after: FrameViews;
  start: Uint8Array;
  goal: Uint8Array;
  instruction: string;
  hop: number;
  /** Step-wise label progress of the BEFORE and AFTER states. */
  progressBefore: number;
  progressAfter: number;
  /** Location targets of the BEFORE then AFTER views (6), where the episode has them. */
  locations?: Float32Array[];
}

export interface Augmentation {
  /** Probability that a wrist view is replaced by the front view (missing camera). */
  viewDropout: number;
  /** Probability that a wrist view is replaced by the same view at another moment (misleading camera). */
  misleadingView: number;
  /** Probability that START and GOAL come from another episode of the same task (reference: 0.75). */
  referenceSwap: number;
}

export const PRETRAIN_AUGMENTATION: Augmentation = { viewDropout: 0.15, misleadingView: 0.05, referenceSwap: 0.75 };

function first(samples: EpisodeSamples): FrameViews {
  return samples.frames.get(samples.points[0]!)!;
}
function last(samples: EpisodeSamples): FrameViews {
  return samples.frames.get(samples.points[samples.points.length - 1]!)!;
}

/** Draws one augmented example of episode `index` from `episodes`. */
export function drawExample(episodes: readonly EpisodeSamples[], index: number, rng: Rng, augmentation: Augmentation, byTask: Map<string, number[]>): PairExample {
  const episode = episodes[index]!;
  const pair = episode.pairs[rng.int(episode.pairs.length)]!;
  // Each view's image, and the frame whose state it shows (a misleading view shows another moment).
  // `cameras`: which camera's image each view holds (a dropped wrist view holds the front one).
  const augmentViews = (frame: number): { views: FrameViews; shown: number[]; cameras: number[] } => {
    const views = episode.frames.get(frame)!;
    const out: FrameViews = [views[0], views[1], views[2]];
    const shown = [frame, frame, frame];
    const cameras = [0, 1, 2];
    for (const v of [1, 2] as const) {
      const r = rng.next();
      if (r < augmentation.viewDropout) {
        out[v] = views[0];
        cameras[v] = 0;
      } else if (r < augmentation.viewDropout + augmentation.misleadingView) {
        const other = episode.points[rng.int(episode.points.length)]!;
        out[v] = episode.frames.get(other)![v];
        shown[v] = other;
      }
    }
    return { views: out, shown, cameras };
  };
  let reference = episode;
  if (rng.next() < augmentation.referenceSwap) {
    const siblings = byTask.get(episode.task) ?? [];
    if (siblings.length > 1) reference = episodes[siblings[rng.int(siblings.length)]!]!;
  }
  const before = augmentViews(pair.before);
  const after = augmentViews(pair.after);
  const example: PairExample = {
    before: before.views,
    after: after.views,
    start: first(reference)[0],
    goal: last(reference)[0],
    instruction: pair.instruction,
    hop: pair.hop,
    progressBefore: labelProgress(episode, pair.before),
    progressAfter: labelProgress(episode, pair.after),
  };
  const locations = episode.locations;
  if (locations) {
    // A frame's target is the same for every view (LOCATION_SIZE values) or one per camera (3 * LOCATION_SIZE).
    const target = (id: number, camera: number): Float32Array => {
      const all = locations.get(id)!;
      return all.length === LOCATION_SIZE ? all : all.subarray(camera * LOCATION_SIZE, (camera + 1) * LOCATION_SIZE);
    };
    example.locations = [before, after].flatMap((state) => state.shown.map((id, v) => target(id, state.cameras[v]!)));
  }
  return example;
}

/**
 * The step-wise label progress of a frame the sampler drew: exact at a label point, linear
 * between the two label points around it otherwise.
 */
export function labelProgress(samples: EpisodeSamples, frame: number): number {
  const { points, progress } = samples;
  if (frame <= points[0]!) return progress[0]!;
  for (let i = 1; i < points.length; i++) {
    if (frame <= points[i]!) {
      const t = (frame - points[i - 1]!) / (points[i]! - points[i - 1]!);
      return progress[i - 1]! + t * (progress[i]! - progress[i - 1]!);
    }
  }
  return progress[progress.length - 1]!;
}

export function episodesByTask(episodes: readonly EpisodeSamples[]): Map<string, number[]> {
  const byTask = new Map<string, number[]>();
  episodes.forEach((e, i) => byTask.set(e.task, [...(byTask.get(e.task) ?? []), i]));
  return byTask;
}

/** Preallocated float buffers of one training batch in the contract's layout, plus targets. */
export class PairBatch {
  readonly start: Float32Array;
  readonly goal: Float32Array;
  readonly before: Float32Array;
  readonly after: Float32Array;
  readonly instruction: Float32Array;
  /** Two-hot targets over the hop bins [batch, bins]. */
  readonly target: Float32Array;
  /** Exact hops [batch]. */
  readonly targetHop: Float32Array;
  /** Label progress of the BEFORE and AFTER states [batch]. */
  readonly targetBefore: Float32Array;
  readonly targetAfter: Float32Array;
  /** With `locations`: location targets of the 6 BEFORE and AFTER views [batch, 6, LOCATION_SIZE], and a mask [batch, 6] (0 where an episode has none). */
  readonly targetLocation: Float32Array;
  readonly locationMask: Float32Array;
  private readonly bins: number[];
  private readonly textCache = new Map<string, Float32Array>();

  constructor(
    readonly config: GrmTinyConfig,
    readonly size: number,
    private readonly preprocessor: Preprocessor,
    private readonly options: { locations?: boolean } = {},
  ) {
    const image = imageFloats(config);
    this.start = new Float32Array(size * image);
    this.goal = new Float32Array(size * image);
    this.before = new Float32Array(size * 3 * image);
    this.after = new Float32Array(size * 3 * image);
    this.instruction = new Float32Array(size * config.textDim);
    this.target = new Float32Array(size * config.bins);
    this.targetHop = new Float32Array(size);
    this.targetBefore = new Float32Array(size);
    this.targetAfter = new Float32Array(size);
    this.targetLocation = new Float32Array(options.locations ? size * 6 * LOCATION_SIZE : 0);
    this.locationMask = new Float32Array(options.locations ? size * 6 : 0);
    this.bins = hopBins(config);
  }

  private text(instruction: string): Float32Array {
    let vector = this.textCache.get(instruction);
    if (!vector) {
      vector = encodeInstruction(instruction, this.config.textDim);
      this.textCache.set(instruction, vector);
    }
    return vector;
  }

  set(k: number, example: PairExample): void {
    const image = imageFloats(this.config);
    const p = this.preprocessor;
    example.before.forEach((view, v) => p.normalise(view, this.before, (k * 3 + v) * image));
    example.after.forEach((view, v) => p.normalise(view, this.after, (k * 3 + v) * image));
    p.normalise(example.start, this.start, k * image);
    p.normalise(example.goal, this.goal, k * image);
    this.instruction.set(this.text(example.instruction), k * this.config.textDim);
    this.target.set(twoHot(example.hop, this.bins), k * this.config.bins);
    this.targetHop[k] = example.hop;
    this.targetBefore[k] = example.progressBefore;
    this.targetAfter[k] = example.progressAfter;
    if (this.options.locations) {
      for (let v = 0; v < 6; v++) {
        const location = example.locations?.[v];
        this.locationMask[k * 6 + v] = location ? 1 : 0;
        this.targetLocation.fill(0, (k * 6 + v) * LOCATION_SIZE, (k * 6 + v + 1) * LOCATION_SIZE);
        if (location) this.targetLocation.set(location, (k * 6 + v) * LOCATION_SIZE);
      }
    }
  }

  feeds(): Record<string, Float32Array> {
    return {
      start: this.start,
      goal: this.goal,
      before: this.before,
      after: this.after,
      instruction: this.instruction,
      target: this.target,
      target_hop: this.targetHop,
      target_before: this.targetBefore,
      target_after: this.targetAfter,
      ...(this.options.locations ? { target_location: this.targetLocation, location_mask: this.locationMask } : {}),
    };
  }
}
