/**
 * Serialise recorded tensors into an ONNX ModelProto (opset 17). Only the nodes needed for the
 * requested outputs are emitted; parameters become graph inputs (training and live inference,
 * so the store's current buffers are fed each run) or initializers (exported files).
 */
import onnxProto from 'onnx-proto';
import type { DType, Graph, Tensor } from './graph.js';
import { sizeOf } from './graph.js';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;
type IAttribute = onnxProto.onnx.IAttributeProto;

export const OPSET = 17;

const elemType = (dtype: DType): number => (dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : onnx.TensorProto.DataType.DOUBLE);

export function floatArray(dtype: DType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

function rawBytes(array: ArrayBufferView): Uint8Array {
  // Copy: protobufjs keeps a reference and the caller's buffer may be swapped later.
  return new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
}

function valueInfo(name: string, dtype: DType, shape: readonly number[]): IValueInfo {
  return {
    name,
    type: { tensorType: { elemType: elemType(dtype), shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

const attrInt = (name: string, i: number): IAttribute => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrInts = (name: string, ints: readonly number[]): IAttribute => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...ints] });

export interface EmitOptions {
  /** Output name -> tensor. */
  outputs: Record<string, Tensor>;
  /** Parameter name -> values: those parameters become initializers instead of inputs. */
  initializers?: (name: string) => Float32Array | Float64Array | undefined;
  name?: string;
}

/** Which graph inputs and parameters the emitted model reads, in order. */
export interface EmittedModel {
  bytes: Uint8Array;
  inputNames: string[];
  paramInputs: string[];
  outputNames: string[];
}

export function emitModel(graph: Graph, options: EmitOptions): EmittedModel {
  const dtype = graph.dtype;
  const nodes: INode[] = [];
  const initializers: ITensor[] = [];
  const names = new Map<number, string>();
  const int64Consts = new Map<string, string>();
  const graphInputs: IValueInfo[] = [];
  const inputNames: string[] = [];
  const paramInputs: string[] = [];
  let counter = 0;

  const int64 = (values: readonly number[]): string => {
    const key = values.join(',');
    let name = int64Consts.get(key);
    if (!name) {
      name = `i64_${int64Consts.size}`;
      int64Consts.set(key, name);
      initializers.push({ name, dataType: onnx.TensorProto.DataType.INT64, dims: [values.length], rawData: rawBytes(BigInt64Array.from(values.map(BigInt))) });
    }
    return name;
  };
  const fresh = (): string => `v${counter++}`;
  const add = (opType: string, inputs: string[], attribute: IAttribute[] = [], output = fresh()): string => {
    nodes.push({ opType, input: inputs, output: [output], attribute, name: `${opType}_${nodes.length}` });
    return output;
  };

  // Post-order walk from the outputs, iterative so deep graphs cannot overflow the stack.
  const order: Tensor[] = [];
  const seen = new Set<number>();
  for (const root of Object.values(options.outputs)) {
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
    const { kind, attrs } = t.node;
    const x = t.node.inputs.map((i) => names.get(i.id)!);
    let out: string;
    switch (kind) {
      case 'input': {
        out = attrs.name as string;
        graphInputs.push(valueInfo(out, dtype, t.shape));
        inputNames.push(out);
        break;
      }
      case 'param': {
        out = attrs.name as string;
        const values = options.initializers?.(out);
        if (values) {
          initializers.push({ name: out, dataType: elemType(dtype), dims: [...t.shape], rawData: rawBytes(values) });
        } else {
          graphInputs.push(valueInfo(out, dtype, t.shape));
          paramInputs.push(out);
        }
        break;
      }
      case 'const': {
        out = `c${t.id}`;
        initializers.push({ name: out, dataType: elemType(dtype), dims: [...t.shape], rawData: rawBytes(floatArray(dtype, attrs.values as number[])) });
        break;
      }
      case 'add': out = add('Add', x); break;
      case 'sub': out = add('Sub', x); break;
      case 'mul': out = add('Mul', x); break;
      case 'div': out = add('Div', x); break;
      case 'neg': out = add('Neg', x); break;
      case 'exp': out = add('Exp', x); break;
      case 'log': out = add('Log', x); break;
      case 'sqrt': out = add('Sqrt', x); break;
      case 'tanh': out = add('Tanh', x); break;
      case 'sigmoid': out = add('Sigmoid', x); break;
      case 'relu': out = add('Relu', x); break;
      case 'max2': out = add('Max', x); break;
      case 'min2': out = add('Min', x); break;
      case 'gt': out = add('Cast', [add('Greater', x)], [attrInt('to', elemType(dtype))]); break;
      case 'eq': out = add('Cast', [add('Equal', x)], [attrInt('to', elemType(dtype))]); break;
      case 'stop_gradient': out = add('Identity', x); break;
      case 'matmul': out = add('MatMul', x); break;
      case 'reshape': out = add('Reshape', [x[0]!, int64(attrs.shape as number[])]); break;
      case 'transpose': out = add('Transpose', x, [attrInts('perm', attrs.perm as number[])]); break;
      case 'expand': out = add('Expand', [x[0]!, int64(attrs.shape as number[])]); break;
      case 'reduce_sum':
        out = add('ReduceSum', [x[0]!, int64(attrs.axes as number[])], [attrInt('keepdims', attrs.keepDims ? 1 : 0)]);
        break;
      case 'reduce_max':
        out = add('ReduceMax', x, [attrInts('axes', attrs.axes as number[]), attrInt('keepdims', attrs.keepDims ? 1 : 0)]);
        break;
      case 'softmax': out = add('Softmax', x, [attrInt('axis', attrs.axis as number)]); break;
      case 'log_softmax': out = add('LogSoftmax', x, [attrInt('axis', attrs.axis as number)]); break;
      case 'slice':
        out = add('Slice', [x[0]!, int64([attrs.start as number]), int64([attrs.end as number]), int64([attrs.axis as number])]);
        break;
      case 'concat': out = add('Concat', x, [attrInt('axis', attrs.axis as number)]); break;
      case 'conv2d': {
        const s = attrs.stride as number;
        out = add('Conv', x, [attrInts('strides', [s, s])]);
        break;
      }
      case 'conv2d_grad_input': {
        // Transposed convolution; output_padding restores rows/columns the forward stride skipped.
        const [g, w] = t.node.inputs as [Tensor, Tensor];
        const s = attrs.stride as number;
        const shape = attrs.inputShape as number[];
        const padH = shape[2]! - ((g.shape[2]! - 1) * s + w.shape[2]!);
        const padW = shape[3]! - ((g.shape[3]! - 1) * s + w.shape[3]!);
        out = add('ConvTranspose', x, [attrInts('strides', [s, s]), attrInts('output_padding', [padH, padW])]);
        break;
      }
      case 'conv2d_grad_weight': {
        // dW[o,c] = sum over batch of x[c] correlated with g[o] dilated by the stride: a convolution
        // with batch and channel axes swapped, cropped to the kernel size.
        const [xt, g] = t.node.inputs as [Tensor, Tensor];
        const s = attrs.stride as number;
        const [, , kh, kw] = attrs.weightShape as number[];
        const xT = add('Transpose', [x[0]!], [attrInts('perm', [1, 0, 2, 3])]);
        const gT = add('Transpose', [x[1]!], [attrInts('perm', [1, 0, 2, 3])]);
        let conv = add('Conv', [xT, gT], [attrInts('dilations', [s, s])]);
        const fullH = xt.shape[2]! - s * (g.shape[2]! - 1);
        const fullW = xt.shape[3]! - s * (g.shape[3]! - 1);
        if (fullH !== kh || fullW !== kw) conv = add('Slice', [conv, int64([0, 0]), int64([kh!, kw!]), int64([2, 3])]);
        out = add('Transpose', [conv], [attrInts('perm', [1, 0, 2, 3])]);
        break;
      }
      default:
        throw new Error(`no ONNX emission for operation ${kind}`);
    }
    names.set(t.id, out);
  }

  const outputs: IValueInfo[] = [];
  const outputNames: string[] = [];
  for (const [name, t] of Object.entries(options.outputs)) {
    add('Identity', [names.get(t.id)!], [], name);
    outputs.push(valueInfo(name, dtype, t.shape));
    outputNames.push(name);
  }

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'robo-dopamine-engine',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: options.name ?? 'graph', node: nodes, initializer: initializers, input: graphInputs, output: outputs },
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), inputNames, paramInputs, outputNames };
}

export { sizeOf };
