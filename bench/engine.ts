/**
 * One training step (forward, backward, Adam) of two models, side by side in one run:
 * the engine (ONNX graph on onnxruntime-node), TensorFlow.js on its wasm backend, and plain
 * TypeScript loops. Writes bench/results/engine.json.
 *
 *   mlp-64-256-256-8-b256:        MLP 64-256-256-8 (ReLU), MSE, batch 256
 *   grm-tiny-encoder-128x96-b32:  the GRM-tiny image encoder (128x96 RGB, 16x16 patches -> 48
 *                                 tokens, dim 64, one transformer block, attention pooling) with a
 *                                 16-bin cross-entropy head, batch 32
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { gradients } from '../engine/autodiff.js';
import type { Graph } from '../engine/graph.js';
import { Graph as GraphClass } from '../engine/graph.js';
import { imageEncoder, linear, mlp } from '../engine/layers.js';
import { crossEntropyBins, mse } from '../engine/losses.js';
import { adamUpdate } from '../engine/optim.js';
import type { FloatArray } from '../engine/params.js';
import { normalSampler, ParamStore, polyakUpdate, seededRandom } from '../engine/params.js';
import { PlainMlp } from '../engine/reference-mlp.js';
import { interpret } from '../engine/interpret.js';
import { Trainer } from '../engine/trainer.js';
import { emitModel } from '../engine/onnx.js';
import { createSession, ort } from '../engine/runtime.js';
import type { Stats } from './lib/timing.js';
import { time } from './lib/timing.js';

const normal = normalSampler(seededRandom(1));
const randn = (n: number): Float32Array => Float32Array.from({ length: n }, normal);

// ---------- MLP 64-256-256-8, batch 256 ----------
const MLP_SIZES = [64, 256, 256, 8];
const MLP_BATCH = 256;

async function mlpEngine(x: Float32Array, y: Float32Array, threads = 0): Promise<{ stats: Stats; forwardBackwardMs: number; polyakMs: number; params: number }> {
  const store = new ParamStore({ seed: 1 });
  const trainer = await Trainer.create({
    store,
    threads,
    executionProvider: 'cpu',
    optimizer: { kind: 'adam', lr: 1e-3 },
    build: (g: Graph) => ({ loss: mse(mlp(g.input('x', [MLP_BATCH, 64]), 'mlp', MLP_SIZES.slice(1)), g.input('y', [MLP_BATCH, 8])) }),
  });
  const result = await time(20, 200, () => trainer.run({ x, y }));
  const forwardBackward = await mlpForwardBackward(store, x, y);
  // Target-network update cost, for the SAC learner: Polyak over a copy of the same parameters.
  store.copyPrefix('mlp.', 'target.mlp.');
  const polyak = await time(5, 50, () => polyakUpdate(store, 'mlp.', 'target.mlp.', 0.005));
  await trainer.dispose();
  return { stats: result, forwardBackwardMs: forwardBackward.median, polyakMs: polyak.median, params: store.count() / 2 };
}

/** The same model's forward + backward only (gradients as outputs), to size the optimiser's share. */
async function mlpForwardBackward(store: ParamStore, x: Float32Array, y: Float32Array): Promise<Stats> {
  const g = new GraphClass({ store });
  const loss = mse(mlp(g.input('x', [MLP_BATCH, 64]), 'mlp', MLP_SIZES.slice(1)), g.input('y', [MLP_BATCH, 8]));
  const names = [...g.params.keys()];
  const grads = gradients(loss, names.map((n) => g.params.get(n)!));
  const outputs = Object.fromEntries([['loss', loss], ...names.map((n, i) => [`grad/${n}`, grads[i]!] as const)]);
  const session = await createSession(emitModel(g, { outputs }).bytes, { executionProvider: 'cpu' });
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { x: new ort.Tensor('float32', x, [MLP_BATCH, 64]), y: new ort.Tensor('float32', y, [MLP_BATCH, 8]) };
  for (const n of names) feeds[n] = new ort.Tensor('float32', store.get(n).data, store.get(n).shape);
  const result = await time(20, 200, () => session.run(feeds));
  await session.release();
  return result;
}

