/**
 * Training GRM-tiny on sampled pairs with the engine: loss = cross-entropy over the hop bins
 * (two-hot targets) + `mseWeight` * squared error of the expected hop. Adam(W) with warm-up and
 * a cosine decay; seeded, so the same data and seed give the same weights.
 */
import type { Logger } from '../../common/log.js';
import type { ParamStore } from '../../engine/index.js';
import { crossEntropyBins, mse, Trainer } from '../../engine/index.js';
import type { Preprocessor } from '../../perception/preprocess.js';
import { createRng } from '../rng.js';
import type { Augmentation, EpisodeSamples } from './dataset.js';
import { drawExample, episodesByTask, PairBatch } from './dataset.js';
import type { GrmTinyConfig } from './model.js';
import { contractInputs, grmFromInputs, LOCATION_SIZE } from './model.js';

export interface TrainOptions {
  steps: number;
  batch: number;
  lr: number;
  /** Share of the steps spent warming the learning rate up (reference: 0.03). */
  warmup?: number;
  mseWeight?: number;
  /** Weight of the squared error of the head's BEFORE and AFTER state progress against their labels (default 1). */
  progressWeight?: number;
  /** Weight of the auxiliary location loss (model.ts locationHead; default 0: no location head). */
  locationWeight?: number;
  /** Unit of the location targets: dm (key bodies relative to the hand; reported in cm, the default) or image ([-1, 1] image frame). */
  locationUnit?: 'dm' | 'image';
  weightDecay?: number;
  seed: number;
  augmentation: Augmentation;
  logger?: Logger;
  /** Log every this many steps (default: 10 lines per run). */
  logEvery?: number;
  threads?: number;
}

export interface TrainReport {
  steps: number;
  seconds: number;
  /** Mean loss of the first and last 10% of the steps. */
  firstLoss: number;
  lastLoss: number;
  /** With a location weight and dm targets: RMSE of the location head on the training batches of the first and last 10% of the steps, cm. */
  locationRmseCm?: { first: number; last: number };
  /** With a location weight and image targets: the same RMSE in the [-1, 1] image frame. */
  locationRmseImage?: { first: number; last: number };
}

export function learningRate(step: number, steps: number, lr: number, warmup: number): number {
  const warm = Math.max(1, Math.round(warmup * steps));
  if (step < warm) return (lr * (step + 1)) / warm;
  const t = (step - warm) / Math.max(1, steps - warm);
  return lr * 0.5 * (1 + Math.cos(Math.PI * t));
}

export async function trainGrmTiny(
  store: ParamStore,
  config: GrmTinyConfig,
  episodes: readonly EpisodeSamples[],
  preprocessor: Preprocessor,
  options: TrainOptions,
): Promise<TrainReport> {
  if (episodes.length === 0) throw new RangeError('training: expected at least one episode');
  const mseWeight = options.mseWeight ?? 1;
  const progressWeight = options.progressWeight ?? 1;
  const locationWeight = options.locationWeight ?? 0;
  if (!(locationWeight >= 0)) throw new RangeError(`location weight: expected >= 0, got ${locationWeight}`);
  const withLocations = locationWeight > 0;
  const imageUnits = options.locationUnit === 'image';
  if (withLocations && !episodes.some((e) => e.locations)) throw new RangeError('location weight > 0: expected episodes with location targets (simulator episodes)');
  const trainer = await Trainer.create({
    store,
    name: 'grm-tiny',
    executionProvider: 'cpu',
    threads: options.threads ?? 0,
    optimizer: { kind: 'adamw', lr: options.lr, weightDecay: options.weightDecay ?? 1e-4, clipNorm: 1 },
    build: (graph) => {
      const inputs = contractInputs(graph, options.batch, config);
      const target = graph.input('target', [options.batch, config.bins]);
      const targetHop = graph.input('target_hop', [options.batch]);
      const targetBefore = graph.input('target_before', [options.batch]);
      const targetAfter = graph.input('target_after', [options.batch]);
      const out = grmFromInputs(inputs, config, { withLocations });
      // The hop is a function of two state progress values; supervising those directly as well
      // gives the head two exact targets per pair instead of one ambiguous ratio.
      const progressLoss = mse(out.progress_before, targetBefore).add(mse(out.progress_after, targetAfter));
      const loss = crossEntropyBins(out.hop_logits, target).add(mse(out.hop, targetHop).mul(mseWeight)).add(progressLoss.mul(progressWeight));
      if (withLocations) {
        const targetLocation = graph.input('target_location', [options.batch, 6, LOCATION_SIZE]);
        const mask = graph.input('location_mask', [options.batch, 6]);
        // Squared error per view, averaged over the views that have a target.
        const perView = out.locations!.sub(targetLocation).square().mean([2]);
        const locationMse = perView.mul(mask).sum().div(mask.sum().add(1e-6));
        return { loss: loss.add(locationMse.mul(locationWeight)), outputs: { location_mse: locationMse } };
      }
      return { loss };
    },
  });
  const batch = new PairBatch(config, options.batch, preprocessor, { locations: withLocations });
  const rng = createRng(options.seed);
  const byTask = episodesByTask(episodes);
  const losses: number[] = [];
  const locationMse: number[] = [];
  const logEvery = options.logEvery ?? Math.max(1, Math.round(options.steps / 10));
  const started = performance.now();
  try {
    for (let step = 0; step < options.steps; step++) {
      for (let k = 0; k < options.batch; k++) batch.set(k, drawExample(episodes, rng.int(episodes.length), rng, options.augmentation, byTask));
      const lr = learningRate(step, options.steps, options.lr, options.warmup ?? 0.03);
      const result = await trainer.run(batch.feeds(), { lr });
      losses.push(result.loss);
      if (withLocations) locationMse.push(result.outputs.location_mse![0]!);
      if ((step + 1) % logEvery === 0 || step + 1 === options.steps) {
        const recent = losses.slice(-logEvery);
        const seconds = (performance.now() - started) / 1000;
        const rmse = rootMean(locationMse.slice(-logEvery));
        const location = !withLocations ? '' : imageUnits ? `, location RMSE ${rmse.toFixed(3)} (image frame)` : `, location RMSE ${(10 * rmse).toFixed(1)} cm`;
        options.logger?.info(`step ${step + 1}/${options.steps}: loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}${location}, lr ${lr.toExponential(2)}, ${seconds.toFixed(0)} s`);
      }
    }
  } finally {
    await trainer.dispose();
  }
  const tenth = Math.max(1, Math.round(losses.length / 10));
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  const report: TrainReport = {
    steps: options.steps,
    seconds: (performance.now() - started) / 1000,
    firstLoss: mean(losses.slice(0, tenth)),
    lastLoss: mean(losses.slice(-tenth)),
  };
  if (withLocations) {
    const [first, last] = [rootMean(locationMse.slice(0, tenth)), rootMean(locationMse.slice(-tenth))];
    // dm targets (sim-data.ts) are reported in cm
    if (imageUnits) report.locationRmseImage = { first, last };
    else report.locationRmseCm = { first: 10 * first, last: 10 * last };
  }
  return report;
}

/** The root of the mean of squared errors. */
function rootMean(mse: readonly number[]): number {
  return Math.sqrt(mse.reduce((a, b) => a + b, 0) / Math.max(1, mse.length));
}
