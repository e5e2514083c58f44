/**
 * An ONNX image encoder as the RL policy's frozen image encoder: the shipped policy encoder
 * (models/policy-encoder.onnx) or a lab's own (an ImageNet ResNet exported from PyTorch, say),
 * checked against the encoder contract when it loads
 * (docs/policy-encoder-contract.md):
 *
 *   input   images    float32 [N, 3, H, W]  RGB, CHW; N symbolic or equal to the run's views
 *   output  features  float32 [N, F]        one feature vector per view
 *   metadata dopamine.encoder.normalisation  symmetric (default: byte / 127.5 - 1) or imagenet
 *            dopamine.encoder.description    free text, shown in the label
 *
 * Every mismatch is one InputError line naming the file, what was expected and what was found.
 * One encode runs the model once on all views as one batch [views, 3, H, W].
 */
import { readFileSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type * as ortTypes from 'onnxruntime-node';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { log as rootLog } from '../common/log.js';
import type { ExecutionProviderSetting } from '../engine/runtime.js';
import { declaredDims, readDeclaredModel, type Dim } from '../engine/onnx-declared.js';
import { createSession, ort } from '../engine/runtime.js';
import type { FrozenImageEncoder } from '../policy/observation.js';
import type { CameraFrame } from '../robot/types.js';
import { Preprocessor } from './preprocess.js';

const { onnx } = onnxProto;

export const ENCODER_CONTRACT_DOC = 'docs/policy-encoder-contract.md';
export const ENCODER_INPUT = 'images';
export const ENCODER_OUTPUT = 'features';
export const META_NORMALISATION = 'dopamine.encoder.normalisation';
export const META_DESCRIPTION = 'dopamine.encoder.description';

export type EncoderNormalisation = 'symmetric' | 'imagenet';

/** value = (byte / 255 - mean[c]) / std[c] per channel c (RGB). symmetric is byte / 127.5 - 1. */
export const ENCODER_NORMALISATIONS: Readonly<Record<EncoderNormalisation, { mean: readonly [number, number, number]; std: readonly [number, number, number] }>> = {
  symmetric: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};

export interface ImageEncoderContract {
  /** The model's fixed batch (equal to the run's views), or undefined when the batch is symbolic. */
  batch: number | undefined;
  width: number;
  height: number;
  /** F: features per view. */
  featureSize: number;
  normalisation: EncoderNormalisation;
  /** `dopamine.encoder.description`, when present. */
  description: string | undefined;
  metadata: Record<string, string>;
}

const shapeText = (shape: readonly Dim[] | undefined): string => (shape ? `[${shape.map((d) => d ?? '?').join(', ')}]` : 'no shape');

function elemTypeText(elemType: number | null | undefined): string {
  if (elemType === null || elemType === undefined || elemType === 0) return 'no element type';
  if (elemType === onnx.TensorProto.DataType.FLOAT) return 'float32';
  if (elemType === onnx.TensorProto.DataType.DOUBLE) return 'float64';
  return (onnx.TensorProto.DataType[elemType] ?? `element type ${elemType}`).toLowerCase();
}

const fixed = (d: Dim | undefined): d is number => typeof d === 'number' && Number.isInteger(d) && d >= 1;
const symbolic = (d: Dim | undefined): boolean => typeof d === 'string' || d === null;

function checkViews(views: number): void {
  if (!Number.isInteger(views) || views < 1) throw new RangeError(`image encoder views: expected a positive integer, got ${views}`);
}

/**
 * Checks an ONNX model's bytes against the encoder contract for a run with `views` camera views;
 * `file` names the model in errors. Throws one InputError line per mismatch (the first found).
 */
export function checkImageEncoderContract(bytes: Uint8Array, file: string, views: number): ImageEncoderContract {
  checkViews(views);
  const { inputs, outputs, metadata } = readDeclaredModel(bytes, file);

  const mismatch = (what: string, expected: string, got: string): InputError =>
    new InputError(file, `does not follow the image encoder contract (${ENCODER_CONTRACT_DOC}): ${what}: expected ${expected}, got ${got}`);
  const names = (list: readonly onnxProto.onnx.IValueInfoProto[]): string => list.map((i) => i.name ?? '').join(', ') || 'none';

  const input = inputs[0];
  if (inputs.length !== 1 || input?.name !== ENCODER_INPUT) throw mismatch('inputs', `exactly one input, ${ENCODER_INPUT}`, names(inputs));
  const output = outputs.find((o) => o.name === ENCODER_OUTPUT);
  if (!output) throw mismatch('outputs', ENCODER_OUTPUT, names(outputs));
  for (const [name, info] of [[ENCODER_INPUT, input], [ENCODER_OUTPUT, output]] as const) {
    const type = info.type?.tensorType?.elemType;
    if (type !== onnx.TensorProto.DataType.FLOAT) throw mismatch(`${name} element type`, 'float32', elemTypeText(type));
  }

  const imageShape = declaredDims(input);
  const batchText = `N (symbolic, or ${views}: one image per camera view of this run)`;
  if (!imageShape || imageShape.length !== 4) throw mismatch(`${ENCODER_INPUT} shape`, '[N, 3, H, W] (rank 4)', shapeText(imageShape));
  const [batch, channels, height, width] = imageShape as [Dim, Dim, Dim, Dim];
  if (channels !== 3) throw mismatch(`${ENCODER_INPUT} shape`, '[N, 3, H, W] with 3 channels (RGB)', shapeText(imageShape));
  if (!fixed(height) || !fixed(width)) throw mismatch(`${ENCODER_INPUT} shape`, '[N, 3, H, W] with H and W fixed positive sizes', shapeText(imageShape));
  if (!symbolic(batch) && batch !== views) throw mismatch(`${ENCODER_INPUT} shape`, `[N, 3, ${height}, ${width}] with ${batchText}`, shapeText(imageShape));

  const featureShape = declaredDims(output);
  const featureBatch = symbolic(batch) ? 'N' : String(batch);
  if (!featureShape || featureShape.length !== 2 || !fixed(featureShape[1])) {
    throw mismatch(`${ENCODER_OUTPUT} shape`, `[${featureBatch}, F] with F a fixed positive size`, shapeText(featureShape));
  }
  const sameBatch = symbolic(batch) ? symbolic(featureShape[0]!) : featureShape[0] === batch;
  if (!sameBatch) {
    throw mismatch(`${ENCODER_OUTPUT} shape`, `[${featureBatch}, F] (the batch of ${ENCODER_INPUT}, ${shapeText(imageShape)})`, shapeText(featureShape));
  }

  const normalisation = metadata[META_NORMALISATION] ?? 'symmetric';
  if (!(normalisation in ENCODER_NORMALISATIONS)) {
    throw mismatch(`metadata ${META_NORMALISATION}`, `"symmetric" or "imagenet" (or no entry, for symmetric)`, JSON.stringify(normalisation));
  }
  const description = metadata[META_DESCRIPTION];
  return {
    batch: symbolic(batch) ? undefined : (batch as number),
    width,
    height,
    featureSize: featureShape[1],
    normalisation: normalisation as EncoderNormalisation,
    description: description === undefined || description.trim() === '' ? undefined : description,
    metadata,
  };
}

/** An encoder loaded from an ONNX file: a FrozenImageEncoder that also releases its session. */
export interface OnnxImageEncoder extends FrozenImageEncoder {
  readonly file: string;
  readonly contract: ImageEncoderContract;
  close(): Promise<void>;
}

export interface ImageEncoderOptions {
  /** Camera views of the run (one image each per encode, in frame order). */
  views: number;
  executionProvider?: ExecutionProviderSetting;
  /** Intra-op threads, 0 or absent for onnxruntime's default. */
  threads?: number;
  logger?: Logger;
}

/** A one-line label: free text on one line, at most 120 characters. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** Loads an ONNX image encoder, checks it against the contract and opens an onnxruntime session. */
export async function loadImageEncoder(file: string, options: ImageEncoderOptions): Promise<OnnxImageEncoder> {
  checkViews(options.views);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new InputError(file, `expected a readable .onnx image encoder, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
  }
  const contract = checkImageEncoderContract(bytes, file, options.views);
  const logger = options.logger ?? rootLog;
  let session: ortTypes.InferenceSession;
  try {
    session = await createSession(bytes, { executionProvider: options.executionProvider ?? 'auto', threads: options.threads ?? 0, logger });
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(file, `expected an image encoder onnxruntime can load, got: ${(error as Error).message.split('\n')[0]}`);
  }
  const { width, height, featureSize, normalisation } = contract;
  const views = options.views;
  const { mean, std } = ENCODER_NORMALISATIONS[normalisation];
  const preprocessor = new Preprocessor({ width, height, mean, std });
  const imageFloats = preprocessor.imageFloats;
  const images = new Float32Array(views * imageFloats);
  const feed = new ort.Tensor('float32', images, [views, 3, height, width]);
  const label = `ONNX image encoder ${file}${contract.description ? ` (${oneLine(contract.description)})` : ''}: ${width}x${height} ${normalisation}-normalised images, ${featureSize} features per view`;
  logger.child('image-encoder').info(`loaded ${file}: batch ${contract.batch ?? 'symbolic'}, images ${width}x${height}, ${normalisation} normalisation, ${featureSize} features per view`);

  // One encode at a time: every call fills the same input buffer.
  let queue: Promise<unknown> = Promise.resolve();
  const run = async (frames: readonly CameraFrame[]): Promise<Float32Array> => {
    await Promise.all(frames.map((frame, v) => preprocessor.image(frame, frame.role, images, v * imageFloats)));
    const result = await session.run({ [ENCODER_INPUT]: feed }, [ENCODER_OUTPUT]);
    const out = result[ENCODER_OUTPUT];
    const data = out?.data;
    if (!(data instanceof Float32Array) || data.length !== views * featureSize) {
      throw new Error(`${file}: expected ${ENCODER_OUTPUT} of ${views * featureSize} float32 values ([${views}, ${featureSize}]), got ${out ? `${out.type} [${out.dims.join(', ')}]` : 'none'}`);
    }
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new Error(`${file}: expected finite ${ENCODER_OUTPUT}, got ${data[bad]} at view ${Math.floor(bad / featureSize)}, feature ${bad % featureSize}`);
    return Float32Array.from(data);
  };

  return {
    file,
    contract,
    label,
    featureSize,
    views,
    encode(frames) {
      if (frames.length !== views) {
        return Promise.reject(new RangeError(`${file}: expected ${views} camera frames (one per view), got ${frames.length}`));
      }
      const result = queue.then(() => run(frames));
      queue = result.catch(() => undefined);
      return result;
    },
    async close() {
      await queue;
      await session.release();
    },
  };
}
