/**
 * What the policy sees: proprioception plus image features from a frozen encoder: the policy's
 * own (perception/policy-encoder, or a lab's ONNX encoder: the headline set-up), or the reward
 * model's GRM-tiny encoder (the earlier set-up, kept as the peer the benchmarks compare against);
 * or proprioception plus PRIVILEGED object positions (a debugging option, always named so in logs
 * and results).
 */
import { imageEncoder } from '../engine/layers.js';
import { ParamStore } from '../engine/params.js';
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import { Predictor } from '../engine/trainer.js';
import { Preprocessor } from '../perception/preprocess.js';
import { loadGrmTiny } from '../reward/grm-tiny/io.js';
import type { GrmTinyConfig } from '../reward/grm-tiny/model.js';
import { encodeImageTokens, imageFeatures } from '../reward/grm-tiny/model.js';
import type { CameraFrame, Observation } from '../robot/types.js';
import type { EnvObservation } from './environment.js';

export type ObservationMode = 'features' | 'grm-features' | 'privileged';

/** A frozen image encoder: one feature vector per camera view. */
export interface FrozenImageEncoder {
  readonly label: string;
  /** Features per view. */
  readonly featureSize: number;
  readonly views: number;
  /** Features of the views, concatenated in frame order: views * featureSize values. */
  encode(frames: readonly CameraFrame[]): Promise<Float32Array>;
}

export const PROPRIO_SIZE = 5;

/** End-effector position, yaw and gripper opening. */
export function proprioception(observation: Observation): number[] {
  const s = observation.state;
  return [s.eePosition[0], s.eePosition[1], s.eePosition[2], s.eeYaw, s.gripperOpening];
}

/** RGB bytes [h, w, 3] of each view to one float batch [views, 3, h, w] in [-1, 1]. */
export function framesToTensor(frames: readonly CameraFrame[]): Float32Array {
  const first = frames[0];
  if (!first) throw new Error('no camera frames to encode');
  const { width, height } = first;
  const plane = width * height;
  const out = new Float32Array(frames.length * 3 * plane);
  frames.forEach((frame, v) => {
    if (frame.width !== width || frame.height !== height) throw new RangeError(`camera ${frame.camera}: expected ${width}x${height}, got ${frame.width}x${frame.height}`);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(v * 3 + c) * plane + p] = frame.rgb[p * 3 + c]! / 127.5 - 1;
    }
  });
  return out;
}

/**
 * A frozen encoder with seeded RANDOM weights (an image-encoder architecture, not trained): for
 * tests and as a baseline to the trained GRM-tiny encoder below. Random features keep coarse image
 * content (colour and position of large regions).
 */
export async function randomFrozenEncoder(options: { width: number; height: number; views: number; seed: number; executionProvider?: ExecutionProviderSetting }): Promise<FrozenImageEncoder> {
  const store = new ParamStore({ seed: options.seed });
  const dim = 64;
  const predictor = await Predictor.create({
    store,
    executionProvider: options.executionProvider,
    name: 'frozen-encoder',
    build: (g) => ({ features: imageEncoder(g.input('images', [options.views, 3, options.height, options.width]), 'encoder', { dim }) }),
  });
  return {
    label: 'random-init frozen encoder (stand-in for the GRM-tiny encoder)',
    featureSize: dim,
    views: options.views,
    async encode(frames) {
      const out = await predictor.run({ images: framesToTensor(frames) });
      return Float32Array.from(out.features!);
    },
  };
}

/**
 * The trained GRM-tiny image encoder (weights from the model file, frozen): the same patch
 * embedding, token MLP and normalisation as the reward model, read out two ways per view:
 * the reward model's own attention-pooled vector, and spatial-softmax keypoints of the
 * normalised token map. Images are resized to the model's input size as the reward model does.
 */
export async function grmTinyFrozenEncoder(file: string, options: { views: number; executionProvider?: ExecutionProviderSetting; threads?: number; keypointSharpness?: number }): Promise<FrozenImageEncoder> {
  const sharpness = options.keypointSharpness ?? 1;
  const { store, config } = loadGrmTiny(file);
  const c: GrmTinyConfig = config;
  const predictor = await Predictor.create({
    store,
    executionProvider: options.executionProvider,
    threads: options.threads,
    name: 'grm-tiny frozen encoder',
    build: (g) => ({ features: imageFeatures(encodeImageTokens(g.input('images', [options.views, 3, c.height, c.width]), c), c, sharpness) }),
  });
  const preprocessor = new Preprocessor({ width: c.width, height: c.height });
  const images = new Float32Array(options.views * preprocessor.imageFloats);
  const featureSize = 3 * c.dim;
  return {
    label: `frozen GRM-tiny encoder of ${file} (attention-pooled vector + spatial-softmax keypoints per view)`,
    featureSize,
    views: options.views,
    async encode(frames) {
      if (frames.length !== options.views) throw new RangeError(`GRM-tiny encoder: expected ${options.views} camera views, got ${frames.length}`);
      await Promise.all(frames.map((f, v) => preprocessor.image(f, f.role, images, v * preprocessor.imageFloats)));
      const out = await predictor.run({ images });
      return Float32Array.from(out.features!);
    },
  };
}

export interface ObservationEncoder {
  readonly mode: ObservationMode;
  readonly label: string;
  readonly size: number;
  encode(input: EnvObservation): Promise<Float32Array>;
}

export function featureObservations(encoder: FrozenImageEncoder, mode: 'features' | 'grm-features' = 'features'): ObservationEncoder {
  return {
    mode,
    label: `proprioception + ${encoder.label}`,
    size: PROPRIO_SIZE + encoder.views * encoder.featureSize,
    async encode(input) {
      const features = await encoder.encode(input.observation.frames);
      const out = new Float32Array(PROPRIO_SIZE + features.length);
      out.set(proprioception(input.observation));
      out.set(features, PROPRIO_SIZE);
      return out;
    },
  };
}

/** `errorCm`: the environment's per-episode error of the moved object's position, named in the label. */
export function privilegedObservations(stateSize: number, errorCm = 0): ObservationEncoder {
  return {
    mode: 'privileged',
    label: `proprioception + PRIVILEGED object positions${errorCm > 0 ? ` with a per-episode error of ${errorCm} cm (sd per horizontal axis) on the moved object` : ''} (debugging only)`,
    size: PROPRIO_SIZE + stateSize,
    async encode(input) {
      if (!input.privileged) throw new Error('privileged observations requested but the environment gives no privileged state');
      return Float32Array.from([...proprioception(input.observation), ...input.privileged.state]);
    },
  };
}
