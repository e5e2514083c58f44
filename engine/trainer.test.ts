import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../common/errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Graph } from './graph.js';
import { imageEncoder, linear, mlp } from './layers.js';
import { mse } from './losses.js';
import { normalSampler, ParamStore, seededRandom } from './params.js';
import { PlainMlp } from './reference-mlp.js';
import { createSession, ort } from './runtime.js';
import { exportOnnx, NonFiniteError, Predictor, Trainer } from './trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'engine-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BATCH = 32;
const SIZES = [4, 16, 16, 2];

function dataset(seed: number): { x: Float64Array; y: Float64Array } {
  const normal = normalSampler(seededRandom(seed));
  const x = Float64Array.from({ length: BATCH * SIZES[0]! }, normal);
  const y = new Float64Array(BATCH * 2);
  for (let b = 0; b < BATCH; b++) {
    const row = x.subarray(b * 4, b * 4 + 4);
    y[b * 2] = Math.sin(row[0]!) + 0.5 * row[1]! * row[2]!;
    y[b * 2 + 1] = Math.tanh(row[3]! - row[0]!);
  }
  return { x, y };
}

const mlpStep = (g: Graph): { loss: ReturnType<typeof mse> } => {
  const x = g.input('x', [BATCH, SIZES[0]!]);
  const y = g.input('y', [BATCH, 2]);
  return { loss: mse(mlp(x, 'mlp', SIZES.slice(1)), y) };
};

describe('training matches a plain TypeScript reference', () => {
  const adam = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

  async function compare(dtype: 'float32' | 'float64', steps: number): Promise<number> {
    const store = new ParamStore({ seed: 5, dtype });
    const trainer = await Trainer.create({ store, build: mlpStep, optimizer: { kind: 'adam', ...adam }, executionProvider: 'cpu' });
    const plain = new PlainMlp(
      SIZES.slice(1).map((outDim, i) => ({
        inDim: SIZES[i]!,
        outDim,
        weight: Float64Array.from(store.get(`mlp.${i}.weight`).data),
        bias: Float64Array.from(store.get(`mlp.${i}.bias`).data),
      })),
      adam,
    );
    const { x, y } = dataset(9);
    let worst = 0;
    let first = 0;
    let last = 0;
    for (let s = 0; s < steps; s++) {
      const engineLoss = (await trainer.run({ x, y })).loss;
      const plainLoss = plain.trainStep(x, y, BATCH);
      worst = Math.max(worst, Math.abs(engineLoss - plainLoss) / plainLoss);
      if (s === 0) first = plainLoss;
      last = engineLoss;
    }
    expect(last).toBeLessThan(first * 0.2); // it did learn
    await trainer.dispose();
    return worst;
  }

  it('float64 step graph: every step loss equal to 1e-9 relative', async () => {
    expect(await compare('float64', 150)).toBeLessThan(1e-9);
  });

  it('float32 step graph: every step loss within 1e-3 relative of the float64 reference', async () => {
    expect(await compare('float32', 150)).toBeLessThan(1e-3);
  });
});

