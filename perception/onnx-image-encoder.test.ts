import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import type { Graph, Tensor } from '../engine/graph.js';
import { conv2d, linear } from '../engine/layers.js';
import { ParamStore } from '../engine/params.js';
import { exportOnnx, Predictor } from '../engine/trainer.js';
import { withMetadata } from '../reward/grm-contract.js';
import type { CameraFrame, CameraRole } from '../robot/types.js';
import { CAMERA_ROLES } from '../robot/types.js';
import { checkImageEncoderContract, loadImageEncoder, META_DESCRIPTION, META_NORMALISATION, type OnnxImageEncoder } from './onnx-image-encoder.js';
import { Preprocessor } from './preprocess.js';

const { onnx } = onnxProto;
const quiet = createLogger('test', 'silent');
const dir = mkdtempSync(join(tmpdir(), 'image-encoder-'));
const W = 16;
const H = 12;
const store = new ParamStore({ seed: 11 });
const open: OnnxImageEncoder[] = [];

afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
});

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** A small CNN: conv 3x3 stride 2, relu, mean over the image, linear to 6 features. Any batch size runs. */
function cnn(g: Graph, n: number, inputName = 'images'): Tensor {
  const images = g.input(inputName, [n, 3, H, W]);
  return linear(conv2d(images, 'conv', 4, 3, 2).relu().mean([2, 3]), 'head', 6);
}

/** Per-channel mean over the image: the features reveal the normalised input values. */
function channelMean(g: Graph, n: number): Tensor {
  return g.input('images', [n, 3, H, W]).mean([2, 3]);
}

/** Rewrites the shapes of the model's inputs and outputs (e.g. a symbolic batch, as PyTorch's dynamic_axes writes). */
function editShapes(bytes: Uint8Array, edit: (name: string, dim: onnxProto.onnx.TensorShapeProto.IDimension[]) => void): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const info of [...(model.graph!.input ?? []), ...(model.graph!.output ?? [])]) edit(info.name!, info.type!.tensorType!.shape!.dim!);
  return onnx.ModelProto.encode(model).finish();
}

const symbolicBatch = (bytes: Uint8Array): Uint8Array =>
  editShapes(bytes, (_, dim) => {
    dim[0] = { dimParam: 'N' };
  });

function frame(role: CameraRole, seed: number, width = W, height = H): CameraFrame {
  const rgb = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < rgb.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    rgb[i] = s >>> 24;
  }
  return { role, camera: `cam_${role}`, width, height, rgb, stampMs: 0 };
}

function uniform(role: CameraRole, [r, g, b]: readonly [number, number, number], width: number, height: number): CameraFrame {
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) rgb.set([r, g, b], p * 3);
  return { role, camera: `cam_${role}`, width, height, rgb, stampMs: 0 };
}

/** RGB bytes (HWC) of model-size images to CHW floats, byte / 127.5 - 1, written out by hand. */
function symmetricChw(images: readonly Uint8Array[]): Float32Array {
  const plane = W * H;
  const out = new Float32Array(images.length * 3 * plane);
  images.forEach((rgb, k) => {
    for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) out[k * 3 * plane + c * plane + p] = rgb[p * 3 + c]! / 127.5 - 1;
  });
  return out;
}

async function load(file: string, views: number): Promise<OnnxImageEncoder> {
  const encoder = await loadImageEncoder(file, { views, executionProvider: 'cpu', threads: 1, logger: quiet });
  open.push(encoder);
  return encoder;
}

