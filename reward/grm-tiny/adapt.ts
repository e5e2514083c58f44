/**
 * One-shot adaptation of GRM-tiny to a new task from ONE demo (paper section 3.1.4):
 *
 * 1. the demo's step-wise labels and the reference pair sampler give up to `pairs` training pairs;
 * 2. the image encoder is frozen: every frame the pairs use is encoded once into view vectors,
 *    for the demo and for a few appearance variants of it (hue-rotated, mirrored: appearance.ts),
 *    each variant judged against its own START and half the time against the demo's GOAL, as the
 *    episodes the adapted model scores are;
 * 3. the view fusion, the instruction projection and the hop head (parameters fuse.*, text.*,
 *    head.*) are fine-tuned on those vectors (cross-entropy over hop bins + MSE on the hop + MSE
 *    of the head's BEFORE and AFTER state progress against the labels), with view dropout;
 * 4. the result is validated on the demo itself: fused progress over the label sample points,
 *    forward and reversed (reference evaluation), VOC of each;
 * 5. below the VOC threshold nothing is written; otherwise the adapted .onnx and the task
 *    references (instructions, start and goal image of every view) are written.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InputError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Graph, ParamStore } from '../../engine/index.js';
import { crossEntropyBins, mse, Predictor, Trainer, twoHot, writeFileAtomic } from '../../engine/index.js';
import type { Crop } from '../../perception/preprocess.js';
import { Preprocessor } from '../../perception/preprocess.js';
import type { CameraRole } from '../../robot/types.js';
import { CAMERA_ROLES } from '../../robot/types.js';
import type { Episode, RgbImage } from '../episode.js';
import { voc } from '../evaluation.js';
import { ProgressFusion } from '../fusion.js';
import { encodeInstruction, META_DESCRIPTION } from '../grm-contract.js';
import { createRng } from '../rng.js';
import { writeReferences } from '../task-references.js';
import { drawVariants, variantViews } from './appearance.js';
import type { EpisodeSamples, FrameViews } from './dataset.js';
import { collectEpisode, labelProgress } from './dataset.js';
import { exportGrmTiny, loadGrmTiny } from './io.js';
import type { GrmTinyConfig } from './model.js';
import { encodeImages, headFromVectors, hopBins, imageFloats, isAdaptedParam } from './model.js';

export interface AdaptOptions {
  base: string;
  out: string;
  /** Label sample factor of the demo (reward.labels.sampleFactor). */
  sampleFactor: number;
  pairs?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  /** Refuse to write a model whose demo VOC (forward or reversed) is below this. */
  minVoc: number;
  crops?: Partial<Record<CameraRole, Crop | undefined>>;
  /** Appearance variants of the demo (re-coloured, mirrored) trained on besides the demo itself (default 4; 0: none). */
  variants?: number;
  logger?: Logger;
}

export interface DemoVoc {
  forward: number;
  reversed: number;
}

export interface AdaptReport {
  base: string;
  out: string;
  demo: string;
  pairs: number;
  /** Appearance variants of the demo trained on besides the demo itself. */
  variants: number;
  labelPoints: number;
  steps: number;
  trained: string[];
  trainedParameters: number;
  before: DemoVoc;
  after: DemoVoc;
  minVoc: number;
  seconds: number;
  references: string;
}

/** Frame id -> the three view vectors [3 * dim], from the frozen encoder. */
async function encodeFrames(store: ParamStore, config: GrmTinyConfig, frames: Map<number, FrameViews>, preprocessor: Preprocessor): Promise<Map<number, Float32Array>> {
  const chunk = 24;
  const predictor = await Predictor.create({
    store,
    name: 'grm-tiny encoder',
    executionProvider: 'cpu',
    build: (graph: Graph) => ({ vectors: encodeImages(graph.input('images', [chunk, 3, config.height, config.width]), config) }),
  });
  const size = imageFloats(config);
  const images = new Float32Array(chunk * size);
  const entries = [...frames.entries()].flatMap(([id, views]) => views.map((view, v) => ({ id, v, view })));
  const out = new Map<number, Float32Array>();
  try {
    for (let i = 0; i < entries.length; i += chunk) {
      const part = entries.slice(i, i + chunk);
      part.forEach((e, k) => preprocessor.normalise(e.view, images, k * size));
      const { vectors } = await predictor.run({ images });
      part.forEach((e, k) => {
        let frame = out.get(e.id);
        if (!frame) out.set(e.id, (frame = new Float32Array(3 * config.dim)));
        frame.set(vectors!.subarray(k * config.dim, (k + 1) * config.dim), e.v * config.dim);
      });
    }
  } finally {
    await predictor.dispose();
  }
  return out;
}

function headInputs(graph: Graph, batch: number, config: GrmTinyConfig) {
  const d = config.dim;
  return {
    before: graph.input('v_before', [batch, 3, d]),
    after: graph.input('v_after', [batch, 3, d]),
    start: graph.input('v_start', [batch, d]),
    goal: graph.input('v_goal', [batch, d]),
    instruction: graph.input('instruction', [batch, config.textDim]),
  };
}

