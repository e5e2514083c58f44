/**
 * Training steps and inference as onnxruntime sessions over a shared ParamStore.
 *
 * A Trainer compiles one step graph: inputs = batch, parameters, Adam moments, step number and
 * learning rate; outputs = loss, gradient norm, extra outputs, new parameters, new moments. The
 * new values are written into preallocated spare buffers (onnxruntime-node fills tensors passed as
 * fetches) and swapped in only after the loss and gradient norm are checked to be finite, so a
 * diverged step leaves the weights and optimiser state exactly as they were.
 */
import type * as ortTypes from 'onnxruntime-node';
import { writeFileSync } from 'node:fs';
import { gradients } from './autodiff.js';
import type { Tensor } from './graph.js';
import { Graph, shapeText } from './graph.js';
import { emitModel } from './onnx.js';
import type { AdamOptions } from './optim.js';
import { adamUpdate } from './optim.js';
import type { FloatArray, ParamStore } from './params.js';
import type { RuntimeOptions } from './runtime.js';
import { createSession, ort } from './runtime.js';
import { writeFileAtomic } from './files.js';

export type Feeds = Record<string, ArrayLike<number>>;

/** A loss or gradient became NaN or infinite; the weights are those before the step. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly trainer: string,
    readonly step: number,
    readonly what: string,
  ) {
    super(`${trainer}: training stopped at step ${step}: ${what} is not finite; weights kept from step ${step - 1}`);
  }
}

export interface StepGraph {
  loss: Tensor;
  /** Extra values to return each step (predictions, Q values, entropy ...). */
  outputs?: Record<string, Tensor>;
}

export interface TrainerOptions extends RuntimeOptions {
  store: ParamStore;
  /** Declare the inputs and return the loss; called once, on a fresh graph over `store`. */
  build(graph: Graph): StepGraph;
  optimizer: AdamOptions;
  /** Which of the graph's parameters this trainer updates; the others are read, frozen. Default all. */
  trainable?: (name: string) => boolean;
  /** Names this trainer in errors and checkpoints. */
  name?: string;
}

export interface StepResult {
  step: number;
  loss: number;
  gradNorm: number;
  outputs: Record<string, FloatArray>;
}

interface Slot {
  name: string;
  shape: number[];
  m: FloatArray;
  v: FloatArray;
  spareParam: FloatArray;
  spareM: FloatArray;
  spareV: FloatArray;
}

const LOSS = 'loss';
const GRAD_NORM = 'grad_norm';
const STEP = 'adam/step';
const LR = 'adam/lr';
const key = {
  m: (name: string) => `adam/m/${name}`,
  v: (name: string) => `adam/v/${name}`,
  newParam: (name: string) => `new/${name}`,
  newM: (name: string) => `new/adam/m/${name}`,
  newV: (name: string) => `new/adam/v/${name}`,
};

function tensorCache(dtype: 'float32' | 'float64'): (data: FloatArray, shape: readonly number[]) => ortTypes.Tensor {
  const cache = new WeakMap<FloatArray, ortTypes.Tensor>();
  return (data, shape) => {
    let t = cache.get(data);
    if (!t) {
      t = new ort.Tensor(dtype, data, shape);
      cache.set(data, t);
    }
    return t;
  };
}

function checkFeed(owner: string, name: string, value: ArrayLike<number> | undefined, shape: readonly number[], dtype: 'float32' | 'float64'): FloatArray {
  const size = shape.reduce((n, d) => n * d, 1);
  if (value === undefined) throw new Error(`${owner}: missing input ${name} of shape ${shapeText(shape)}`);
  if (value.length !== size) throw new Error(`${owner}: input ${name} has ${value.length} values, expected ${size} for shape ${shapeText(shape)}`);
  const Typed = dtype === 'float32' ? Float32Array : Float64Array;
  return value instanceof Typed ? value : Typed.from(value);
}

export class Trainer {
  /** Number of successful steps so far. */
  step = 0;
  private readonly tensor: (data: FloatArray, shape: readonly number[]) => ortTypes.Tensor;

  private constructor(
    readonly name: string,
    readonly store: ParamStore,
    private readonly session: ortTypes.InferenceSession,
    private readonly inputShapes: Map<string, number[]>,
    private readonly frozen: string[],
    private readonly slots: Slot[],
    private readonly extraOutputs: string[],
    readonly optimizer: AdamOptions,
    /** The serialised step graph, for inspection. */
    readonly modelBytes: Uint8Array,
  ) {
    this.tensor = tensorCache(store.dtype);
  }

