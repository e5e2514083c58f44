/**
 * Parameters by name, with seeded initialisation. Each parameter's values come from its own
 * PRNG stream (seed mixed with a hash of its name), so initial weights do not depend on the order
 * in which graphs first use them. Training replaces a parameter's `data` by the buffer the step
 * wrote into (double buffering), so always read `store.get(name).data`, never keep the array.
 */
import type { DType, Shape } from './graph.js';
import { shapeText, sizeOf } from './graph.js';

export type FloatArray = Float32Array | Float64Array;

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'constant'; value: number }
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; limit: number };

export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  data: FloatArray;
}

/** Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), the common default for linear layers. */
export function fanInUniform(fanIn: number): Init {
  return { kind: 'uniform', limit: 1 / Math.sqrt(fanIn) };
}

/** 32-bit FNV-1a hash of a string. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a small, fast, seedable PRNG giving floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples from a uniform source (Box-Muller). */
export function normalSampler(random: () => number): () => number {
  return () => {
    const u = 1 - random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
}

export function initValues(init: Init, size: number, random: () => number): number[] {
  const normal = normalSampler(random);
  return Array.from({ length: size }, () => {
    switch (init.kind) {
      case 'zeros': return 0;
      case 'ones': return 1;
      case 'constant': return init.value;
      case 'normal': return normal() * init.std;
      case 'uniform': return (2 * random() - 1) * init.limit;
    }
  });
}

export class ParamStore {
  readonly dtype: DType;
  readonly seed: number;
  private readonly params = new Map<string, Param>();

  constructor(options: { seed: number; dtype?: DType }) {
    this.seed = options.seed;
    this.dtype = options.dtype ?? 'float32';
  }

  private alloc(size: number): FloatArray {
    return this.dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
  }

  /** The parameter, created with `init` on first use; a later use with another shape throws. */
  ensure(name: string, shape: Shape, init: Init): Param {
    const existing = this.params.get(name);
    if (existing) {
      if (existing.shape.length !== shape.length || existing.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`parameter ${name} has shape ${shapeText(existing.shape)}, used as ${shapeText(shape)}`);
      }
      return existing;
    }
    const data = this.alloc(sizeOf(shape));
    data.set(initValues(init, data.length, seededRandom(this.seed ^ hashName(name))));
    const param: Param = { name, shape: [...shape], data };
    this.params.set(name, param);
    return param;
  }

  get(name: string): Param {
    const param = this.params.get(name);
    if (!param) throw new Error(`no parameter ${name}`);
    return param;
  }

  has(name: string): boolean {
    return this.params.has(name);
  }

  names(): string[] {
    return [...this.params.keys()];
  }

  /** Total number of scalar parameters. */
  count(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.data.length;
    return n;
  }

  /** Copy values into a parameter (e.g. initialise target networks from online ones). */
  set(name: string, values: ArrayLike<number>): void {
    const param = this.get(name);
    if (values.length !== param.data.length) throw new Error(`parameter ${name} has ${param.data.length} values, got ${values.length}`);
    param.data.set(values);
  }

  /** Copy every parameter whose name starts with `fromPrefix` onto `toPrefix` + rest (created if missing). */
  copyPrefix(fromPrefix: string, toPrefix: string): void {
    for (const name of this.names()) {
      if (!name.startsWith(fromPrefix)) continue;
      const source = this.get(name);
      const target = this.ensure(toPrefix + name.slice(fromPrefix.length), source.shape, { kind: 'zeros' });
      target.data.set(source.data);
    }
  }
}

/**
 * Polyak averaging in place: target = tau * online + (1 - tau) * target, for every parameter
 * under `onlinePrefix` and its twin under `targetPrefix`. A plain loop; bench:engine measures it (polyak_update_ms).
 */
export function polyakUpdate(store: ParamStore, onlinePrefix: string, targetPrefix: string, tau: number): void {
  for (const name of store.names()) {
    if (!name.startsWith(onlinePrefix)) continue;
    const online = store.get(name).data;
    const target = store.get(targetPrefix + name.slice(onlinePrefix.length)).data;
    for (let i = 0; i < online.length; i++) target[i] = tau * online[i]! + (1 - tau) * target[i]!;
  }
}