function mlpPlain(x: Float32Array, y: Float32Array): Promise<Stats> {
  const random = seededRandom(2);
  const layers = MLP_SIZES.slice(1).map((outDim, i) => ({
    inDim: MLP_SIZES[i]!,
    outDim,
    weight: Float64Array.from({ length: MLP_SIZES[i]! * outDim }, () => (2 * random() - 1) / Math.sqrt(MLP_SIZES[i]!)),
    bias: new Float64Array(outDim),
  }));
  const plain = new PlainMlp(layers, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  return time(2, 10, () => plain.trainStep(x, y, MLP_BATCH));
}

function tfVariable(shape: number[], fanIn: number): tf.Variable {
  return tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
}

async function mlpTfjs(x: Float32Array, y: Float32Array): Promise<Stats> {
  const xs = tf.tensor2d(x, [MLP_BATCH, 64]);
  const ys = tf.tensor2d(y, [MLP_BATCH, 8]);
  const weights = MLP_SIZES.slice(1).map((out, i) => [tfVariable([MLP_SIZES[i]!, out], MLP_SIZES[i]!), tfVariable([out], MLP_SIZES[i]!)] as const);
  const optimizer = tf.train.adam(1e-3);
  const step = (): void => {
    const cost = optimizer.minimize(() => {
      let h: tf.Tensor = xs;
      weights.forEach(([w, b], i) => {
        h = tf.add(tf.matMul(h as tf.Tensor2D, w as tf.Tensor2D), b);
        if (i < weights.length - 1) h = tf.relu(h);
      });
      return tf.losses.meanSquaredError(ys, h);
    }, true);
    cost!.dataSync();
    cost!.dispose();
  };
  return time(3, 20, step);
}

// ---------- GRM-tiny image encoder, batch 32 ----------
const ENC = { batch: 32, height: 96, width: 128, patch: 16, dim: 64, heads: 4, hidden: 128, bins: 16 };

function encoderStep(g: Graph): { loss: ReturnType<typeof mse> } {
  const images = g.input('images', [ENC.batch, 3, ENC.height, ENC.width]);
  const targets = g.input('targets', [ENC.batch, ENC.bins]);
  const features = imageEncoder(images, 'encoder', { patch: ENC.patch, dim: ENC.dim, heads: ENC.heads, depth: 1, hidden: ENC.hidden });
  return { loss: crossEntropyBins(linear(features, 'head', ENC.bins), targets) };
}

async function encoderEngine(images: Float32Array, targets: Float32Array, threads = 0): Promise<{ stats: Stats; params: number }> {
  const store = new ParamStore({ seed: 1 });
  const trainer = await Trainer.create({ store, threads, executionProvider: 'cpu', optimizer: { kind: 'adamw', lr: 1e-3, weightDecay: 0.01, clipNorm: 1 }, build: encoderStep });
  const result = await time(5, 50, () => trainer.run({ images, targets }));
  await trainer.dispose();
  return { stats: result, params: store.count() };
}

/** The same step graph (forward, backward, AdamW) executed op by op with plain TypeScript loops. */
async function encoderPlain(images: Float32Array, targets: Float32Array): Promise<Stats> {
  const store = new ParamStore({ seed: 1 });
  const graph = new GraphClass({ store });
  const { loss } = encoderStep(graph);
  const names = [...graph.params.keys()];
  const params = names.map((n) => graph.params.get(n)!);
  const grads = gradients(loss, params);
  const m = params.map((p, i) => graph.input(`m/${names[i]}`, p.shape));
  const v = params.map((p, i) => graph.input(`v/${names[i]}`, p.shape));
  const update = adamUpdate({ params, grads, m, v, step: graph.input('step', []), lr: graph.input('lr', []) }, { kind: 'adamw', lr: 1e-3, weightDecay: 0.01, clipNorm: 1 });
  const state = new Map<string, FloatArray>();
  names.forEach((n) => {
    state.set(n, Float32Array.from(store.get(n).data));
    state.set(`m/${n}`, new Float32Array(store.get(n).data.length));
    state.set(`v/${n}`, new Float32Array(store.get(n).data.length));
  });
  let stepNumber = 0;
  const step = (): void => {
    stepNumber++;
    const feeds = new Map<string, FloatArray>([...state, ['images', images], ['targets', targets], ['step', Float32Array.of(stepNumber)], ['lr', Float32Array.of(1e-3)]]);
    const outputs = interpret([loss, ...update.params, ...update.m, ...update.v], feeds);
    names.forEach((n, i) => {
      state.set(n, outputs[1 + i]!);
      state.set(`m/${n}`, outputs[1 + names.length + i]!);
      state.set(`v/${n}`, outputs[1 + 2 * names.length + i]!);
    });
  };
  return time(1, 3, step);
}

async function encoderTfjs(images: Float32Array, targets: Float32Array): Promise<Stats> {
  const { batch: b, dim: d, heads: h, hidden, bins, patch: p } = ENC;
  const rows = ENC.height / p;
  const cols = ENC.width / p;
  const n = rows * cols;
  const dh = d / h;
  const xs = tf.tensor4d(images, [b, 3, ENC.height, ENC.width]);
  const ys = tf.tensor2d(targets, [b, bins]);
  const v = {
    proj: tfVariable([3 * p * p, d], 3 * p * p), projB: tfVariable([d], 3 * p * p), pos: tf.variable(tf.randomNormal([n, d], 0, 0.02)),
    ln1s: tf.variable(tf.ones([d])), ln1b: tf.variable(tf.zeros([d])), qkv: tfVariable([d, 3 * d], d), qkvB: tfVariable([3 * d], d),
    out: tfVariable([d, d], d), outB: tfVariable([d], d), ln2s: tf.variable(tf.ones([d])), ln2b: tf.variable(tf.zeros([d])),
    fc1: tfVariable([d, hidden], d), fc1B: tfVariable([hidden], d), fc2: tfVariable([hidden, d], hidden), fc2B: tfVariable([d], hidden),
    lns: tf.variable(tf.ones([d])), lnb: tf.variable(tf.zeros([d])), key: tfVariable([d, d], d), keyB: tfVariable([d], d),
    val: tfVariable([d, d], d), valB: tfVariable([d], d), query: tf.variable(tf.randomNormal([h, dh], 0, 1 / Math.sqrt(dh))),
    head: tfVariable([d, bins], d), headB: tfVariable([bins], d),
  };
  const dense = (x: tf.Tensor, w: tf.Variable, bias: tf.Variable): tf.Tensor => {
    const shape = x.shape;
    const flat = tf.reshape(x, [-1, shape[shape.length - 1]!]) as tf.Tensor2D;
    return tf.reshape(tf.add(tf.matMul(flat, w as tf.Tensor2D), bias), [...shape.slice(0, -1), w.shape[1]!]);
  };
  const layerNorm = (x: tf.Tensor, scale: tf.Variable, shift: tf.Variable): tf.Tensor => {
    const mean = tf.mean(x, -1, true);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), -1, true);
    return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, 1e-5))), scale), shift);
  };
  const gelu = (x: tf.Tensor): tf.Tensor => tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
  const forward = (): tf.Scalar => {
    const tiles = tf.reshape(tf.transpose(tf.reshape(xs, [b, 3, rows, p, cols, p]), [0, 2, 4, 1, 3, 5]), [b, n, 3 * p * p]);
    let x = tf.add(dense(tiles, v.proj, v.projB), v.pos);
    const normed = layerNorm(x, v.ln1s, v.ln1b);
    const qkv = tf.transpose(tf.reshape(dense(normed, v.qkv, v.qkvB), [b, n, 3, h, dh]), [2, 0, 3, 1, 4]); // [3, b, h, n, dh]
    const [q, k, vv] = tf.unstack(qkv) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const weights = tf.softmax(tf.mul(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), 1 / Math.sqrt(dh)));
    const mixed = tf.reshape(tf.transpose(tf.matMul(weights as tf.Tensor4D, vv as tf.Tensor4D), [0, 2, 1, 3]), [b, n, d]);
    x = tf.add(x, dense(mixed, v.out, v.outB));
    x = tf.add(x, dense(gelu(dense(layerNorm(x, v.ln2s, v.ln2b), v.fc1, v.fc1B)), v.fc2, v.fc2B));
    const tokens = layerNorm(x, v.lns, v.lnb);
    const keys = tf.reshape(dense(tokens, v.key, v.keyB), [b, n, h, dh]);
    const values = tf.reshape(dense(tokens, v.val, v.valB), [b, n, h, dh]);
    const scores = tf.mul(tf.sum(tf.mul(keys, v.query), 3), 1 / Math.sqrt(dh)); // [b, n, h]
    const attention = tf.transpose(tf.softmax(tf.transpose(scores, [0, 2, 1])), [0, 2, 1]); // softmax over tokens
    const pooled = tf.reshape(tf.sum(tf.mul(values, tf.expandDims(attention, 3)), 1), [b, d]);
    return tf.losses.softmaxCrossEntropy(ys, dense(pooled, v.head, v.headB)) as tf.Scalar;
  };
  const optimizer = tf.train.adam(1e-3);
  const step = (): void => {
    const cost = optimizer.minimize(forward, true);
    cost!.dataSync();
    cost!.dispose();
  };
  return time(1, 5, step);
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  setWasmPaths(`${wasmDir}/`);
  await tf.setBackend('wasm');
  await tf.ready();
  const loadBefore = loadavg();
  const cpu = cpus();

  console.log('mlp-64-256-256-8-b256 ...');
  const x = randn(MLP_BATCH * 64);
  const y = randn(MLP_BATCH * 8);
  const engineMlp = await mlpEngine(x, y);
  console.log(`  engine      median ${engineMlp.stats.median} ms (forward + backward only ${engineMlp.forwardBackwardMs} ms, Polyak update ${engineMlp.polyakMs} ms)`);
  const engineMlp1 = await mlpEngine(x, y, 1);
  console.log(`  engine, 1 thread  median ${engineMlp1.stats.median} ms`);
  const tfjsMlp = await mlpTfjs(x, y);
  console.log(`  tfjs-wasm   median ${tfjsMlp.median} ms`);
  const plainMlp = await mlpPlain(x, y);
  console.log(`  plain TS    median ${plainMlp.median} ms`);

  console.log('grm-tiny-encoder-128x96-b32 ...');
  const images = randn(ENC.batch * 3 * ENC.height * ENC.width);
  const targets = new Float32Array(ENC.batch * ENC.bins);
  for (let i = 0; i < ENC.batch; i++) targets[i * ENC.bins + (i % ENC.bins)] = 1;
  const engineEnc = await encoderEngine(images, targets);
  console.log(`  engine      median ${engineEnc.stats.median} ms`);
  const engineEnc1 = await encoderEngine(images, targets, 1);
  console.log(`  engine, 1 thread  median ${engineEnc1.stats.median} ms`);
  let tfjsEnc: Stats | { error: string };
  try {
    tfjsEnc = await encoderTfjs(images, targets);
    console.log(`  tfjs-wasm   median ${tfjsEnc.median} ms`);
  } catch (error) {
    tfjsEnc = { error: error instanceof Error ? error.message : String(error) };
    console.log(`  tfjs-wasm   failed: ${tfjsEnc.error}`);
  }
  const plainEnc = await encoderPlain(images, targets);
  console.log(`  plain TS    median ${plainEnc.median} ms`);

  const ratio = (a: Stats | { error: string }, b: Stats): number | null => ('median' in a ? Math.round((a.median / b.median) * 10) / 10 : null);
  const result = {
    machine: {
      cpu: cpu[0]?.model ?? 'unknown',
      cores: cpu.length,
      node: process.version,
      date: new Date().toISOString(),
      loadavg_before: loadBefore.map((l) => Math.round(l * 100) / 100),
      loadavg_after: loadavg().map((l) => Math.round(l * 100) / 100),
      onnxruntime_node: createRequire(import.meta.url)('onnxruntime-node/package.json').version as string,
      tfjs: tf.version.tfjs,
      tfjs_backend: tf.getBackend(),
      engine_threads: 'engine_ms: onnxruntime default intra-op threads (engine.threads = 0); engine_1_thread_ms: engine.threads = 1',
    },
    cases: [
      {
        name: 'mlp-64-256-256-8-b256',
        description: 'one Adam training step (forward, backward, update) of a 64-256-256-8 ReLU MLP with MSE loss, batch 256, float32',
        parameters: engineMlp.params,
        engine_ms: engineMlp.stats,
        tfjs_wasm_ms: tfjsMlp,
        plain_ts_ms: plainMlp,
        speedup_vs_tfjs_wasm: ratio(tfjsMlp, engineMlp.stats),
        speedup_vs_plain_ts: ratio(plainMlp, engineMlp.stats),
        engine_1_thread_ms: engineMlp1.stats,
        engine_forward_backward_only_median_ms: engineMlp.forwardBackwardMs,
        polyak_update_ms: engineMlp.polyakMs,
        notes: 'plain TS: hand-written loops over Float64Array (engine/reference-mlp.ts)',
      },
      {
        name: 'grm-tiny-encoder-128x96-b32',
        description: 'one AdamW step (clip-norm 1) of the GRM-tiny image encoder: 128x96 RGB, 16x16 patches -> 48 tokens, dim 64, one pre-norm transformer block (4 heads, MLP 128), attention pooling, 16-bin cross-entropy head; batch 32, float32',
        parameters: engineEnc.params,
        engine_ms: engineEnc.stats,
        tfjs_wasm_ms: tfjsEnc,
        engine_1_thread_ms: engineEnc1.stats,
        plain_ts_ms: plainEnc,
        speedup_vs_tfjs_wasm: ratio(tfjsEnc, engineEnc.stats),
        speedup_vs_plain_ts: ratio(plainEnc, engineEnc.stats),
        notes: 'tfjs: same architecture from tfjs ops, tf.train.adam (no weight decay or clipping); plain TS: the engine\'s own step graph executed op by op with typed-array loops (engine/interpret.ts), fewer repetitions',
      },
    ],
  };
  const out = join(here, 'results', 'engine.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

await main();
