/**
 * Pretraining GRM-tiny in simulation: scripted-expert episodes of every simulator task except the
 * held-out one, step-wise labels from the expert's phases, pairs from the reference sampler, view
 * dropout and reference swapping; then a check on unseen episodes of the same tasks. Seeded end to
 * end, so `dopamine grm pretrain` with the same options reproduces models/grm-tiny.onnx (up to
 * floating-point differences between CPUs).
 */
import os from 'node:os';
import type { Logger } from '../../common/log.js';
import type { Config } from '../../config/schema.js';
import { writeFileAtomic } from '../../engine/index.js';
import { Preprocessor } from '../../perception/preprocess.js';
import { SIM_TASKS } from '../../robot/sim/tasks.js';
import { META_DESCRIPTION } from '../grm-contract.js';
import { OnnxRewardModel } from '../onnx-backend.js';
import type { EpisodeSamples } from './dataset.js';
import { collectEpisode, PRETRAIN_AUGMENTATION } from './dataset.js';
import { evaluateEpisodes, type EpisodeFigures } from './figures.js';
import { createGrmTinyStore, exportGrmTiny } from './io.js';
import type { GrmTinyConfig } from './model.js';
import { GRM_TINY_CONFIG } from './model.js';
import { simEpisodes, type LocationTarget, type SimEpisode } from './sim-data.js';
import { trainGrmTiny } from './train.js';

export interface PretrainOptions {
  config: Config;
  out: string;
  model?: GrmTinyConfig;
  /** Successful expert episodes wanted per training task. */
  episodesPerTask: number;
  /** Unseen episodes per training task kept for the check after training. */
  validationPerTask: number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  sampleFactor: number;
  pairsPerEpisode: number;
  /** Weight of the auxiliary location loss (train.ts; 0: none). */
  locationWeight?: number;
  /** What the location loss asks for: the key bodies relative to the hand (default) or where they appear in each view (sim-data.ts). */
  locationTarget?: LocationTarget;
  /** onnxruntime intra-op threads of training (0: its default). */
  threads?: number;
  /** Only these tasks (default: every task not marked held-out). */
  tasks?: string[];
  logger?: Logger;
}

export interface PretrainReport {
  out: string;
  tasks: string[];
  heldOut: string[];
  episodes: { train: number; validation: number; rejectedFailures: number };
  pairs: number;
  labelPoints: number;
  steps: number;
  batch: number;
  lr: number;
  seed: number;
  locationWeight: number;
  /** With a location weight: what the location target was. */
  locationTarget?: LocationTarget;
  parameters: number;
  bytes: number;
  seconds: { simulate: number; train: number; total: number };
  loss: { first: number; last: number };
  /** With a location weight: the location head's RMSE on training batches (first and last 10% of steps), cm. */
  locationRmseCm?: { first: number; last: number };
  /** With image location targets: that RMSE in the [-1, 1] image frame. */
  locationRmseImage?: { first: number; last: number };
  validation: EpisodeFigures;
  machine: { cpu: string; cores: number; node: string; date: string };
}

/** Expert noise of the i-th episode: a spread of clean and shaky demos. */
export const pretrainNoise = (i: number): number => [0, 0.1, 0.2, 0.3][i % 4]!;

export async function pretrainGrmTiny(options: PretrainOptions): Promise<PretrainReport> {
  const started = performance.now();
  const log = options.logger;
  const model = options.model ?? GRM_TINY_CONFIG;
  const tasks = options.tasks ?? SIM_TASKS.filter((t) => !t.heldOut).map((t) => t.name);
  const preprocessor = new Preprocessor({ width: model.width, height: model.height });
  const train: EpisodeSamples[] = [];
  const validation: SimEpisode[] = [];
  let rejected = 0;
  for (const [t, task] of tasks.entries()) {
    const wanted = options.episodesPerTask + options.validationPerTask;
    let kept = 0;
    // Seeds of task t start at seed + 100000 t; failures (the expert's noise can make it miss)
    // have no valid step-wise labels and are skipped.
    for await (const sim of simEpisodes({ config: options.config, task, count: 3 * wanted, seed: options.seed + 100_000 * t, noise: pretrainNoise, locationTarget: options.locationTarget ?? 'hand' })) {
      if (!sim.success) {
        rejected++;
        continue;
      }
      if (kept < options.episodesPerTask) {
        train.push(await collectEpisode(sim.episode, task, preprocessor, { sampleFactor: options.sampleFactor, pairs: options.pairsPerEpisode, seed: options.seed + sim.seed, locations: sim.locations }));
      } else {
        validation.push(sim);
      }
      kept++;
      if (kept >= wanted) break;
    }
    log?.info(`${task}: ${Math.min(kept, options.episodesPerTask)} training and ${Math.max(0, kept - options.episodesPerTask)} validation episodes`);
  }
  const simulated = performance.now();
  const store = createGrmTinyStore(model, options.seed);
  log?.info(`training GRM-tiny (${store.count()} parameters) on ${train.length} episodes, ${train.reduce((n, e) => n + e.pairs.length, 0)} pairs`);
  const report = await trainGrmTiny(store, model, train, preprocessor, {
    steps: options.steps,
    batch: options.batch,
    lr: options.lr,
    seed: options.seed,
    augmentation: PRETRAIN_AUGMENTATION,
    locationWeight: options.locationWeight ?? 0,
    locationUnit: options.locationTarget === 'image' ? 'image' : 'dm',
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    logger: log,
  });
  const trained = performance.now();
  const description = `GRM-tiny pretrained on ${train.length} simulator episodes of ${tasks.join(', ')} (${options.steps} steps, batch ${options.batch}, seed ${options.seed})`;
  const bytes = exportGrmTiny(store, model, 3, { [META_DESCRIPTION]: description });
  writeFileAtomic(options.out, bytes);

  const onnx = await OnnxRewardModel.load(options.out, { executionProvider: 'cpu', logger: log });
  let figures: EpisodeFigures;
  try {
    figures = await evaluateEpisodes(onnx, validation.map((v) => v.episode), { sampleFactor: options.sampleFactor, preprocessor });
  } finally {
    await onnx.close();
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  return {
    out: options.out,
    tasks,
    heldOut: SIM_TASKS.filter((t) => t.heldOut).map((t) => t.name),
    episodes: { train: train.length, validation: validation.length, rejectedFailures: rejected },
    pairs: train.reduce((n, e) => n + e.pairs.length, 0),
    labelPoints: train.reduce((n, e) => n + e.points.length, 0),
    steps: options.steps,
    batch: options.batch,
    lr: options.lr,
    seed: options.seed,
    locationWeight: options.locationWeight ?? 0,
    ...((options.locationWeight ?? 0) > 0 ? { locationTarget: options.locationTarget ?? 'hand' } : {}),
    // The exported model's parameters (the auxiliary location head is training-only).
    parameters: store.names().filter((n) => !n.startsWith('aux.')).reduce((total, n) => total + store.get(n).data.length, 0),
    bytes: bytes.length,
    seconds: {
      simulate: Math.round((simulated - started) / 1000),
      train: Math.round((trained - simulated) / 1000),
      total: Math.round((performance.now() - started) / 1000),
    },
    loss: { first: report.firstLoss, last: report.lastLoss },
    ...(report.locationRmseCm ? { locationRmseCm: report.locationRmseCm } : {}),
    ...(report.locationRmseImage ? { locationRmseImage: report.locationRmseImage } : {}),
    validation: figures,
    machine: { cpu, cores: os.cpus().length, node: process.version, date: new Date().toISOString() },
  };
}
