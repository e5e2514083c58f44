/**
 * Replay buffers: fixed-capacity rings of transitions in typed arrays, and RLPD's symmetric
 * sampling (Ball et al. 2023): every batch takes half its rows from the demo buffer and half from
 * the online buffer, so a few demos keep their weight however many online steps pile up.
 * Only transitions whose reward is known (scored by the reward model) are ever added.
 */
import type { Rng } from './rng.js';

export interface Transition {
  observation: ArrayLike<number>;
  /** The action taken, in the policy's [-1, 1] units. */
  action: ArrayLike<number>;
  reward: number;
  nextObservation: ArrayLike<number>;
  /** s' ends the MDP (success, failure, safety stop): no bootstrap. False for a time-limit cut. */
  terminal: boolean;
  /** Control steps from s to s' (an n-step transition; default 1): the bootstrap is discounted by gamma^steps. */
  steps?: number;
  /** Weight of a demo row in the behaviour-cloning terms (default 1; learner.ts weighs gripper switches up). */
  weight?: number;
}

/** A batch laid out as the learner's step graphs read it: row-major [size, width]. */
export interface Batch {
  size: number;
  observation: Float32Array;
  action: Float32Array;
  reward: Float32Array;
  nextObservation: Float32Array;
  /** 1 where s' is terminal, else 0. */
  done: Float32Array;
  /** Control steps from s to s'. */
  steps: Float32Array;
  /**
   * Weight of the row in the behaviour-cloning terms: the demo row's weight (1, more at a gripper
   * switch) where it came from the demo buffer, 0 on online rows (set by sampleSymmetric).
   */
  demo: Float32Array;
}

export function allocateBatch(size: number, observationSize: number, actionSize: number): Batch {
  return {
    size,
    observation: new Float32Array(size * observationSize),
    action: new Float32Array(size * actionSize),
    reward: new Float32Array(size),
    nextObservation: new Float32Array(size * observationSize),
    done: new Float32Array(size),
    steps: new Float32Array(size),
    demo: new Float32Array(size),
  };
}

export class ReplayBuffer {
  readonly observation: Float32Array;
  readonly action: Float32Array;
  readonly reward: Float32Array;
  readonly nextObservation: Float32Array;
  readonly done: Float32Array;
  readonly steps: Float32Array;
  readonly weight: Float32Array;
  /** Transitions held (at most capacity). */
  size = 0;
  /** Transitions ever added (the ring overwrites the oldest once full). */
  added = 0;

  constructor(
    readonly name: string,
    readonly capacity: number,
    readonly observationSize: number,
    readonly actionSize: number,
  ) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`${name}: capacity must be a positive integer, got ${capacity}`);
    this.observation = new Float32Array(capacity * observationSize);
    this.action = new Float32Array(capacity * actionSize);
    this.reward = new Float32Array(capacity);
    this.nextObservation = new Float32Array(capacity * observationSize);
    this.done = new Float32Array(capacity);
    this.steps = new Float32Array(capacity);
    this.weight = new Float32Array(capacity);
  }

  add(t: Transition): void {
    if (t.observation.length !== this.observationSize || t.nextObservation.length !== this.observationSize) {
      throw new RangeError(`${this.name}: observation must have ${this.observationSize} values, got ${t.observation.length} and ${t.nextObservation.length}`);
    }
    if (t.action.length !== this.actionSize) throw new RangeError(`${this.name}: action must have ${this.actionSize} values, got ${t.action.length}`);
    if (!Number.isFinite(t.reward)) throw new RangeError(`${this.name}: reward must be finite, got ${t.reward}`);
    const steps = t.steps ?? 1;
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`${this.name}: steps must be a positive integer, got ${steps}`);
    const weight = t.weight ?? 1;
    if (!(Number.isFinite(weight) && weight >= 0)) throw new RangeError(`${this.name}: weight must be a finite number >= 0, got ${weight}`);
    const row = this.added % this.capacity;
    this.observation.set(t.observation, row * this.observationSize);
    this.action.set(t.action, row * this.actionSize);
    this.reward[row] = t.reward;
    this.nextObservation.set(t.nextObservation, row * this.observationSize);
    this.done[row] = t.terminal ? 1 : 0;
    this.steps[row] = steps;
    this.weight[row] = weight;
    this.added++;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  /** Copies `count` uniformly drawn transitions (with their weights, into `demo`) into batch rows [offset, offset + count). */
  sampleInto(batch: Batch, offset: number, count: number, rng: Rng): void {
    if (this.size === 0) throw new Error(`${this.name}: cannot sample from an empty buffer`);
    const o = this.observationSize;
    const a = this.actionSize;
    for (let i = offset; i < offset + count; i++) {
      const row = rng.int(this.size);
      batch.observation.set(this.observation.subarray(row * o, row * o + o), i * o);
      batch.action.set(this.action.subarray(row * a, row * a + a), i * a);
      batch.reward[i] = this.reward[row]!;
      batch.nextObservation.set(this.nextObservation.subarray(row * o, row * o + o), i * o);
      batch.done[i] = this.done[row]!;
      batch.steps[i] = this.steps[row]!;
      batch.demo[i] = this.weight[row]!;
    }
  }
}

/**
 * Fills `batch` half from `demo` and half from `online` (RLPD symmetric sampling). While one of
 * them is empty the other fills the whole batch.
 */
export function sampleSymmetric(demo: ReplayBuffer, online: ReplayBuffer, batch: Batch, rng: Rng): void {
  if (demo.size === 0 && online.size === 0) throw new Error('no transitions to sample: demo and online buffers are empty');
  const half = online.size === 0 ? batch.size : demo.size === 0 ? 0 : Math.floor(batch.size / 2);
  if (half > 0) demo.sampleInto(batch, 0, half, rng);
  if (half < batch.size) online.sampleInto(batch, half, batch.size - half, rng);
  batch.demo.fill(0, half);
}
