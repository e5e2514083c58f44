/**
 * A plain TypeScript evaluator of recorded tensors: every operation as loops over typed arrays.
 * It exists as the "plain TS" side of the benchmark (the very same step graph without
 * onnxruntime) and as an independent check of the ONNX emission in tests; it is slow by design.
 */
import type { Tensor } from './graph.js';
import { sizeOf } from './graph.js';
import type { FloatArray } from './params.js';

type Shape = readonly number[];

function strides(shape: Shape): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

/** For each element of `outShape`, the offset of the broadcast element of an array of `shape`. */
function broadcastOffsets(shape: Shape, outShape: Shape): Int32Array {
  const n = sizeOf(outShape);
  const offsets = new Int32Array(n);
  const lead = outShape.length - shape.length;
  const inStrides = strides(shape);
  const st = outShape.map((d, i) => (i < lead || shape[i - lead] === 1 ? 0 : inStrides[i - lead]!));
  const index = new Array<number>(outShape.length).fill(0);
  let offset = 0;
  for (let k = 0; k < n; k++) {
    offsets[k] = offset;
    for (let axis = outShape.length - 1; axis >= 0; axis--) {
      index[axis]!++;
      offset += st[axis]!;
      if (index[axis]! < outShape[axis]!) break;
      offset -= st[axis]! * outShape[axis]!;
      index[axis] = 0;
    }
  }
  return offsets;
}

function binary(a: FloatArray, aShape: Shape, b: FloatArray, bShape: Shape, outShape: Shape, out: FloatArray, f: (x: number, y: number) => number): void {
  if (a.length === out.length && b.length === out.length) {
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, b[i]!);
    return;
  }
  if (a.length === out.length && b.length === 1) {
    const y = b[0]!;
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]!, y);
    return;
  }
  const ao = a.length === out.length ? null : broadcastOffsets(aShape, outShape);
  const bo = b.length === out.length ? null : broadcastOffsets(bShape, outShape);
  for (let i = 0; i < out.length; i++) out[i] = f(a[ao ? ao[i]! : i]!, b[bo ? bo[i]! : i]!);
}

/** [outer, n, inner] view of a shape around one axis. */
function around(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis]!, sizeOf(shape.slice(axis + 1))];
}

const unaryOps: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (x > 0 ? x : 0),
  stop_gradient: (x) => x,
};

const binaryOps: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  max2: (x, y) => (x > y ? x : y),
  min2: (x, y) => (x < y ? x : y),
  gt: (x, y) => (x > y ? 1 : 0),
  eq: (x, y) => (x === y ? 1 : 0),
};

