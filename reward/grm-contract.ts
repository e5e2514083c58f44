/**
 * The input/output contract of an ONNX General Reward Model (docs/grm-contract.md). Any model
 * that follows it can be scored, adapted and used for RL; the ONNX backend checks a model against
 * it when loading and names the first mismatch.
 *
 *   inputs (float32)                          outputs (float32)
 *   start        [N, 3, H, W]  front START    hop_logits    [N, B]  logits over the hop bins
 *   goal         [N, 3, H, W]  front GOAL     hop           [N]     expected hop in [-1, 1]
 *   before       [N, 3, 3, H, W] views         view_weights  [N, 2, 3] (optional) fusion weights of
 *   after        [N, 3, 3, H, W] views                        the BEFORE and AFTER views
 *   instruction  [N, T]  hashed word n-grams
 *
 * Views in role order front, left_wrist, right_wrist; images CHW with value = pixel / 127.5 - 1.
 * N (batch) is fixed by the model; the backend pads the last batch. Metadata (ONNX
 * metadata_props): `dopamine.grm.contract` = "1" and `dopamine.grm.hop_bins` = JSON list of the B
 * bin centres, ascending, in [-1, 1].
 */
import onnxProto from 'onnx-proto';
import { InputError } from '../common/errors.js';
import { declaredDims, readDeclaredModel, type ValueInfo } from '../engine/onnx-declared.js';

const { onnx } = onnxProto;

export const CONTRACT_VERSION = '1';
export const META_CONTRACT = 'dopamine.grm.contract';
export const META_HOP_BINS = 'dopamine.grm.hop_bins';
/** Free-form description (model card summary, training figures) kept with the model. */
export const META_DESCRIPTION = 'dopamine.grm.description';

/** Normalisation every contract model expects: (pixel / 255 - 0.5) / 0.5. */
export const CONTRACT_MEAN = [0.5, 0.5, 0.5] as const;
export const CONTRACT_STD = [0.5, 0.5, 0.5] as const;

export interface GrmContract {
  batch: number;
  width: number;
  height: number;
  /** Length T of the instruction vector. */
  textDim: number;
  /** Hop bin centres, ascending. */
  hopBins: number[];
  hasViewWeights: boolean;
  metadata: Record<string, string>;
}

/** Declared dimensions, an unknown one read as 0 (never a valid size here). */
function dims(info: ValueInfo): (number | string)[] | undefined {
  return declaredDims(info)?.map((d) => d ?? 0);
}

const shapeText = (shape: readonly (number | string)[] | undefined): string => (shape ? `[${shape.join(', ')}]` : 'no shape');

