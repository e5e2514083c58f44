/**
 * `dopamine policy pretrain-encoder`: the policy encoder (model.ts) trained in the simulator to say
 * where the task's objects are, on the four training tasks (the held-out task never seen), then
 * exported as an ONNX image encoder (docs/policy-encoder-contract.md). Seeded: the same options
 * give the same scenes and the same batches.
 *
 * Loss: smooth L1 of the linear hand head (key bodies relative to the hand, decimetres) plus
 * smooth L1 of the per-view linear image heads (where each key body appears). Augmentation: each
 * view's colour jittered (per-channel gain and offset), on top of the scenes' own light and camera
 * jitter (scenes.ts).
 */
import os from 'node:os';
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { exportOnnx, huber, Predictor, Trainer, ParamStore, Graph, writeFileAtomic } from '../../engine/index.js';
import { createRng, type Rng } from '../../robot/sim/rng.js';
import { SIM_TASKS } from '../../robot/sim/tasks.js';
import { withEncoderMetadata } from './contract-metadata.js';
import type { PolicyEncoderConfig } from './model.js';
import { buildAll, encodeScenes, encodeViews, featuresPerView, HAND_TARGET_SIZE, IMAGE_TARGET_SIZE, isEncoderParam, POLICY_ENCODER_CONFIG, PROPRIO_INPUTS, pretrainHeads } from './model.js';
import { encoderScenes, type EncoderScene } from './scenes.js';

export interface EncoderPretrainOptions {
  config: Config;
  out: string;
  /** Default: every simulator task not held out. */
  tasks?: string[];
  scenesPerTask: number;
  validationPerTask: number;
  /** Random scenes of each held-out task's world: its objects placed at random and the hand moved at random, never its episodes. */
  randomScenes: number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  /** Light and camera jitter in the scenes (default true). */
  jitter?: boolean;
  threads?: number;
  logger?: Logger;
}

export interface EncoderPretrainReport {
  out: string;
  tasks: string[];
  heldOut: string[];
  scenes: { train: number; validation: number; random: number };
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  jitter: boolean;
  parameters: number;
  bytes: number;
  featuresPerView: number;
  loss: { first: number; last: number };
  /** Validation scenes of the training tasks: the linear hand head's error on the moved object (key body 0), 3-D, cm. */
  validation: { objectErrorCm: { median: number; p90: number } };
  seconds: { simulate: number; train: number; total: number };
  machine: { cpu: string; cores: number; node: string; date: string };
}

/** Scene bytes -> normalised floats [-1, 1] of one sample's views at `offset`, with optional colour jitter. */
export function sceneImages(scene: EncoderScene, out: Float32Array, offset: number, config: PolicyEncoderConfig, rng?: Rng): void {
  const plane = config.width * config.height;
  scene.views.forEach((rgb, v) => {
    if (rgb.length !== plane * 3) throw new RangeError(`scene view ${v}: expected ${config.width}x${config.height} RGB, got ${rgb.length} bytes`);
    for (let c = 0; c < 3; c++) {
      const gain = rng ? rng.uniform(0.8, 1.2) : 1;
      const shift = rng ? rng.uniform(-0.1, 0.1) : 0;
      const base = offset + (v * 3 + c) * plane;
      for (let p = 0; p < plane; p++) out[base + p] = Math.max(-1, Math.min(1, (rgb[p * 3 + c]! / 127.5 - 1) * gain + shift));
    }
  });
}

const percentile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const round2 = (x: number): number => Math.round(x * 100) / 100;

