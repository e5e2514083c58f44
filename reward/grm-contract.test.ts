/**
 * The contract check itself, on models that only declare their boundary (no graph to run): a valid
 * one is read, and each way of breaking the contract (a missing tensor, a wrong element type, a
 * wrong shape, bad metadata) is refused with the tensor named. A model that ran with a wrong shape
 * would fail later and far from the cause; one with a wrong element type would not load at all.
 */
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { META_CONTRACT, META_HOP_BINS, readContract, withMetadata } from './grm-contract.js';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const DOUBLE = onnx.TensorProto.DataType.DOUBLE;

type Dims = (number | string)[] | null;
interface Tensor {
  shape: Dims;
  elemType?: number;
}

const N = 2;
const H = 12;
const W = 16;
const T = 8;
const BINS = '[-1,-0.5,0,0.5,1]';

function validInputs(): Record<string, Tensor> {
  return {
    start: { shape: [N, 3, H, W] },
    goal: { shape: [N, 3, H, W] },
    before: { shape: [N, 3, 3, H, W] },
    after: { shape: [N, 3, 3, H, W] },
    instruction: { shape: [N, T] },
  };
}

function validOutputs(): Record<string, Tensor> {
  return { hop_logits: { shape: [N, 5] }, hop: { shape: [N] }, view_weights: { shape: [N, 2, 3] } };
}

function valueInfo(name: string, tensor: Tensor): onnxProto.onnx.IValueInfoProto {
  const dim = (d: number | string): onnxProto.onnx.TensorShapeProto.IDimension => (typeof d === 'number' ? { dimValue: d } : { dimParam: d });
  return {
    name,
    type: { tensorType: { elemType: tensor.elemType ?? FLOAT, ...(tensor.shape ? { shape: { dim: tensor.shape.map(dim) } } : {}) } },
  };
}