/** Fused progress over the label points, forward or reversed, from view vectors; returns VOC. */
async function demoVoc(store: ParamStore, config: GrmTinyConfig, samples: EpisodeSamples, vectors: Map<number, Float32Array>): Promise<DemoVoc> {
  const points = samples.points;
  const steps = points.length - 1;
  const batch = 3 * steps;
  const d = config.dim;
  const predictor = await Predictor.create({ store, name: 'grm-tiny head', executionProvider: 'cpu', build: (graph) => ({ hop: headFromVectors(headInputs(graph, batch, config), config).hop }) });
  const text = encodeInstruction(samples.instructions[0]!, config.textDim);
  const start = vectors.get(points[0]!)!;
  const goal = vectors.get(points[points.length - 1]!)!;
  const run = async (order: number[], initial: number): Promise<number> => {
    const feeds = {
      v_before: new Float32Array(batch * 3 * d),
      v_after: new Float32Array(batch * 3 * d),
      v_start: new Float32Array(batch * d),
      v_goal: new Float32Array(batch * d),
      instruction: new Float32Array(batch * config.textDim),
    };
    for (let s = 0; s < steps; s++) {
      const previous = vectors.get(order[s]!)!;
      const current = vectors.get(order[s + 1]!)!;
      [previous, start, goal].forEach((before, p) => {
        const row = 3 * s + p;
        feeds.v_before.set(before, row * 3 * d);
        feeds.v_after.set(current, row * 3 * d);
        feeds.v_start.set(start.subarray(0, d), row * d);
        feeds.v_goal.set(goal.subarray(0, d), row * d);
        feeds.instruction.set(text, row * config.textDim);
      });
    }
    const { hop } = await predictor.run(feeds);
    const fusion = new ProgressFusion({ initial });
    const curve = [initial];
    for (let s = 0; s < steps; s++) curve.push(fusion.step({ incremental: hop![3 * s]!, fromStart: hop![3 * s + 1]!, fromGoal: hop![3 * s + 2]! }).progress);
    if (initial === 1) curve.reverse();
    const value = voc(curve);
    return Number.isNaN(value) ? 0 : value;
  };
  try {
    return { forward: await run(points, 0), reversed: await run([...points].reverse(), 1) };
  } finally {
    await predictor.dispose();
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export async function adaptGrmTiny(episode: Episode, options: AdaptOptions): Promise<AdaptReport> {
  const started = performance.now();
  const log = options.logger;
  mkdirSync(dirname(options.out) || '.', { recursive: true });
  const { store, config } = loadGrmTiny(options.base);
  const preprocessor = new Preprocessor({ width: config.width, height: config.height, crops: options.crops });
  const seed = options.seed ?? 1;
  const samples = await collectEpisode(episode, 'demo', preprocessor, { sampleFactor: options.sampleFactor, pairs: options.pairs ?? 1000, seed });
  log?.info(`${episode.name}: ${samples.points.length} label points, ${samples.pairs.length} pairs, ${samples.frames.size} frames decoded`);
  const vectors = await encodeFrames(store, config, samples.frames, preprocessor);
  // The demo itself is variant 0; the others re-colour (and mirror) all of its frames alike.
  const variantRng = createRng(seed + 7919);
  const variantCount = options.variants ?? 4;
  const variants = [vectors];
  for (const variant of drawVariants(variantCount, variantRng)) {
    const frames = new Map<number, FrameViews>();
    for (const [id, views] of samples.frames) frames.set(id, await variantViews(views, config.width, config.height, variant));
    variants.push(await encodeFrames(store, config, frames, preprocessor));
  }
  const before = await demoVoc(store, config, samples, vectors);
  log?.info(`before adaptation: demo VOC forward ${before.forward.toFixed(3)}, reversed ${before.reversed.toFixed(3)}`);

  const batch = options.batch ?? 32;
  const steps = options.steps ?? 300;
  const lr = options.lr ?? 1e-3;
  const d = config.dim;
  const trainer = await Trainer.create({
    store,
    name: 'grm-tiny adapt',
    executionProvider: 'cpu',
    optimizer: { kind: 'adamw', lr, weightDecay: 1e-4, clipNorm: 1 },
    trainable: isAdaptedParam,
    build: (graph) => {
      const inputs = headInputs(graph, batch, config);
      const target = graph.input('target', [batch, config.bins]);
      const targetHop = graph.input('target_hop', [batch]);
      const targetBefore = graph.input('target_before', [batch]);
      const targetAfter = graph.input('target_after', [batch]);
      const out = headFromVectors(inputs, config);
      const progressLoss = mse(out.progress_before, targetBefore).add(mse(out.progress_after, targetAfter));
      return { loss: crossEntropyBins(out.hop_logits, target).add(mse(out.hop, targetHop)).add(progressLoss) };
    },
  });
  const feeds = {
    v_before: new Float32Array(batch * 3 * d),
    v_after: new Float32Array(batch * 3 * d),
    v_start: new Float32Array(batch * d),
    v_goal: new Float32Array(batch * d),
    instruction: new Float32Array(batch * config.textDim),
    target: new Float32Array(batch * config.bins),
    target_hop: new Float32Array(batch),
    target_before: new Float32Array(batch),
    target_after: new Float32Array(batch),
  };
  const rng = createRng(seed);
  const bins = hopBins(config);
  const firstPoint = samples.points[0]!;
  const goal = vectors.get(samples.points[samples.points.length - 1]!)!;
  const texts = new Map(samples.instructions.map((s) => [s, encodeInstruction(s, config.textDim)]));
  // View dropout on vectors: a wrist view replaced by the front view, as when a camera is missing.
  const putViews = (buffer: Float32Array, row: number, views: Float32Array): void => {
    buffer.set(views, row * 3 * d);
    for (const v of [1, 2]) if (rng.next() < 0.15) buffer.set(views.subarray(0, d), (row * 3 + v) * d);
  };
  let lastLoss = NaN;
  try {
    for (let step = 0; step < steps; step++) {
      for (let k = 0; k < batch; k++) {
        const pair = samples.pairs[rng.int(samples.pairs.length)]!;
        // An episode that looks like variant v is judged against its own START and, as in use,
        // against the demo's GOAL (half the time its own, so the demo itself stays exact).
        const variant = variants[rng.int(variants.length)]!;
        putViews(feeds.v_before, k, variant.get(pair.before)!);
        putViews(feeds.v_after, k, variant.get(pair.after)!);
        feeds.v_start.set(variant.get(firstPoint)!.subarray(0, d), k * d);
        feeds.v_goal.set((rng.next() < 0.5 ? goal : variant.get(samples.points[samples.points.length - 1]!)!).subarray(0, d), k * d);
        feeds.instruction.set(texts.get(pair.instruction)!, k * config.textDim);
        feeds.target.set(twoHot(pair.hop, bins), k * config.bins);
        feeds.target_hop[k] = pair.hop;
        feeds.target_before[k] = labelProgress(samples, pair.before);
        feeds.target_after[k] = labelProgress(samples, pair.after);
      }
      const warm = Math.max(1, Math.round(0.03 * steps));
      const rate = step < warm ? (lr * (step + 1)) / warm : lr * 0.5 * (1 + Math.cos((Math.PI * (step - warm)) / Math.max(1, steps - warm)));
      lastLoss = (await trainer.run(feeds, { lr: rate })).loss;
      if ((step + 1) % 100 === 0) log?.info(`adapt step ${step + 1}/${steps}: loss ${lastLoss.toFixed(4)}`);
    }
  } finally {
    await trainer.dispose();
  }
  const after = await demoVoc(store, config, samples, vectors);
  log?.info(`after adaptation: demo VOC forward ${after.forward.toFixed(3)}, reversed ${after.reversed.toFixed(3)} (final loss ${lastLoss.toFixed(4)})`);
  const trainedParameters = store.names().filter(isAdaptedParam).reduce((n, name) => n + store.get(name).data.length, 0);
  if (!(after.forward >= options.minVoc && after.reversed >= options.minVoc)) {
    throw new InputError(
      '--min-voc',
      `expected demo VOC >= ${options.minVoc} forward and reversed after adaptation, got forward ${round3(after.forward)} and reversed ${round3(after.reversed)} (before adaptation: ${round3(before.forward)} / ${round3(before.reversed)}); ${options.out} was not written`,
    );
  }

  const description = `GRM-tiny adapted on ${episode.name} (${samples.pairs.length} pairs, ${steps} steps); demo VOC forward ${round3(after.forward)}, reversed ${round3(after.reversed)}`;
  writeFileAtomic(options.out, exportGrmTiny(store, config, 3, { [META_DESCRIPTION]: description }));
  const first = samples.points[0]!;
  const last = samples.points[samples.points.length - 1]!;
  const views = async (frame: number): Promise<Record<CameraRole, RgbImage>> => {
    const images = await Promise.all(CAMERA_ROLES.map((role) => episode.frame(role, frame)));
    return { front: images[0]!, left_wrist: images[1]!, right_wrist: images[2]! };
  };
  const report: Omit<AdaptReport, 'references' | 'seconds'> = {
    base: options.base,
    out: options.out,
    demo: episode.name,
    pairs: samples.pairs.length,
    variants: variantCount,
    labelPoints: samples.points.length,
    steps,
    trained: ['fuse.* (view fusion)', 'text.* (instruction projection)', 'head.* (hop head)'],
    trainedParameters,
    before: { forward: round3(before.forward), reversed: round3(before.reversed) },
    after: { forward: round3(after.forward), reversed: round3(after.reversed) },
    minVoc: options.minVoc,
  };
  const references = await writeReferences(
    options.out,
    { instructions: [...episode.instructions], source: episode.name, startFrame: first, goalFrame: last, roles: [...episode.roles], adaptation: report },
    await views(first),
    await views(last),
  );
  return { ...report, references, seconds: Math.round((performance.now() - started) / 100) / 10 };
}
