/**
 * Symbolic tensors with static shapes. Every operation records one node; `onnx.ts` turns the
 * recorded nodes into ONNX operators and `autodiff.ts` walks them backwards using the gradient
 * rule each operation declares here (written once, in terms of the same operations).
 */
import type { ParamStore, Init } from './params.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];

/** What produced a tensor: a graph input, a parameter, a constant, or an operation on tensors. */
export interface NodeRecord {
  readonly kind: string;
  readonly inputs: readonly Tensor[];
  readonly attrs: Readonly<Record<string, unknown>>;
}

export function sizeOf(shape: Shape): number {
  return shape.reduce((n, d) => n * d, 1);
}

export function shapeText(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** numpy broadcasting of two shapes; throws on incompatible dimensions. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast ${shapeText(a)} with ${shapeText(b)}`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

export type TensorLike = Tensor | number;

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: Shape,
    readonly node: NodeRecord,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return sizeOf(this.shape);
  }

  add(other: TensorLike): Tensor { return this.graph.op('add', [this, this.graph.lift(other)]); }
  sub(other: TensorLike): Tensor { return this.graph.op('sub', [this, this.graph.lift(other)]); }
  mul(other: TensorLike): Tensor { return this.graph.op('mul', [this, this.graph.lift(other)]); }
  div(other: TensorLike): Tensor { return this.graph.op('div', [this, this.graph.lift(other)]); }
  neg(): Tensor { return this.graph.op('neg', [this]); }
  exp(): Tensor { return this.graph.op('exp', [this]); }
  log(): Tensor { return this.graph.op('log', [this]); }
  sqrt(): Tensor { return this.graph.op('sqrt', [this]); }
  square(): Tensor { return this.mul(this); }
  tanh(): Tensor { return this.graph.op('tanh', [this]); }
  sigmoid(): Tensor { return this.graph.op('sigmoid', [this]); }
  relu(): Tensor { return this.graph.op('relu', [this]); }
  /** Elementwise maximum / minimum with broadcasting; the gradient goes to the selected side. */
  maximum(other: TensorLike): Tensor { return this.graph.op('max2', [this, this.graph.lift(other)]); }
  minimum(other: TensorLike): Tensor { return this.graph.op('min2', [this, this.graph.lift(other)]); }
  abs(): Tensor { return this.maximum(this.neg()); }
  /** GELU, tanh approximation (built from tanh so it runs in float64 too). */
  gelu(): Tensor {
    const inner = this.add(this.mul(this).mul(this).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return this.mul(0.5).mul(inner.tanh().add(1));
  }
  silu(): Tensor { return this.mul(this.sigmoid()); }
  /** softplus(x) = max(x, 0) + log(1 + exp(-|x|)), stable for large |x|. */
  softplus(): Tensor { return this.maximum(0).add(this.abs().neg().exp().add(1).log()); }
  /** 1.0 where this > other else 0.0; no gradient. */
  greater(other: TensorLike): Tensor { return this.graph.op('gt', [this, this.graph.lift(other)]); }
  stopGradient(): Tensor { return this.graph.op('stop_gradient', [this]); }

  matmul(other: Tensor): Tensor { return this.graph.op('matmul', [this, other]); }
  reshape(shape: readonly number[]): Tensor {
    const known = shape.filter((d) => d !== -1);
    const inferred = shape.map((d) => (d === -1 ? this.size / sizeOf(known) : d));
    return this.graph.op('reshape', [this], { shape: inferred });
  }
  transpose(perm?: readonly number[]): Tensor {
    const p = perm ?? this.shape.map((_, i) => this.rank - 1 - i);
    return this.graph.op('transpose', [this], { perm: p });
  }
  /** Swap the last two axes (matrix transpose of a batch of matrices). */
  mT(): Tensor {
    const p = this.shape.map((_, i) => i);
    p[this.rank - 1] = this.rank - 2;
    p[this.rank - 2] = this.rank - 1;
    return this.transpose(p);
  }
  expand(shape: readonly number[]): Tensor { return this.graph.op('expand', [this], { shape }); }
  sum(axes?: readonly number[], keepDims = false): Tensor {
    const all = axes ?? this.shape.map((_, i) => i);
    return this.graph.op('reduce_sum', [this], { axes: all.map((a) => normAxis(a, this.rank)), keepDims });
  }
  mean(axes?: readonly number[], keepDims = false): Tensor {
    const all = (axes ?? this.shape.map((_, i) => i)).map((a) => normAxis(a, this.rank));
    const count = all.reduce((n, a) => n * this.shape[a]!, 1);
    return this.sum(all, keepDims).mul(1 / count);
  }
  max(axes?: readonly number[], keepDims = false): Tensor {
    const all = axes ?? this.shape.map((_, i) => i);
    return this.graph.op('reduce_max', [this], { axes: all.map((a) => normAxis(a, this.rank)), keepDims });
  }
  softmax(axis = -1): Tensor { return this.graph.op('softmax', [this], { axis: normAxis(axis, this.rank) }); }
  logSoftmax(axis = -1): Tensor { return this.graph.op('log_softmax', [this], { axis: normAxis(axis, this.rank) }); }
  /** Elements [start, end) along one axis. */
  slice(axis: number, start: number, end: number): Tensor {
    return this.graph.op('slice', [this], { axis: normAxis(axis, this.rank), start, end });
  }
}

export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  const first = tensors[0];
  if (first === undefined) throw new Error('concat of no tensors');
  return first.graph.op('concat', tensors, { axis: normAxis(axis, first.rank) });
}

/** 2-D convolution (NCHW input, OIHW weight, no padding, square stride). */
export function conv2d(x: Tensor, weight: Tensor, stride = 1): Tensor {
  return x.graph.op('conv2d', [x, weight], { stride });
}

export interface GraphInput {
  readonly name: string;
  readonly tensor: Tensor;
}

/**
 * One computation: inputs fed at run time, parameters looked up by name in a `ParamStore` (shared
 * between every graph built over the same store), constants, and the operations between them.
 */
export class Graph {
  readonly dtype: DType;
  readonly store: ParamStore | undefined;
  readonly inputs: GraphInput[] = [];
  readonly params = new Map<string, Tensor>();
  private nextId = 0;

  constructor(options: { dtype?: DType; store?: ParamStore } = {}) {
    this.store = options.store;
    this.dtype = options.dtype ?? options.store?.dtype ?? 'float32';
    if (options.store && options.store.dtype !== this.dtype) {
      throw new Error(`graph dtype ${this.dtype} differs from parameter store dtype ${options.store.dtype}`);
    }
  }

  private make(shape: Shape, node: NodeRecord): Tensor {
    return new Tensor(this, this.nextId++, [...shape], node);
  }

  input(name: string, shape: Shape): Tensor {
    if (this.inputs.some((i) => i.name === name) || this.params.has(name)) throw new Error(`duplicate graph input ${name}`);
    const tensor = this.make(shape, { kind: 'input', inputs: [], attrs: { name } });
    this.inputs.push({ name, tensor });
    return tensor;
  }

  /** The store's parameter `name`, created with seeded initialisation on first use. */
  param(name: string, shape: Shape, init: Init): Tensor {
    if (!this.store) throw new Error(`graph has no parameter store for parameter ${name}`);
    const existing = this.params.get(name);
    if (existing) {
      if (!sameShape(existing.shape, shape)) throw new Error(`parameter ${name} used with shapes ${shapeText(existing.shape)} and ${shapeText(shape)}`);
      return existing;
    }
    this.store.ensure(name, shape, init);
    const tensor = this.make(shape, { kind: 'param', inputs: [], attrs: { name } });
    this.params.set(name, tensor);
    return tensor;
  }

  constant(values: ArrayLike<number>, shape: Shape): Tensor {
    if (values.length !== sizeOf(shape)) throw new Error(`constant has ${values.length} values for shape ${shapeText(shape)}`);
    return this.make(shape, { kind: 'const', inputs: [], attrs: { values: Array.from(values) } });
  }

  scalar(value: number): Tensor {
    return this.constant([value], []);
  }

  zeros(shape: Shape): Tensor {
    return this.scalar(0).expand(shape);
  }

  lift(value: TensorLike): Tensor {
    return typeof value === 'number' ? this.scalar(value) : value;
  }

  /** Record an operation; its output shape comes from `outputShape`. */
  op(kind: string, inputs: readonly Tensor[], attrs: Record<string, unknown> = {}): Tensor {
    const rule = rules[kind];
    if (!rule) throw new Error(`unknown operation ${kind}`);
    for (const input of inputs) if (input.graph !== this) throw new Error(`operation ${kind} mixes tensors of different graphs`);
    return this.make(rule.shape(inputs, attrs), { kind, inputs, attrs });
  }
}

/** Sum a gradient of a broadcast result back to the shape of the operand that was broadcast. */
export function unbroadcast(grad: Tensor, shape: Shape): Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.rank - shape.length;
  let g = grad;
  if (lead > 0) g = g.sum(Array.from({ length: lead }, (_, i) => i), false);
  const axes = shape.flatMap((d, i) => (d === 1 && g.shape[i] !== 1 ? [i] : []));
  if (axes.length > 0) g = g.sum(axes, true);
  return sameShape(g.shape, shape) ? g : g.reshape(shape);
}

export interface OpRule {
  shape(inputs: readonly Tensor[], attrs: Readonly<Record<string, unknown>>): number[];
  /** Gradients of the inputs given the output `y` and its gradient `g`; null: no gradient. */
  grad?(g: Tensor, y: Tensor): (Tensor | null)[];
}

const binary = (inputs: readonly Tensor[]): number[] => broadcastShapes(inputs[0]!.shape, inputs[1]!.shape);
const same = (inputs: readonly Tensor[]): number[] => [...inputs[0]!.shape];
const ins = (y: Tensor): readonly Tensor[] => y.node.inputs;

function reducedShape(shape: Shape, axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Bring a reduced gradient back to the input's shape (reshape to kept dims, then expand). */
function unreduce(g: Tensor, y: Tensor): Tensor {
  const x = ins(y)[0]!;
  const { axes, keepDims } = y.node.attrs as { axes: number[]; keepDims: boolean };
  const kept = keepDims ? g : g.reshape(reducedShape(x.shape, axes, true));
  return kept.expand(x.shape);
}

export const rules: Record<string, OpRule> = {
  add: { shape: binary, grad: (g, y) => [unbroadcast(g, ins(y)[0]!.shape), unbroadcast(g, ins(y)[1]!.shape)] },
  sub: { shape: binary, grad: (g, y) => [unbroadcast(g, ins(y)[0]!.shape), unbroadcast(g.neg(), ins(y)[1]!.shape)] },
  mul: {
    shape: binary,
    grad: (g, y) => {
      const [a, b] = ins(y) as [Tensor, Tensor];
      return [unbroadcast(g.mul(b), a.shape), unbroadcast(g.mul(a), b.shape)];
    },
  },
  div: {
    shape: binary,
    grad: (g, y) => {
      const [a, b] = ins(y) as [Tensor, Tensor];
      return [unbroadcast(g.div(b), a.shape), unbroadcast(g.mul(y).div(b).neg(), b.shape)];
    },
  },
  neg: { shape: same, grad: (g) => [g.neg()] },
  exp: { shape: same, grad: (g, y) => [g.mul(y)] },
  log: { shape: same, grad: (g, y) => [g.div(ins(y)[0]!)] },
  sqrt: { shape: same, grad: (g, y) => [g.mul(0.5).div(y)] },
  tanh: { shape: same, grad: (g, y) => [g.mul(y.mul(y).neg().add(1))] },
  sigmoid: { shape: same, grad: (g, y) => [g.mul(y.mul(y.neg().add(1)))] },
  relu: { shape: same, grad: (g, y) => [g.mul(ins(y)[0]!.greater(0))] },
  max2: {
    shape: binary,
    grad: (g, y) => {
      const [a, b] = ins(y) as [Tensor, Tensor];
      const aWins = a.greater(b).expand(y.shape);
      return [unbroadcast(g.mul(aWins), a.shape), unbroadcast(g.mul(aWins.neg().add(1)), b.shape)];
    },
  },
  min2: {
    shape: binary,
    grad: (g, y) => {
      const [a, b] = ins(y) as [Tensor, Tensor];
      const bWins = a.greater(b).expand(y.shape);
      return [unbroadcast(g.mul(bWins.neg().add(1)), a.shape), unbroadcast(g.mul(bWins), b.shape)];
    },
  },
  gt: { shape: binary, grad: () => [null, null] },
  eq: { shape: binary, grad: () => [null, null] },
  stop_gradient: { shape: same, grad: () => [null] },
  matmul: {
    shape: (inputs) => {
      const [a, b] = inputs as [Tensor, Tensor];
      if (a.rank < 2 || b.rank < 2) throw new Error('matmul needs tensors of rank >= 2');
      const k = a.shape[a.rank - 1]!;
      if (b.shape[b.rank - 2] !== k) throw new Error(`matmul of ${shapeText(a.shape)} and ${shapeText(b.shape)}`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      return [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!];
    },
    grad: (g, y) => {
      const [a, b] = ins(y) as [Tensor, Tensor];
      return [unbroadcast(g.matmul(b.mT()), a.shape), unbroadcast(a.mT().matmul(g), b.shape)];
    },
  },
  reshape: {
    shape: (inputs, attrs) => {
      const shape = attrs.shape as number[];
      if (sizeOf(shape) !== inputs[0]!.size || shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new Error(`cannot reshape ${shapeText(inputs[0]!.shape)} to ${shapeText(shape)}`);
      }
      return [...shape];
    },
    grad: (g, y) => [g.reshape(ins(y)[0]!.shape)],
  },
  transpose: {
    shape: (inputs, attrs) => (attrs.perm as number[]).map((p) => inputs[0]!.shape[p]!),
    grad: (g, y) => {
      const perm = y.node.attrs.perm as number[];
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return [g.transpose(inverse)];
    },
  },
  expand: {
    shape: (inputs, attrs) => {
      const target = attrs.shape as number[];
      const out = broadcastShapes(inputs[0]!.shape, target);
      if (!sameShape(out, target)) throw new Error(`cannot expand ${shapeText(inputs[0]!.shape)} to ${shapeText(target)}`);
      return out;
    },
    grad: (g, y) => [unbroadcast(g, ins(y)[0]!.shape)],
  },
  reduce_sum: {
    shape: (inputs, attrs) => reducedShape(inputs[0]!.shape, attrs.axes as number[], attrs.keepDims as boolean),
    grad: (g, y) => [unreduce(g, y)],
  },
  reduce_max: {
    shape: (inputs, attrs) => reducedShape(inputs[0]!.shape, attrs.axes as number[], attrs.keepDims as boolean),
    grad: (g, y) => {
      const x = ins(y)[0]!;
      const winners = x.graph.op('eq', [x, unreduce(y, y)]);
      return [unreduce(g, y).mul(winners)];
    },
  },
  softmax: {
    shape: same,
    grad: (g, y) => {
      const axis = y.node.attrs.axis as number;
      return [y.mul(g.sub(g.mul(y).sum([axis], true)))];
    },
  },
  log_softmax: {
    shape: same,
    grad: (g, y) => {
      const axis = y.node.attrs.axis as number;
      return [g.sub(y.exp().mul(g.sum([axis], true)))];
    },
  },
  slice: {
    shape: (inputs, attrs) => {
      const x = inputs[0]!;
      const { axis, start, end } = attrs as { axis: number; start: number; end: number };
      if (!(start >= 0 && end <= x.shape[axis]! && start < end)) throw new Error(`slice [${start}, ${end}) of axis ${axis} of ${shapeText(x.shape)}`);
      return x.shape.map((d, i) => (i === axis ? end - start : d));
    },
    grad: (g, y) => {
      const x = ins(y)[0]!;
      const { axis, start, end } = y.node.attrs as { axis: number; start: number; end: number };
      const pieces: Tensor[] = [];
      const padShape = (n: number): number[] => x.shape.map((d, i) => (i === axis ? n : d));
      if (start > 0) pieces.push(x.graph.zeros(padShape(start)));
      pieces.push(g);
      if (end < x.shape[axis]!) pieces.push(x.graph.zeros(padShape(x.shape[axis]! - end)));
      return [pieces.length === 1 ? g : concat(pieces, axis)];
    },
  },
  concat: {
    shape: (inputs, attrs) => {
      const axis = attrs.axis as number;
      const first = inputs[0]!;
      for (const t of inputs) {
        if (t.rank !== first.rank || t.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
          throw new Error(`concat of ${shapeText(first.shape)} and ${shapeText(t.shape)} along axis ${axis}`);
        }
      }
      return first.shape.map((d, i) => (i === axis ? inputs.reduce((n, t) => n + t.shape[axis]!, 0) : d));
    },
    grad: (g, y) => {
      const axis = y.node.attrs.axis as number;
      let offset = 0;
      return ins(y).map((t) => {
        const piece = g.slice(axis, offset, offset + t.shape[axis]!);
        offset += t.shape[axis]!;
        return piece;
      });
    },
  },
  conv2d: {
    shape: (inputs, attrs) => {
      const [x, w] = inputs as [Tensor, Tensor];
      const stride = attrs.stride as number;
      if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[1]) throw new Error(`conv2d of ${shapeText(x.shape)} with kernel ${shapeText(w.shape)}`);
      const oh = Math.floor((x.shape[2]! - w.shape[2]!) / stride) + 1;
      const ow = Math.floor((x.shape[3]! - w.shape[3]!) / stride) + 1;
      return [x.shape[0]!, w.shape[0]!, oh, ow];
    },
    grad: (g, y) => {
      const [x, w] = ins(y) as [Tensor, Tensor];
      const stride = y.node.attrs.stride as number;
      return [
        x.graph.op('conv2d_grad_input', [g, w], { stride, inputShape: x.shape }),
        x.graph.op('conv2d_grad_weight', [x, g], { stride, weightShape: w.shape }),
      ];
    },
  },
  // Gradients of conv2d: the input gradient is a transposed convolution of g with the kernel,
  // the kernel gradient a convolution of the input with g (batch as channels). Each is linear in
  // g, and its own gradient rule is the other two operators again.
  conv2d_grad_input: {
    shape: (_inputs, attrs) => [...(attrs.inputShape as number[])],
    grad: (gx, y) => {
      const [g, w] = ins(y) as [Tensor, Tensor];
      const stride = y.node.attrs.stride as number;
      return [conv2d(gx, w, stride), y.graph.op('conv2d_grad_weight', [gx, g], { stride, weightShape: w.shape })];
    },
  },
  conv2d_grad_weight: {
    shape: (_inputs, attrs) => [...(attrs.weightShape as number[])],
    grad: (gw, y) => {
      const [x, g] = ins(y) as [Tensor, Tensor];
      const stride = y.node.attrs.stride as number;
      return [y.graph.op('conv2d_grad_input', [g, gw], { stride, inputShape: x.shape }), conv2d(x, gw, stride)];
    },
  },
};