/** An ONNX file declaring these inputs, outputs and metadata (the contract check reads nothing else). */
function model(
  inputs: Record<string, Tensor> = validInputs(),
  outputs: Record<string, Tensor> = validOutputs(),
  metadata: Record<string, string> = { [META_CONTRACT]: '1', [META_HOP_BINS]: BINS },
): Uint8Array {
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    graph: {
      name: 'declared',
      input: Object.entries(inputs).map(([name, t]) => valueInfo(name, t)),
      output: Object.entries(outputs).map(([name, t]) => valueInfo(name, t)),
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(proto).finish();
}

const read = (bytes: Uint8Array): ReturnType<typeof readContract> => readContract(bytes, 'm.onnx');
const refusal = (what: string): RegExp => new RegExp(`^m\\.onnx: does not follow the GRM contract \\(docs/grm-contract\\.md\\): ${what}`);

describe('GRM contract: a model that follows it', () => {
  it('is read: batch, image size, text length, hop bins, view weights', () => {
    expect(read(model())).toEqual({
      batch: N, width: W, height: H, textDim: T, hopBins: [-1, -0.5, 0, 0.5, 1], hasViewWeights: true,
      metadata: { [META_CONTRACT]: '1', [META_HOP_BINS]: BINS },
    });
  });

  it('may leave out view_weights, and may have other tensors of any type', () => {
    const { view_weights: _dropped, ...outputs } = validOutputs();
    const extra = model({ ...validInputs(), mask: { shape: ['n'], elemType: INT64 } }, { ...outputs, debug: { shape: null, elemType: DOUBLE } });
    expect(read(extra)).toMatchObject({ batch: N, hasViewWeights: false });
  });
});

describe('GRM contract: refusals name what is wrong', () => {
  it('refuses a model without the contract version, or another version', () => {
    expect(() => read(model(undefined, undefined, { [META_HOP_BINS]: BINS }))).toThrow(refusal('metadata dopamine\\.grm\\.contract: expected "1", got none$'));
    expect(() => read(model(undefined, undefined, { [META_CONTRACT]: '2', [META_HOP_BINS]: BINS }))).toThrow(refusal('metadata dopamine\\.grm\\.contract: expected "1", got "2"$'));
  });

  it.each(['start', 'goal', 'before', 'after', 'instruction'])('refuses a model without the %s input', (name) => {
    const inputs = validInputs();
    delete inputs[name];
    expect(() => read(model(inputs))).toThrow(refusal('inputs: expected start, goal, before, after, instruction, got '));
  });

  it.each(['hop_logits', 'hop'])('refuses a model without the %s output', (name) => {
    const outputs = validOutputs();
    delete outputs[name];
    expect(() => read(model(undefined, outputs))).toThrow(refusal('outputs: expected hop_logits, hop \\(and optionally view_weights\\), got '));
  });

  it.each(['start', 'goal', 'before', 'after', 'instruction', 'hop_logits', 'hop', 'view_weights'])('refuses %s as anything but float32', (name) => {
    const inputs = validInputs();
    const outputs = validOutputs();
    const tensor = (inputs[name] ?? outputs[name])!;
    tensor.elemType = DOUBLE;
    expect(() => read(model(inputs, outputs))).toThrow(refusal(`${name} element type: expected float32, got ${DOUBLE}$`));
  });

  it('refuses views that are not [N, 3 views, 3 channels, H, W] of fixed sizes', () => {
    const before = (shape: Dims): Uint8Array => model({ ...validInputs(), before: { shape }, after: { shape } });
    expect(() => read(before([N, 3, H, W]))).toThrow(refusal(`before shape: expected \\[N, 3, 3, H, W\\] with fixed sizes, got \\[${N}, 3, ${H}, ${W}\\]$`));
    expect(() => read(before(['batch', 3, 3, H, W]))).toThrow(refusal('before shape: expected \\[N, 3, 3, H, W\\] with fixed sizes, got \\[batch, '));
    expect(() => read(before([N, 3, 3, 0, W]))).toThrow(refusal('before shape: expected \\[N, 3, 3, H, W\\] with fixed sizes'));
    expect(() => read(before(null))).toThrow(refusal('before shape: expected .*, got no shape$'));
    expect(() => read(before([N, 2, 3, H, W]))).toThrow(refusal('before shape: expected \\[N, 3 views, 3 channels, H, W\\], got \\[2, 2, 3, 12, 16\\]$'));
    expect(() => read(before([N, 3, 1, H, W]))).toThrow(refusal('before shape: expected \\[N, 3 views, 3 channels, H, W\\], got \\[2, 3, 1, 12, 16\\]$'));
  });

  it('refuses AFTER, START and GOAL that do not match BEFORE', () => {
    expect(() => read(model({ ...validInputs(), after: { shape: [N, 3, 3, W, H] } }))).toThrow(refusal('after shape: expected \\[2, 3, 3, 12, 16\\], got \\[2, 3, 3, 16, 12\\]$'));
    expect(() => read(model({ ...validInputs(), after: { shape: [N, 3, 3, H] } }))).toThrow(refusal('after shape: expected \\[2, 3, 3, 12, 16\\], got \\[2, 3, 3, 12\\]$'));
    expect(() => read(model({ ...validInputs(), start: { shape: [N, 3, 3, H, W] } }))).toThrow(refusal('start shape: expected \\[2, 3, 12, 16\\], got \\[2, 3, 3, 12, 16\\]$'));
    expect(() => read(model({ ...validInputs(), start: { shape: null } }))).toThrow(refusal('start shape: expected \\[2, 3, 12, 16\\], got no shape$'));
    expect(() => read(model({ ...validInputs(), goal: { shape: [N, 3, H, W + 1] } }))).toThrow(refusal('goal shape: expected \\[2, 3, 12, 16\\], got \\[2, 3, 12, 17\\]$'));
    expect(() => read(model({ ...validInputs(), goal: { shape: [N + 1, 3, H, W] } }))).toThrow(refusal('goal shape: expected \\[2, 3, 12, 16\\], got \\[3, 3, 12, 16\\]$'));
  });

  it('refuses an instruction that is not [N, T]', () => {
    expect(() => read(model({ ...validInputs(), instruction: { shape: [N] } }))).toThrow(refusal('instruction shape: expected \\[N, T\\], got \\[2\\]$'));
    expect(() => read(model({ ...validInputs(), instruction: { shape: [N, 'T'] } }))).toThrow(refusal('instruction shape: expected \\[N, T\\], got \\[2, T\\]$'));
    expect(() => read(model({ ...validInputs(), instruction: { shape: [1, T] } }))).toThrow(refusal('instruction shape: expected \\[2, T\\], got \\[1, 8\\]$'));
  });

  it('refuses hop outputs of another shape', () => {
    const outputs = (changed: Record<string, Tensor>): Uint8Array => model(undefined, { ...validOutputs(), ...changed });
    expect(() => read(outputs({ hop_logits: { shape: [N * 5] } }))).toThrow(refusal('hop_logits shape: expected \\[N, B\\], got \\[10\\]$'));
    expect(() => read(outputs({ hop_logits: { shape: [1, 5] } }))).toThrow(refusal('hop_logits shape: expected \\[2, B\\], got \\[1, 5\\]$'));
    expect(() => read(outputs({ hop: { shape: [N, 1] } }))).toThrow(refusal('hop shape: expected \\[2\\], got \\[2, 1\\]$'));
    expect(() => read(outputs({ view_weights: { shape: [N, 3, 2] } }))).toThrow(refusal('view_weights shape: expected \\[2, 2, 3\\], got \\[2, 3, 2\\]$'));
  });

  it.each([
    ['missing', undefined],
    ['not JSON', '[-1, 0'],
    ['not a list', '{"0": -1}'],
    ['one bin short', '[-1,-0.5,0.5,1]'],
    ['not ascending', '[-1,-0.5,0.5,0,1]'],
    ['a repeated centre', '[-1,-0.5,0,0,1]'],
    ['below -1', '[-1.5,-0.5,0,0.5,1]'],
    ['above 1', '[-1,-0.5,0,0.5,1.5]'],
    ['not numbers', '["-1","-0.5","0","0.5","1"]'],
  ])('refuses hop bins %s', (_what, bins) => {
    const metadata: Record<string, string> = { [META_CONTRACT]: '1', ...(bins === undefined ? {} : { [META_HOP_BINS]: bins }) };
    expect(() => read(model(undefined, undefined, metadata))).toThrow(
      refusal(`metadata dopamine\\.grm\\.hop_bins: expected a JSON list of 5 ascending numbers in \\[-1, 1\\] \\(one per hop_logits bin\\), got ${bins === undefined ? 'none' : '.+'}$`),
    );
  });

  it('withMetadata sets entries and keeps the others', () => {
    const bytes = withMetadata(model(undefined, undefined, { [META_CONTRACT]: '2', other: 'kept', [META_HOP_BINS]: BINS }), { [META_CONTRACT]: '1' });
    expect(read(bytes).metadata).toEqual({ other: 'kept', [META_HOP_BINS]: BINS, [META_CONTRACT]: '1' });
  });
});