/** The InputError a load gives (fails the test when it loads or throws anything else). */
async function refusal(file: string, views = 3): Promise<InputError> {
  const error: unknown = await loadImageEncoder(file, { views, executionProvider: 'cpu', logger: quiet }).then(
    async (encoder) => {
      await encoder.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  const message = (error as InputError).message;
  expect(message.startsWith(`${file}: `), message).toBe(true);
  expect(message).not.toContain('\n');
  return error as InputError;
}

const fixedCnn = write('cnn3.onnx', withMetadata(exportOnnx(store, (g) => ({ features: cnn(g, 3) })), { [META_DESCRIPTION]: 'tiny test CNN\n(random weights)' }));
const symbolicCnn = write('cnn-any.onnx', symbolicBatch(exportOnnx(store, (g) => ({ features: cnn(g, 2) }))));

describe('ONNX image encoder', () => {
  it('gives the features the engine computes on byte / 127.5 - 1 input, one row per view in frame order', async () => {
    const encoder = await load(fixedCnn, 3);
    expect(encoder.featureSize).toBe(6);
    expect(encoder.views).toBe(3);
    expect(encoder.contract).toMatchObject({ batch: 3, width: W, height: H, featureSize: 6, normalisation: 'symmetric' });
    expect(encoder.label).toContain(fixedCnn);
    expect(encoder.label).toContain('(tiny test CNN (random weights))');
    const reference = await Predictor.create({ store, executionProvider: 'cpu', threads: 1, build: (g) => ({ features: cnn(g, 3) }) });
    try {
      // Frames at the model size: preprocessing is the normalisation alone.
      const frames = CAMERA_ROLES.map((role, i) => frame(role, 10 + i));
      const features = await encoder.encode(frames);
      const expected = (await reference.run({ images: symmetricChw(frames.map((f) => f.rgb)) })).features!;
      expect(features).toHaveLength(18);
      for (let i = 0; i < 18; i++) expect(features[i], `feature ${i}`).toBeCloseTo(expected[i]!, 5);
      // The views give different features, so the order is checked, not only the values.
      expect(Array.from(features.slice(0, 6))).not.toEqual(Array.from(features.slice(6, 12)));
      // Frames of another size are resized to W x H first.
      const large = CAMERA_ROLES.map((role, i) => frame(role, 20 + i, 40, 30));
      const resizer = new Preprocessor({ width: W, height: H });
      const resized = await Promise.all(large.map((f) => resizer.resizeRgb(f, f.role)));
      const expectedLarge = (await reference.run({ images: symmetricChw(resized) })).features!;
      const featuresLarge = await encoder.encode(large);
      for (let i = 0; i < 18; i++) expect(featuresLarge[i], `feature ${i} (resized)`).toBeCloseTo(expectedLarge[i]!, 5);
      // Swapping two frames swaps their rows.
      const swapped = await encoder.encode([frames[2]!, frames[1]!, frames[0]!]);
      expect(Array.from(swapped.slice(0, 6))).toEqual(Array.from(features.slice(12, 18)));
      expect(Array.from(swapped.slice(12, 18))).toEqual(Array.from(features.slice(0, 6)));
    } finally {
      await reference.dispose();
    }
  });

  it('feeds a symbolic batch N = views', async () => {
    const three = await load(fixedCnn, 3);
    const anyThree = await load(symbolicCnn, 3);
    const anyOne = await load(symbolicCnn, 1);
    expect(anyThree.contract.batch).toBeUndefined();
    const frames = CAMERA_ROLES.map((role, i) => frame(role, 30 + i));
    const reference = await three.encode(frames);
    const all = await anyThree.encode(frames);
    const first = await anyOne.encode(frames.slice(0, 1));
    expect(all).toHaveLength(18);
    expect(first).toHaveLength(6);
    for (let i = 0; i < 18; i++) expect(all[i]).toBeCloseTo(reference[i]!, 5);
    for (let i = 0; i < 6; i++) expect(first[i]).toBeCloseTo(reference[i]!, 5);
  });

  it('normalises per channel with the ImageNet mean and std when the metadata says imagenet', async () => {
    const means = symbolicBatch(exportOnnx(store, (g) => ({ features: channelMean(g, 1) })));
    const imagenet = await load(write('mean-imagenet.onnx', withMetadata(means, { [META_NORMALISATION]: 'imagenet' })), 2);
    const symmetric = await load(write('mean-symmetric.onnx', withMetadata(means, { [META_NORMALISATION]: 'symmetric' })), 2);
    const plain = await load(write('mean-plain.onnx', means), 2);
    expect(imagenet.contract.normalisation).toBe('imagenet');
    expect(plain.contract.normalisation).toBe('symmetric');
    // Uniform colours (unchanged by the resize from 20x10), a different one per view, RGB.
    const colours = [[255, 0, 128], [10, 200, 60]] as const;
    const frames = colours.map((c, v) => uniform(CAMERA_ROLES[v]!, c, 20, 10));
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const expectedImagenet = colours.flatMap((c) => c.map((byte, k) => (byte / 255 - mean[k]!) / std[k]!));
    const expectedSymmetric = colours.flatMap((c) => c.map((byte) => byte / 127.5 - 1));
    const gotImagenet = Array.from(await imagenet.encode(frames));
    expect(gotImagenet).toHaveLength(6);
    gotImagenet.forEach((x, i) => expect(x, `imagenet feature ${i}`).toBeCloseTo(expectedImagenet[i]!, 5));
    for (const encoder of [symmetric, plain]) {
      const got = Array.from(await encoder.encode(frames));
      got.forEach((x, i) => expect(x, `symmetric feature ${i}`).toBeCloseTo(expectedSymmetric[i]!, 5));
    }
  });

  it('refuses a number of frames other than its views', async () => {
    const encoder = await load(fixedCnn, 3);
    const frames = CAMERA_ROLES.map((role, i) => frame(role, i));
    await expect(encoder.encode(frames.slice(0, 2))).rejects.toThrow(RangeError);
    await expect(encoder.encode([...frames, frames[0]!])).rejects.toThrow(/expected 3 camera frames \(one per view\), got 4/);
    // and still encodes afterwards
    expect(await encoder.encode(frames)).toHaveLength(18);
  });

  it('refuses a fixed batch other than the run\'s views', async () => {
    const error = await refusal(fixedCnn, 2);
    expect(error.message).toMatch(/image encoder contract \(docs\/policy-encoder-contract\.md\): images shape: expected \[N, 3, 12, 16\] with N \(symbolic, or 2: one image per camera view of this run\), got \[3, 3, 12, 16\]$/);
  });

  it('names the file and the expectation for each contract violation', async () => {
    const wrongName = write('wrong-name.onnx', exportOnnx(store, (g) => ({ features: cnn(g, 3, 'pixels') })));
    expect((await refusal(wrongName)).message).toMatch(/inputs: expected exactly one input, images, got pixels$/);

    const flat = write('rank2.onnx', exportOnnx(store, (g) => ({ features: linear(g.input('images', [3, 3 * H * W]), 'flat', 6) })));
    expect((await refusal(flat)).message).toMatch(/images shape: expected \[N, 3, H, W\] \(rank 4\), got \[3, 576\]$/);

    const noFeatures = write('no-features.onnx', exportOnnx(store, (g) => ({ embedding: cnn(g, 3) })));
    expect((await refusal(noFeatures)).message).toMatch(/outputs: expected features, got embedding$/);

    const unknown = write('unknown-norm.onnx', withMetadata(exportOnnx(store, (g) => ({ features: cnn(g, 3) })), { [META_NORMALISATION]: 'zero-one' }));
    expect((await refusal(unknown)).message).toMatch(/metadata dopamine\.encoder\.normalisation: expected "symmetric" or "imagenet" \(or no entry, for symmetric\), got "zero-one"$/);

    const missing = join(dir, 'nope.onnx');
    expect((await refusal(missing)).message).toBe(`${missing}: expected a readable .onnx image encoder, got ENOENT`);

    const junk = write('junk.onnx', new Uint8Array([1, 2, 3, 4, 5, 255, 255]));
    expect((await refusal(junk)).message).toMatch(/junk\.onnx: expected an ONNX model, got bytes that do not decode/);
    const text = write('notes.onnx', new TextEncoder().encode('{"this": "is JSON, not ONNX"}\n'));
    expect((await refusal(text)).message).toMatch(/notes\.onnx: expected an ONNX model, got /);
    const empty = write('empty.onnx', new Uint8Array());
    expect((await refusal(empty)).message).toBe(`${empty}: expected an ONNX model, got a file without a graph`);
  });

  it('checks element types, channels, image size, the second input and the features batch', () => {
    const check = (bytes: Uint8Array, views = 3): string => {
      try {
        checkImageEncoderContract(bytes, 'model.onnx', views);
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as Error).message;
      }
      return 'accepted';
    };
    const base = exportOnnx(store, (g) => ({ features: cnn(g, 3) }));
    expect(check(base)).toBe('accepted');
    const contract = 'model.onnx: does not follow the image encoder contract (docs/policy-encoder-contract.md): ';

    const double = exportOnnx(new ParamStore({ seed: 1, dtype: 'float64' }), (g) => ({ features: channelMean(g, 3) }));
    expect(check(double)).toBe(`${contract}images element type: expected float32, got float64`);

    const twoInputs = exportOnnx(store, (g) => ({ features: cnn(g, 3).add(g.input('mask', [3, 6])) }));
    expect(check(twoInputs)).toMatch(/inputs: expected exactly one input, images, got (images, mask|mask, images)$/);

    const four = exportOnnx(store, (g) => ({ features: g.input('images', [3, 4, H, W]).mean([2, 3]) }));
    expect(check(four)).toBe(`${contract}images shape: expected [N, 3, H, W] with 3 channels (RGB), got [3, 4, 12, 16]`);

    const dynamicSize = editShapes(base, (name, dim) => {
      if (name === 'images') dim[2] = { dimParam: 'height' };
    });
    expect(check(dynamicSize)).toBe(`${contract}images shape: expected [N, 3, H, W] with H and W fixed positive sizes, got [3, 3, height, 16]`);

    const featureBatch = editShapes(base, (name, dim) => {
      if (name === 'images') dim[0] = { dimParam: 'N' };
    });
    expect(check(featureBatch)).toBe(`${contract}features shape: expected [N, F] (the batch of images, [N, 3, 12, 16]), got [3, 6]`);

    const features3d = exportOnnx(store, (g) => ({ features: cnn(g, 3).reshape([3, 2, 3]) }));
    expect(check(features3d)).toBe(`${contract}features shape: expected [3, F] with F a fixed positive size, got [3, 2, 3]`);

    // A symbolic batch fits any number of views.
    expect(check(symbolicBatch(base), 1)).toBe('accepted');
    expect(check(symbolicBatch(base), 5)).toBe('accepted');
  });
});