export async function pretrainPolicyEncoder(options: EncoderPretrainOptions): Promise<EncoderPretrainReport> {
  const started = performance.now();
  const log = options.logger;
  const model = POLICY_ENCODER_CONFIG;
  const tasks = options.tasks ?? SIM_TASKS.filter((t) => !t.heldOut).map((t) => t.name);
  const jitter = options.jitter ?? true;
  const train: EncoderScene[] = [];
  const validation: EncoderScene[] = [];
  // Each training row's head: its task's, or the random scenes' of a held-out world.
  const heads: string[] = [...tasks];
  const headOf = new Map<EncoderScene, number>();
  for (const [t, task] of tasks.entries()) {
    // Seeds of task t start at seed * 1000 + 100000 t; validation episodes after the training ones.
    const base = options.seed * 1000 + 100_000 * t;
    for await (const scene of encoderScenes({ config: options.config, task, count: options.scenesPerTask, seed: base, jitter, width: model.width, height: model.height })) {
      train.push(scene);
      headOf.set(scene, t);
    }
    for await (const scene of encoderScenes({ config: options.config, task, count: options.validationPerTask, seed: base + 50_000, jitter, width: model.width, height: model.height })) {
      validation.push(scene);
      headOf.set(scene, t);
    }
    log?.info(`${task}: ${options.scenesPerTask} training and ${options.validationPerTask} validation scenes (${Math.round((performance.now() - started) / 1000)} s)`);
  }
  const heldOut = SIM_TASKS.filter((t) => t.heldOut).map((t) => t.name);
  const randomScenes = options.randomScenes;
  if (randomScenes > 0) {
    for (const [h, task] of heldOut.entries()) {
      heads.push(`${task} (random scenes)`);
      const base = options.seed * 1000 + 100_000 * (tasks.length + h) + 70_000;
      for await (const scene of encoderScenes({ config: options.config, task, count: randomScenes, seed: base, jitter, expert: false, width: model.width, height: model.height })) {
        train.push(scene);
        headOf.set(scene, heads.length - 1);
      }
      log?.info(`${task}: ${randomScenes} random scenes, no episode (${Math.round((performance.now() - started) / 1000)} s)`);
    }
  }
  const simulated = performance.now();

  const store = new ParamStore({ seed: options.seed });
  buildAll(new Graph({ store }), 1, heads.length, model);
  const batch = options.batch;
  const trainer = await Trainer.create({
    store,
    name: 'policy encoder pretrain',
    executionProvider: 'cpu',
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    optimizer: { kind: 'adamw', lr: options.lr, weightDecay: 1e-4, clipNorm: 1 },
    build: (graph) => {
      const features = encodeScenes(graph.input('images', [batch, model.views, 3, model.height, model.width]), model);
      const out = pretrainHeads(features, graph.input('proprio', [batch, PROPRIO_INPUTS]), graph.input('task', [batch, heads.length]), model);
      const loss = huber(out.hand, graph.input('hand', [batch, HAND_TARGET_SIZE])).add(huber(out.image, graph.input('image', [batch, model.views, IMAGE_TARGET_SIZE])));
      return { loss };
    },
  });
  const sceneFloats = model.views * 3 * model.width * model.height;
  const feeds = {
    images: new Float32Array(batch * sceneFloats),
    proprio: new Float32Array(batch * PROPRIO_INPUTS),
    hand: new Float32Array(batch * HAND_TARGET_SIZE),
    image: new Float32Array(batch * model.views * IMAGE_TARGET_SIZE),
    task: new Float32Array(batch * heads.length),
  };
  const rng = createRng(options.seed + 17);
  const losses: number[] = [];
  try {
    for (let step = 0; step < options.steps; step++) {
      for (let k = 0; k < batch; k++) {
        const scene = train[Math.floor(rng.next() * train.length)]!;
        sceneImages(scene, feeds.images, k * sceneFloats, model, rng);
        feeds.proprio.set(scene.proprio, k * PROPRIO_INPUTS);
        feeds.hand.set(scene.hand, k * HAND_TARGET_SIZE);
        feeds.image.set(scene.image, k * model.views * IMAGE_TARGET_SIZE);
        feeds.task.fill(0, k * heads.length, (k + 1) * heads.length);
        feeds.task[k * heads.length + headOf.get(scene)!] = 1;
      }
      const warm = Math.max(1, Math.round(0.03 * options.steps));
      const lr = step < warm ? (options.lr * (step + 1)) / warm : options.lr * 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / Math.max(1, options.steps - warm)));
      losses.push((await trainer.run(feeds, { lr })).loss);
      if ((step + 1) % 100 === 0) log?.info(`encoder step ${step + 1}/${options.steps}: loss ${losses[losses.length - 1]!.toFixed(4)} (${Math.round((performance.now() - simulated) / 1000)} s)`);
    }
  } finally {
    await trainer.dispose();
  }
  const trained = performance.now();

  // Validation: the trained linear hand head on unseen scenes of the training tasks.
  const predictor = await Predictor.create({
    store,
    name: 'policy encoder validation',
    executionProvider: 'cpu',
    build: (graph) => ({ hand: pretrainHeads(encodeScenes(graph.input('images', [1, model.views, 3, model.height, model.width]), model), graph.input('proprio', [1, PROPRIO_INPUTS]), graph.input('task', [1, heads.length]), model).hand }),
  });
  const errors: number[] = [];
  try {
    const images = new Float32Array(sceneFloats);
    for (const scene of validation) {
      sceneImages(scene, images, 0, model);
      const task = new Float32Array(heads.length);
      task[headOf.get(scene)!] = 1;
      const { hand } = await predictor.run({ images, proprio: scene.proprio, task });
      errors.push(10 * Math.hypot(hand![0]! - scene.hand[0]!, hand![1]! - scene.hand[1]!, hand![2]! - scene.hand[2]!));
    }
  } finally {
    await predictor.dispose();
  }

  const sources = `${tasks.join(', ')}${randomScenes > 0 ? ` and random scenes of ${heldOut.join(', ')}` : ''}`;
  const description = `policy encoder pretrained on ${train.length} simulator scenes of ${sources} (${options.steps} steps, batch ${batch}, seed ${options.seed})`;
  const bytes = withEncoderMetadata(
    exportOnnx(store, (graph) => ({ features: encodeViews(graph.input('images', [model.views, 3, model.height, model.width]), model) })),
    { normalisation: 'symmetric', description, config: model },
  );
  writeFileAtomic(options.out, bytes);
  const tenth = Math.max(1, Math.round(losses.length / 10));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    out: options.out,
    tasks,
    heldOut,
    scenes: { train: train.length, validation: validation.length, random: randomScenes * (randomScenes > 0 ? heldOut.length : 0) },
    steps: options.steps,
    batch,
    lr: options.lr,
    seed: options.seed,
    jitter,
    parameters: store.names().filter(isEncoderParam).reduce((n, name) => n + store.get(name).data.length, 0),
    bytes: bytes.length,
    featuresPerView: featuresPerView(model),
    loss: { first: Math.round(mean(losses.slice(0, tenth)) * 1e4) / 1e4, last: Math.round(mean(losses.slice(-tenth)) * 1e4) / 1e4 },
    validation: { objectErrorCm: { median: round2(percentile(errors, 0.5)), p90: round2(percentile(errors, 0.9)) } },
    seconds: { simulate: Math.round((simulated - started) / 1000), train: Math.round((trained - simulated) / 1000), total: Math.round((performance.now() - started) / 1000) },
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, date: new Date().toISOString() },
  };
}