describe('trainer state handling', () => {
  it('stops on a non-finite loss with the step number and keeps the previous weights', async () => {
    const store = new ParamStore({ seed: 1 });
    const trainer = await Trainer.create({ store, build: mlpStep, optimizer: { lr: 1e-3 }, executionProvider: 'cpu', name: 'mlp' });
    const { x, y } = dataset(2);
    await trainer.run({ x, y });
    await trainer.run({ x, y });
    const before = new Map(store.names().map((n) => [n, Float32Array.from(store.get(n).data)]));
    const bad = Float64Array.from(x);
    bad[3] = Number.NaN;
    const error = await trainer.run({ x: bad, y }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).step).toBe(3);
    expect((error as Error).message).toMatch(/step 3/);
    for (const n of store.names()) expect(Array.from(store.get(n).data)).toEqual(Array.from(before.get(n)!));
    expect(trainer.step).toBe(2);
    const after = await trainer.run({ x, y }); // training can continue from the kept state
    expect(after.step).toBe(3);
    expect(Number.isFinite(after.loss)).toBe(true);
  });

  it('stops on a non-finite gradient even when the loss is finite', async () => {
    // loss = mean(sqrt(x * p)): at x = 0 the loss is 0 but d/dp = x / (2 sqrt(x p)) = 0/0.
    const store = new ParamStore({ seed: 1 });
    const build = (g: Graph): { loss: ReturnType<typeof mse> } => ({ loss: g.input('x', [4]).mul(g.param('p', [4], { kind: 'ones' })).sqrt().mean() });
    const trainer = await Trainer.create({ store, build, optimizer: { lr: 0.1 }, executionProvider: 'cpu', name: 'sqrt' });
    await trainer.run({ x: [1, 2, 3, 4] });
    const before = Array.from(store.get('p').data);
    await expect(trainer.run({ x: [0, 2, 3, 4] })).rejects.toThrow('sqrt: training stopped at step 2: gradient norm (NaN) is not finite');
    expect(Array.from(store.get('p').data)).toEqual(before);
  });

  it('frozen parameters are read but not changed; shared store seen by other graphs', async () => {
    const store = new ParamStore({ seed: 2 });
    const build = (g: Graph): { loss: ReturnType<typeof mse> } => {
      const x = g.input('x', [BATCH, 4]);
      const y = g.input('y', [BATCH, 2]);
      return { loss: mse(linear(linear(x, 'body', 8).tanh(), 'head', 2), y) };
    };
    const trainer = await Trainer.create({ store, build, optimizer: { lr: 0.05 }, trainable: (n) => n.startsWith('head.'), executionProvider: 'cpu' });
    expect(trainer.trainableNames.sort()).toEqual(['head.bias', 'head.weight']);
    const body = Float32Array.from(store.get('body.weight').data);
    const head = Float32Array.from(store.get('head.weight').data);
    const predictor = await Predictor.create({ store, build: (g) => ({ y: linear(linear(g.input('x', [1, 4]), 'body', 8).tanh(), 'head', 2) }), executionProvider: 'cpu' });
    const { x, y } = dataset(3);
    const before = await predictor.run({ x: x.subarray(0, 4) });
    for (let i = 0; i < 5; i++) await trainer.run({ x, y });
    expect(Array.from(store.get('body.weight').data)).toEqual(Array.from(body));
    expect(Array.from(store.get('head.weight').data)).not.toEqual(Array.from(head));
    const after = await predictor.run({ x: x.subarray(0, 4) });
    expect(Array.from(after.y!)).not.toEqual(Array.from(before.y!));
  });

  it('reuses two preallocated buffers per parameter (onnxruntime writes outputs into them)', async () => {
    const store = new ParamStore({ seed: 1 });
    const trainer = await Trainer.create({ store, build: mlpStep, optimizer: { lr: 1e-3 }, executionProvider: 'cpu' });
    const { x, y } = dataset(1);
    const seen = new Set<unknown>();
    for (let i = 0; i < 6; i++) {
      const before = Float32Array.from(store.get('mlp.0.weight').data);
      await trainer.run({ x, y });
      const data = store.get('mlp.0.weight').data;
      seen.add(data);
      expect(Array.from(data)).not.toEqual(Array.from(before)); // the new values arrived in the buffer
    }
    expect(seen.size).toBe(2);
  });

  it('refuses a missing or wrongly sized input', async () => {
    const trainer = await Trainer.create({ store: new ParamStore({ seed: 1 }), build: mlpStep, optimizer: { lr: 1e-3 }, executionProvider: 'cpu' });
    await expect(trainer.run({ x: new Float32Array(BATCH * 4) })).rejects.toThrow(/missing input y/);
    await expect(trainer.run({ x: new Float32Array(3), y: new Float32Array(BATCH * 2) })).rejects.toThrow(/input x has 3 values, expected 128/);
  });
});