  static async create(options: TrainerOptions): Promise<Trainer> {
    const name = options.name ?? 'trainer';
    const graph = new Graph({ store: options.store });
    const spec = options.build(graph);
    const trainable = options.trainable ?? (() => true);
    const allParams = [...graph.params.entries()];
    const trained = allParams.filter(([n]) => trainable(n));
    if (trained.length === 0) throw new Error(`${name}: no trainable parameters`);
    const grads = gradients(spec.loss, trained.map(([, t]) => t));
    const step = graph.input(STEP, []);
    const lr = graph.input(LR, []);
    const m = trained.map(([n, t]) => graph.input(key.m(n), t.shape));
    const v = trained.map(([n, t]) => graph.input(key.v(n), t.shape));
    const update = adamUpdate({ params: trained.map(([, t]) => t), grads, m, v, step, lr }, options.optimizer);

    const outputs: Record<string, Tensor> = { [LOSS]: spec.loss, [GRAD_NORM]: update.gradNorm, ...spec.outputs };
    trained.forEach(([n], i) => {
      outputs[key.newParam(n)] = update.params[i]!;
      outputs[key.newM(n)] = update.m[i]!;
      outputs[key.newV(n)] = update.v[i]!;
    });
    const emitted = emitModel(graph, { outputs, name });
    const session = await createSession(emitted.bytes, options);

    const alloc = (n: number): FloatArray => (options.store.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n));
    const slots: Slot[] = trained.map(([n, t]) => {
      const size = t.size;
      return { name: n, shape: [...t.shape], m: alloc(size), v: alloc(size), spareParam: alloc(size), spareM: alloc(size), spareV: alloc(size) };
    });
    const trainedNames = new Set(trained.map(([n]) => n));
    const frozen = emitted.paramInputs.filter((n) => !trainedNames.has(n));
    const batchInputs = new Map(graph.inputs.filter((i) => emitted.inputNames.includes(i.name) && !i.name.startsWith('adam/')).map((i) => [i.name, [...i.tensor.shape]]));
    return new Trainer(name, options.store, session, batchInputs, frozen, slots, Object.keys(spec.outputs ?? {}), options.optimizer, emitted.bytes);
  }

  /** Batch inputs this step graph reads, with their shapes. */
  get inputs(): ReadonlyMap<string, readonly number[]> {
    return this.inputShapes;
  }

  /** Names of the parameters this trainer updates. */
  get trainableNames(): string[] {
    return this.slots.map((s) => s.name);
  }

  /** One forward + backward + Adam step. Throws NonFiniteError (weights untouched) on NaN/inf. */
  async run(batch: Feeds, options: { lr?: number } = {}): Promise<StepResult> {
    const dtype = this.store.dtype;
    const stepNumber = this.step + 1;
    const scalar = (value: number): ortTypes.Tensor => new ort.Tensor(dtype, dtype === 'float32' ? Float32Array.of(value) : Float64Array.of(value), []);
    const feeds: Record<string, ortTypes.Tensor> = {
      [STEP]: scalar(stepNumber),
      [LR]: scalar(options.lr ?? this.optimizer.lr),
    };
    for (const [name, shape] of this.inputShapes) feeds[name] = new ort.Tensor(dtype, checkFeed(this.name, name, batch[name], shape, dtype), shape);
    for (const name of this.frozen) {
      const p = this.store.get(name);
      feeds[name] = this.tensor(p.data, p.shape);
    }
    const fetches: Record<string, ortTypes.Tensor | null> = { [LOSS]: null, [GRAD_NORM]: null };
    for (const name of this.extraOutputs) fetches[name] = null;
    for (const slot of this.slots) {
      const p = this.store.get(slot.name);
      feeds[slot.name] = this.tensor(p.data, slot.shape);
      feeds[key.m(slot.name)] = this.tensor(slot.m, slot.shape);
      feeds[key.v(slot.name)] = this.tensor(slot.v, slot.shape);
      fetches[key.newParam(slot.name)] = this.tensor(slot.spareParam, slot.shape);
      fetches[key.newM(slot.name)] = this.tensor(slot.spareM, slot.shape);
      fetches[key.newV(slot.name)] = this.tensor(slot.spareV, slot.shape);
    }
    const result = await this.session.run(feeds, fetches);
    const loss = Number((result[LOSS]!.data as FloatArray)[0]);
    const gradNorm = Number((result[GRAD_NORM]!.data as FloatArray)[0]);
    if (!Number.isFinite(loss)) throw new NonFiniteError(this.name, stepNumber, `loss (${loss})`);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteError(this.name, stepNumber, `gradient norm (${gradNorm})`);
    // Swap: the spare buffers now hold the new values, the old ones become next step's spares.
    for (const slot of this.slots) {
      const p = this.store.get(slot.name);
      [p.data, slot.spareParam] = [slot.spareParam, p.data];
      [slot.m, slot.spareM] = [slot.spareM, slot.m];
      [slot.v, slot.spareV] = [slot.spareV, slot.v];
    }
    this.step = stepNumber;
    const outputs: Record<string, FloatArray> = {};
    for (const name of this.extraOutputs) outputs[name] = result[name]!.data as FloatArray;
    return { step: stepNumber, loss, gradNorm, outputs };
  }

  /** Adam moments and step count, for checkpoints. */
  optimizerState(): { step: number; moments: { name: string; shape: number[]; m: FloatArray; v: FloatArray }[] } {
    return { step: this.step, moments: this.slots.map((s) => ({ name: s.name, shape: s.shape, m: s.m, v: s.v })) };
  }

  /** Restore moments and step count (shapes checked by the caller). */
  setOptimizerState(step: number, moments: Map<string, { m: ArrayLike<number>; v: ArrayLike<number> }>): void {
    for (const slot of this.slots) {
      const saved = moments.get(slot.name);
      if (!saved) throw new Error(`${this.name}: no optimiser state for ${slot.name}`);
      slot.m.set(saved.m);
      slot.v.set(saved.v);
    }
    this.step = step;
  }

  /** Write the step graph as .onnx (debugging: inspect it with any ONNX viewer). */
  writeStepGraph(path: string): void {
    writeFileSync(path, this.modelBytes);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export interface PredictorOptions extends RuntimeOptions {
  store: ParamStore;
  /** Declare inputs and return the named outputs. */
  build(graph: Graph): Record<string, Tensor>;
  name?: string;
}

/** Inference over the store's current parameters (fed each run, so training is seen at once). */
export class Predictor {
  private readonly tensor: (data: FloatArray, shape: readonly number[]) => ortTypes.Tensor;

  private constructor(
    readonly name: string,
    readonly store: ParamStore,
    private readonly session: ortTypes.InferenceSession,
    private readonly inputShapes: Map<string, number[]>,
    private readonly paramNames: string[],
  ) {
    this.tensor = tensorCache(store.dtype);
  }

  static async create(options: PredictorOptions): Promise<Predictor> {
    const graph = new Graph({ store: options.store });
    const outputs = options.build(graph);
    const emitted = emitModel(graph, { outputs, name: options.name ?? 'predictor' });
    const session = await createSession(emitted.bytes, options);
    const inputs = new Map(graph.inputs.filter((i) => emitted.inputNames.includes(i.name)).map((i) => [i.name, [...i.tensor.shape]]));
    return new Predictor(options.name ?? 'predictor', options.store, session, inputs, emitted.paramInputs);
  }

  get inputs(): ReadonlyMap<string, readonly number[]> {
    return this.inputShapes;
  }

  async run(inputs: Feeds): Promise<Record<string, FloatArray>> {
    const dtype = this.store.dtype;
    const feeds: Record<string, ortTypes.Tensor> = {};
    for (const [name, shape] of this.inputShapes) feeds[name] = new ort.Tensor(dtype, checkFeed(this.name, name, inputs[name], shape, dtype), shape);
    for (const name of this.paramNames) {
      const p = this.store.get(name);
      feeds[name] = this.tensor(p.data, p.shape);
    }
    const result = await this.session.run(feeds);
    const out: Record<string, FloatArray> = {};
    for (const [name, value] of Object.entries(result)) out[name] = value.data as FloatArray;
    return out;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The inference graph alone, parameters baked in as initializers: a standard .onnx file any ONNX
 * runtime loads. Written atomically when `path` is given.
 */
export function exportOnnx(store: ParamStore, build: (graph: Graph) => Record<string, Tensor>, path?: string): Uint8Array {
  const graph = new Graph({ store });
  const outputs = build(graph);
  const { bytes } = emitModel(graph, { outputs, initializers: (name) => store.get(name).data, name: 'inference' });
  if (path) writeFileAtomic(path, bytes);
  return bytes;
}
