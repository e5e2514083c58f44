/**
 * An ONNX General Reward Model (docs/grm-contract.md) run by onnxruntime-node: the project's
 * GRM-tiny, an adapted copy of it, or any model following the contract. The model is checked
 * against the contract when it loads; the execution provider (CUDA when available, else CPU) is
 * chosen and logged by the engine's runtime.
 *
 * Buffers: one set of input tensors of the model's batch size, allocated once and refilled each
 * call; preprocessed states are kept in a small pool of preallocated slots keyed by the ViewSet
 * object, so the previous state of a fused step, the start and the goal are preprocessed once.
 */
import { readFileSync } from 'node:fs';
import type * as ortTypes from 'onnxruntime-node';
import { InputError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { log as rootLog } from '../common/log.js';
import type { ExecutionProviderSetting } from '../engine/index.js';
import { createSession } from '../engine/index.js';
import { ort } from '../engine/runtime.js';
import type { ViewSet } from '../perception/images.js';
import type { Crop } from '../perception/preprocess.js';
import { Preprocessor } from '../perception/preprocess.js';
import type { CameraRole } from '../robot/types.js';
import { CONTRACT_MEAN, CONTRACT_STD, encodeInstruction, readContract, type GrmContract } from './grm-contract.js';
import type { HopPrediction, HopQuery, RewardModel, TaskReferences } from './model.js';
import { binConfidence, RewardModelError, softmaxInto } from './model.js';

export interface OnnxBackendOptions {
  executionProvider?: ExecutionProviderSetting;
  threads?: number;
  crops?: Partial<Record<CameraRole, Crop | undefined>>;
  /** Preprocessed states kept (default 16). */
  stateSlots?: number;
  logger?: Logger;
}

interface StateSlot {
  key: ViewSet | undefined;
  /** 3 views, CHW each. */
  data: Float32Array;
}

export class OnnxRewardModel implements RewardModel {
  readonly name: string;
  readonly hopBins: readonly number[];
  /** Fusion weights of the last call's views, [N, 2, 3] per query, when the model has them. */
  lastViewWeights: Float32Array[] = [];
  private readonly preprocessor: Preprocessor;
  private readonly imageFloats: number;
  private readonly buffers: Record<'start' | 'goal' | 'before' | 'after' | 'instruction', Float32Array>;
  private readonly feeds: Record<string, ortTypes.Tensor>;
  private readonly slots: StateSlot[];
  private nextSlot = 0;
  private readonly instructionCache = new Map<string, Float32Array>();

  private constructor(
    readonly file: string,
    readonly contract: GrmContract,
    private readonly session: ortTypes.InferenceSession,
    options: OnnxBackendOptions,
  ) {
    this.name = `onnx ${file}`;
    this.hopBins = contract.hopBins;
    const { batch: n, width, height, textDim } = contract;
    this.preprocessor = new Preprocessor({ width, height, crops: options.crops, mean: [...CONTRACT_MEAN], std: [...CONTRACT_STD] });
    this.imageFloats = this.preprocessor.imageFloats;
    this.buffers = {
      start: new Float32Array(n * this.imageFloats),
      goal: new Float32Array(n * this.imageFloats),
      before: new Float32Array(n * 3 * this.imageFloats),
      after: new Float32Array(n * 3 * this.imageFloats),
      instruction: new Float32Array(n * textDim),
    };
    this.feeds = {
      start: new ort.Tensor('float32', this.buffers.start, [n, 3, height, width]),
      goal: new ort.Tensor('float32', this.buffers.goal, [n, 3, height, width]),
      before: new ort.Tensor('float32', this.buffers.before, [n, 3, 3, height, width]),
      after: new ort.Tensor('float32', this.buffers.after, [n, 3, 3, height, width]),
      instruction: new ort.Tensor('float32', this.buffers.instruction, [n, textDim]),
    };
    this.slots = Array.from({ length: Math.max(4, options.stateSlots ?? 16) }, () => ({ key: undefined, data: new Float32Array(3 * this.imageFloats) }));
  }

  /** Loads and checks a contract model. */
  static async load(file: string, options: OnnxBackendOptions = {}): Promise<OnnxRewardModel> {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new InputError(file, `expected a readable .onnx model, got ${(error as NodeJS.ErrnoException).code ?? 'an error'}`);
    }
    const contract = readContract(bytes, file);
    const log = (options.logger ?? rootLog).child('grm-onnx');
    let session: ortTypes.InferenceSession;
    try {
      session = await createSession(bytes, { executionProvider: options.executionProvider ?? 'auto', threads: options.threads ?? 0, logger: options.logger ?? rootLog });
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(file, `expected a model onnxruntime can load, got: ${(error as Error).message.split('\n')[0]}`);
    }
    log.info(`loaded ${file}: batch ${contract.batch}, images ${contract.width}x${contract.height}, ${contract.hopBins.length} hop bins, instruction ${contract.textDim}`);
    return new OnnxRewardModel(file, contract, session, options);
  }

  /**
   * Preprocessed views of a state, from the slot pool (the least recently filled slot is reused,
   * never one in `pinned`: a hit for START may sit in the very slot the next fill would take).
   */
  private async state(views: ViewSet, pinned: ReadonlySet<Float32Array>): Promise<Float32Array> {
    const hit = this.slots.find((s) => s.key === views);
    if (hit) return hit.data;
    while (pinned.has(this.slots[this.nextSlot]!.data)) this.nextSlot = (this.nextSlot + 1) % this.slots.length;
    const slot = this.slots[this.nextSlot]!;
    this.nextSlot = (this.nextSlot + 1) % this.slots.length;
    slot.key = undefined;
    await this.preprocessor.views(views, slot.data, 0);
    slot.key = views;
    return slot.data;
  }

  private instruction(text: string): Float32Array {
    let vector = this.instructionCache.get(text);
    if (!vector) {
      vector = encodeInstruction(text, this.contract.textDim);
      if (this.instructionCache.size > 64) this.instructionCache.clear();
      this.instructionCache.set(text, vector);
    }
    return vector;
  }

  async predict(task: TaskReferences, queries: readonly HopQuery[]): Promise<HopPrediction[]> {
    const n = this.contract.batch;
    const size = this.imageFloats;
    const bins = this.hopBins.length;
    const predictions: HopPrediction[] = [];
    this.lastViewWeights = [];
    // START and GOAL are copied into every row: their slots stay pinned for the whole call.
    const pinned = new Set<Float32Array>();
    const start = await this.state(task.start, pinned);
    pinned.add(start);
    const goal = await this.state(task.goal, pinned);
    pinned.add(goal);
    const instruction = this.instruction(task.instruction);
    for (let first = 0; first < queries.length; first += n) {
      const chunk = queries.slice(first, first + n);
      for (let k = 0; k < n; k++) {
        // Padding rows repeat the chunk's first query; their outputs are dropped.
        const query = chunk[k] ?? chunk[0]!;
        // Each state is copied before the next fill, which may take its slot.
        this.buffers.before.set(await this.state(query.before, pinned), k * 3 * size);
        this.buffers.after.set(await this.state(query.after, pinned), k * 3 * size);
        this.buffers.start.set(start.subarray(0, size), k * size);
        this.buffers.goal.set(goal.subarray(0, size), k * size);
        this.buffers.instruction.set(instruction, k * this.contract.textDim);
      }
      const result = await this.session.run(this.feeds);
      const logits = result.hop_logits!.data as Float32Array;
      const hops = result.hop!.data as Float32Array;
      const weights = result.view_weights?.data as Float32Array | undefined;
      for (let k = 0; k < chunk.length; k++) {
        const hop = hops[k]!;
        if (!Number.isFinite(hop)) throw new RewardModelError(`${this.name}: output hop of query ${first + k} is ${hop}, expected a finite number`);
        const probs = softmaxInto(logits.subarray(k * bins, (k + 1) * bins), new Float32Array(bins));
        predictions.push({ hop: Math.max(-1, Math.min(1, hop)), bins: probs, confidence: binConfidence(probs) });
        if (weights) this.lastViewWeights.push(weights.slice(k * 6, (k + 1) * 6));
      }
    }
    return predictions;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