/** Reads an ONNX file's bytes and checks them against the contract; `file` names it in errors. */
export function readContract(bytes: Uint8Array, file: string): GrmContract {
  const declared = readDeclaredModel(bytes, file);
  const inputs = new Map(declared.inputs.map((i) => [i.name ?? '', i]));
  const outputs = new Map(declared.outputs.map((o) => [o.name ?? '', o]));
  const metadata = declared.metadata;

  const mismatch = (what: string, expected: string, got: string): InputError =>
    new InputError(file, `does not follow the GRM contract (docs/grm-contract.md): ${what}: expected ${expected}, got ${got}`);

  if (metadata[META_CONTRACT] !== CONTRACT_VERSION) {
    throw mismatch(`metadata ${META_CONTRACT}`, `"${CONTRACT_VERSION}"`, metadata[META_CONTRACT] === undefined ? 'none' : `"${metadata[META_CONTRACT]}"`);
  }
  const expectedInputs = ['start', 'goal', 'before', 'after', 'instruction'];
  for (const name of expectedInputs) {
    if (!inputs.has(name)) throw mismatch('inputs', expectedInputs.join(', '), [...inputs.keys()].join(', ') || 'none');
  }
  for (const name of ['hop_logits', 'hop']) {
    if (!outputs.has(name)) throw mismatch('outputs', 'hop_logits, hop (and optionally view_weights)', [...outputs.keys()].join(', ') || 'none');
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  for (const [name, info] of [...inputs, ...outputs]) {
    if (!expectedInputs.includes(name) && !['hop_logits', 'hop', 'view_weights'].includes(name)) continue;
    if (info.type?.tensorType?.elemType !== FLOAT) throw mismatch(`${name} element type`, 'float32', String(info.type?.tensorType?.elemType ?? 'none'));
  }
  const shape = (name: string): (number | string)[] | undefined => dims((inputs.get(name) ?? outputs.get(name))!);
  const numeric = (name: string, rank: number, expected: string): number[] => {
    const s = shape(name);
    if (!s || s.length !== rank || s.some((d) => typeof d !== 'number' || d < 1)) throw mismatch(`${name} shape`, expected, shapeText(s));
    return s as number[];
  };
  const before = numeric('before', 6 - 1, '[N, 3, 3, H, W] with fixed sizes');
  const [batch, views, channels, height, width] = before as [number, number, number, number, number];
  if (views !== 3 || channels !== 3) throw mismatch('before shape', '[N, 3 views, 3 channels, H, W]', shapeText(before));
  const same = (name: string, expected: number[]): void => {
    const s = shape(name);
    if (!s || s.length !== expected.length || s.some((d, i) => d !== expected[i])) throw mismatch(`${name} shape`, shapeText(expected), shapeText(s));
  };
  same('after', before);
  same('start', [batch, 3, height, width]);
  same('goal', [batch, 3, height, width]);
  const instruction = numeric('instruction', 2, '[N, T]');
  if (instruction[0] !== batch) throw mismatch('instruction shape', `[${batch}, T]`, shapeText(instruction));
  const logits = numeric('hop_logits', 2, '[N, B]');
  if (logits[0] !== batch) throw mismatch('hop_logits shape', `[${batch}, B]`, shapeText(logits));
  same('hop', [batch]);
  const hasViewWeights = outputs.has('view_weights');
  if (hasViewWeights) same('view_weights', [batch, 2, 3]);

  let hopBins: unknown;
  try {
    hopBins = JSON.parse(metadata[META_HOP_BINS] ?? 'null');
  } catch {
    hopBins = null;
  }
  const bins = logits[1]!;
  if (
    !Array.isArray(hopBins) ||
    hopBins.length !== bins ||
    hopBins.some((v, i) => typeof v !== 'number' || v < -1 || v > 1 || (i > 0 && v <= (hopBins as number[])[i - 1]!))
  ) {
    throw mismatch(`metadata ${META_HOP_BINS}`, `a JSON list of ${bins} ascending numbers in [-1, 1] (one per hop_logits bin)`, metadata[META_HOP_BINS] ?? 'none');
  }
  return { batch, width, height, textDim: instruction[1]!, hopBins: hopBins as number[], hasViewWeights, metadata };
}

/** Returns the model bytes with these metadata entries set (others kept). */
export function withMetadata(bytes: Uint8Array, entries: Record<string, string>): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  const kept = (model.metadataProps ?? []).filter((e) => !(e.key! in entries));
  model.metadataProps = [...kept, ...Object.entries(entries).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }))];
  return onnx.ModelProto.encode(model).finish();
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Lower-cased words: runs of letters and digits. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * The instruction as a fixed vector, no text model needed: every word (unigram) and every pair of
 * neighbouring words (bigram, joined by one space) is hashed with FNV-1a; the hash modulo T picks
 * the slot and its top bit the sign (+1 or -1); the vector is then scaled to unit length (all
 * zeros for an instruction without words).
 */
export function encodeInstruction(text: string, dim: number, out: Float32Array = new Float32Array(dim), offset = 0): Float32Array {
  out.fill(0, offset, offset + dim);
  const tokens = words(text);
  const grams = [...tokens, ...tokens.slice(1).map((w, i) => `${tokens[i]} ${w}`)];
  for (const gram of grams) {
    const h = fnv1a(gram);
    out[offset + (h % dim)]! += h >>> 31 ? -1 : 1;
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += out[offset + i]! ** 2;
  if (norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[offset + i]! *= scale;
  }
  return out;
}

/** Evenly spaced hop bin centres over [-1, 1] (both ends included). */
export function evenHopBins(count: number): number[] {
  return Array.from({ length: count }, (_, i) => -1 + (2 * i) / (count - 1));
}