/** Evaluate `outputs`; inputs and parameters are read from `feeds` by name. */
export function interpret(outputs: readonly Tensor[], feeds: ReadonlyMap<string, FloatArray>): FloatArray[] {
  const first = outputs[0];
  if (!first) return [];
  const Typed = first.graph.dtype === 'float32' ? Float32Array : Float64Array;
  const values = new Map<number, FloatArray>();
  const order: Tensor[] = [];
  const seen = new Set<number>();
  for (const root of outputs) {
    const stack: [Tensor, boolean][] = [[root, false]];
    while (stack.length > 0) {
      const [t, expanded] = stack.pop()!;
      if (expanded) {
        order.push(t);
        continue;
      }
      if (seen.has(t.id)) continue;
      seen.add(t.id);
      stack.push([t, true]);
      for (const input of t.node.inputs) if (!seen.has(input.id)) stack.push([input, false]);
    }
  }

  for (const t of order) {
    const { kind, attrs, inputs } = t.node;
    const x = inputs.map((i) => values.get(i.id)!);
    const xs = inputs.map((i) => i.shape);
    let out: FloatArray = new Typed(t.size);
    if (kind === 'input' || kind === 'param') {
      const fed = feeds.get(attrs.name as string);
      if (!fed || fed.length !== t.size) throw new Error(`interpret: feed ${attrs.name as string} missing or of wrong size`);
      out = fed;
    } else if (kind === 'const') {
      out.set(attrs.values as number[]);
    } else if (unaryOps[kind]) {
      const f = unaryOps[kind];
      const a = x[0]!;
      for (let i = 0; i < out.length; i++) out[i] = f(a[i]!);
    } else if (binaryOps[kind]) {
      binary(x[0]!, xs[0]!, x[1]!, xs[1]!, t.shape, out, binaryOps[kind]);
    } else if (kind === 'reshape') {
      out = x[0]!;
    } else if (kind === 'expand') {
      const offsets = broadcastOffsets(xs[0]!, t.shape);
      const a = x[0]!;
      for (let i = 0; i < out.length; i++) out[i] = a[offsets[i]!]!;
    } else if (kind === 'transpose') {
      const perm = attrs.perm as number[];
      const inStrides = strides(xs[0]!);
      const permuted = t.shape.map((_, i) => inStrides[perm[i]!]!);
      const index = new Array<number>(t.rank).fill(0);
      const a = x[0]!;
      let offset = 0;
      for (let k = 0; k < out.length; k++) {
        out[k] = a[offset]!;
        for (let axis = t.rank - 1; axis >= 0; axis--) {
          index[axis]!++;
          offset += permuted[axis]!;
          if (index[axis]! < t.shape[axis]!) break;
          offset -= permuted[axis]! * t.shape[axis]!;
          index[axis] = 0;
        }
      }
    } else if (kind === 'matmul') {
      const [aShape, bShape] = xs as [Shape, Shape];
      const m = aShape[aShape.length - 2]!;
      const k = aShape[aShape.length - 1]!;
      const n = bShape[bShape.length - 1]!;
      const batchShape = t.shape.slice(0, -2);
      const aBatch = broadcastOffsets(aShape.slice(0, -2), batchShape);
      const bBatch = broadcastOffsets(bShape.slice(0, -2), batchShape);
      const [a, b] = x as [FloatArray, FloatArray];
      for (let batch = 0; batch < aBatch.length; batch++) {
        const ao = aBatch[batch]! * m * k;
        const bo = bBatch[batch]! * k * n;
        const oo = batch * m * n;
        for (let i = 0; i < m; i++) {
          for (let p = 0; p < k; p++) {
            const av = a[ao + i * k + p]!;
            if (av === 0) continue;
            const brow = bo + p * n;
            const orow = oo + i * n;
            for (let j = 0; j < n; j++) out[orow + j]! += av * b[brow + j]!;
          }
        }
      }
    } else if (kind === 'reduce_sum' || kind === 'reduce_max') {
      const axes = attrs.axes as number[];
      const keptShape = xs[0]!.map((d, i) => (axes.includes(i) ? 1 : d));
      const offsets = broadcastOffsets(keptShape, xs[0]!);
      const a = x[0]!;
      if (kind === 'reduce_sum') {
        for (let i = 0; i < a.length; i++) out[offsets[i]!]! += a[i]!;
      } else {
        out.fill(-Infinity);
        for (let i = 0; i < a.length; i++) if (a[i]! > out[offsets[i]!]!) out[offsets[i]!] = a[i]!;
      }
    } else if (kind === 'softmax' || kind === 'log_softmax') {
      const [outer, n, inner] = around(t.shape, attrs.axis as number);
      const a = x[0]!;
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < inner; r++) {
          const base = o * n * inner + r;
          let max = -Infinity;
          for (let j = 0; j < n; j++) max = Math.max(max, a[base + j * inner]!);
          let total = 0;
          for (let j = 0; j < n; j++) total += Math.exp(a[base + j * inner]! - max);
          const logTotal = Math.log(total);
          for (let j = 0; j < n; j++) {
            const shifted = a[base + j * inner]! - max;
            out[base + j * inner] = kind === 'softmax' ? Math.exp(shifted) / total : shifted - logTotal;
          }
        }
      }
    } else if (kind === 'slice') {
      const { axis, start } = attrs as { axis: number; start: number };
      const [outer, n, inner] = around(t.shape, axis);
      const full = xs[0]![axis]!;
      const a = x[0]!;
      for (let o = 0; o < outer; o++) out.set(a.subarray((o * full + start) * inner, (o * full + start + n) * inner), o * n * inner);
    } else if (kind === 'concat') {
      const axis = attrs.axis as number;
      const [outer, total, inner] = around(t.shape, axis);
      let offset = 0;
      x.forEach((a, idx) => {
        const n = xs[idx]![axis]!;
        for (let o = 0; o < outer; o++) out.set(a.subarray(o * n * inner, (o + 1) * n * inner), (o * total + offset) * inner);
        offset += n;
      });
    } else {
      throw new Error(`interpret: no plain implementation of ${kind}`);
    }
    values.set(t.id, out);
  }
  return outputs.map((o) => values.get(o.id)!);
}
