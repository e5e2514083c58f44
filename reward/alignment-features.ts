/**
 * The image features of the demo-alignment baseline: the same as the reward model's, from the
 * frozen GRM-tiny encoder (policy/observation.ts: the attention-pooled vector and spatial-softmax
 * keypoints of each view, one onnxruntime graph from the model file), the three views in role
 * order, each view's block L2-normalised so every view weighs the same, concatenated and scaled
 * to unit norm.
 */
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import { isRawImage, viewFor, type ViewSet } from '../perception/images.js';
import { grmTinyFrozenEncoder, type FrozenImageEncoder } from '../policy/observation.js';
import { CAMERA_ROLES, type CameraFrame } from '../robot/types.js';
import { DemoAlignment, type AlignmentOptions } from './alignment.js';

export interface AlignmentFeatures {
  readonly label: string;
  /** Values per state: views * featureSize of the encoder. */
  readonly size: number;
  /** Unit-norm features of one state's three views. */
  encode(views: ViewSet): Promise<Float32Array>;
}

/** A state's views as camera frames in role order (a missing wrist view repeats front); decoded images only. */
export function viewFrames(views: ViewSet): CameraFrame[] {
  return CAMERA_ROLES.map((role) => {
    const image = viewFor(views, role);
    if (!isRawImage(image)) throw new TypeError(`alignment features: the ${role} view is encoded bytes, expected a decoded RGB image`);
    return { role, camera: role, width: image.width, height: image.height, rgb: image.rgb, stampMs: 0 };
  });
}

/** Each of `blocks` equal blocks scaled to unit norm, then the whole to unit norm. */
export function normaliseBlocks(features: Float32Array, blocks: number): Float32Array {
  if (features.length % blocks !== 0) throw new RangeError(`features: ${features.length} values do not split into ${blocks} blocks`);
  const size = features.length / blocks;
  const out = new Float32Array(features.length);
  for (let b = 0; b < blocks; b++) {
    let norm = 0;
    for (let i = b * size; i < (b + 1) * size; i++) norm += features[i]! * features[i]!;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) / Math.sqrt(blocks) : 0;
    for (let i = b * size; i < (b + 1) * size; i++) out[i] = features[i]! * scale;
  }
  return out;
}

export function alignmentFeatures(encoder: FrozenImageEncoder): AlignmentFeatures {
  return {
    label: `${encoder.label}, ${encoder.views} views, each L2-normalised`,
    size: encoder.views * encoder.featureSize,
    async encode(views) {
      return normaliseBlocks(await encoder.encode(viewFrames(views)), encoder.views);
    },
  };
}

/** The frozen encoder of a GRM-tiny file (the base model: adaptation does not change the encoder). */
export async function grmTinyAlignmentFeatures(file: string, options: { executionProvider?: ExecutionProviderSetting; threads?: number } = {}): Promise<AlignmentFeatures> {
  return alignmentFeatures(await grmTinyFrozenEncoder(file, { views: CAMERA_ROLES.length, executionProvider: options.executionProvider ?? 'cpu', threads: options.threads }));
}

/** An online aligner on image states: `step(views)` encodes the state and returns its progress. */
export async function imageAlignment(features: AlignmentFeatures, demo: readonly ViewSet[], options: AlignmentOptions = {}): Promise<{ step(views: ViewSet): Promise<number> }> {
  const demoFeatures: Float32Array[] = [];
  for (const views of demo) demoFeatures.push(await features.encode(views));
  const alignment = new DemoAlignment(demoFeatures, options);
  return { step: async (views) => alignment.step(await features.encode(views)) };
}