describe('checkpoints', () => {
  async function trained(): Promise<{ store: ParamStore; trainer: Trainer }> {
    const store = new ParamStore({ seed: 4 });
    const trainer = await Trainer.create({ store, build: mlpStep, optimizer: { lr: 1e-2 }, executionProvider: 'cpu', name: 'mlp' });
    const { x, y } = dataset(4);
    for (let i = 0; i < 3; i++) await trainer.run({ x, y });
    return { store, trainer };
  }

  it('round-trips weights and optimiser state: resumed training continues identically', async () => {
    const a = await trained();
    const file = join(dir, 'a.ckpt');
    saveCheckpoint(file, a.store, [a.trainer]);
    const b = { store: new ParamStore({ seed: 99 }) } as { store: ParamStore; trainer: Trainer };
    b.trainer = await Trainer.create({ store: b.store, build: mlpStep, optimizer: { lr: 1e-2 }, executionProvider: 'cpu', name: 'mlp' });
    loadCheckpoint(file, b.store, [b.trainer]);
    expect(b.trainer.step).toBe(3);
    const { x, y } = dataset(4);
    const la = await a.trainer.run({ x, y });
    const lb = await b.trainer.run({ x, y });
    expect(lb.loss).toBe(la.loss);
    for (const n of a.store.names()) expect(Array.from(b.store.get(n).data)).toEqual(Array.from(a.store.get(n).data));
  });

  it('refuses truncated, corrupted and mismatched files without changing the model', async () => {
    const a = await trained();
    const file = join(dir, 'b.ckpt');
    saveCheckpoint(file, a.store, [a.trainer]);
    const bytes = readFileSync(file);
    const target = new ParamStore({ seed: 7 });
    mlpStep(new (await import('./graph.js')).Graph({ store: target }));
    const original = Float32Array.from(target.get('mlp.0.weight').data);

    writeFileSync(join(dir, 'trunc.ckpt'), bytes.subarray(0, bytes.length - 10));
    expect(() => loadCheckpoint(join(dir, 'trunc.ckpt'), target)).toThrow(/truncated/);
    writeFileSync(join(dir, 'short.ckpt'), bytes.subarray(0, 20));
    expect(() => loadCheckpoint(join(dir, 'short.ckpt'), target)).toThrow(InputError);

    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 5]! ^= 0xff;
    writeFileSync(join(dir, 'flip.ckpt'), flipped);
    expect(() => loadCheckpoint(join(dir, 'flip.ckpt'), target)).toThrow(/checksum mismatch/);

    const other = new ParamStore({ seed: 1 });
    other.ensure('mlp.0.weight', [4, 8], { kind: 'zeros' });
    saveCheckpoint(join(dir, 'shape.ckpt'), other);
    const error = (() => {
      try {
        loadCheckpoint(join(dir, 'shape.ckpt'), target);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InputError);
    expect(error!.message).toContain('parameter mlp.0.weight: expected shape [4, 16] (model), got [4, 8] (file)');
    expect(Array.from(target.get('mlp.0.weight').data)).toEqual(Array.from(original));
  });
});

describe('export', () => {
  it('an exported .onnx file gives the same outputs as the engine in a fresh session', async () => {
    const store = new ParamStore({ seed: 6 });
    const trainer = await Trainer.create({ store, build: mlpStep, optimizer: { lr: 1e-2 }, executionProvider: 'cpu' });
    const { x, y } = dataset(6);
    for (let i = 0; i < 3; i++) await trainer.run({ x, y });
    const infer = (g: Graph): Record<string, ReturnType<typeof mlp>> => ({ prediction: mlp(g.input('x', [BATCH, 4]), 'mlp', SIZES.slice(1)) });
    const predictor = await Predictor.create({ store, build: infer, executionProvider: 'cpu' });
    const file = join(dir, 'mlp.onnx');
    exportOnnx(store, infer, file);
    const fresh = await ort.InferenceSession.create(readFileSync(file));
    expect(fresh.inputNames).toEqual(['x']);
    const xs = Float32Array.from(x);
    const exported = (await fresh.run({ x: new ort.Tensor('float32', xs, [BATCH, 4]) })).prediction!.data as Float32Array;
    const engine = (await predictor.run({ x: xs })).prediction!;
    expect(Array.from(exported)).toEqual(Array.from(engine));
  });

  it('exports the GRM-tiny image encoder with identical outputs', async () => {
    const store = new ParamStore({ seed: 8 });
    const infer = (g: Graph): Record<string, ReturnType<typeof mlp>> => ({ features: imageEncoder(g.input('images', [2, 3, 96, 128]), 'encoder') });
    const predictor = await Predictor.create({ store, build: infer, executionProvider: 'cpu' });
    const fresh = await ort.InferenceSession.create(exportOnnx(store, infer));
    const images = Float32Array.from({ length: 2 * 3 * 96 * 128 }, normalSampler(seededRandom(1)));
    const exported = (await fresh.run({ images: new ort.Tensor('float32', images, [2, 3, 96, 128]) })).features!.data as Float32Array;
    const engine = (await predictor.run({ images })).features!;
    expect(exported.length).toBe(2 * 64);
    expect(Array.from(exported)).toEqual(Array.from(engine));
  });

  it('creates sessions on the configured provider (cpu here)', async () => {
    const bytes = exportOnnx(new ParamStore({ seed: 1 }), (g) => ({ y: g.input('x', [2]).neg() }));
    const session = await createSession(bytes, { executionProvider: 'auto' });
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, -2), [2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([-1, 2]);
  });
});
