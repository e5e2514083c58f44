/**
 * The engine's graphs on each execution provider this machine has, side by side in one run, with
 * the CPU as the peer: time per call and agreement with the CPU's numbers. Writes
 * bench/results/providers.json (or providers-<suffix>.json with --suffix).
 *
 *   sac-update-b256:   one SAC learner update (critics, actor, temperature, Polyak) at batch 256,
 *                      observation 437 (the headline run's), hidden 256-256: the learner's step
 *   grm-tiny-score:    the shipped GRM-tiny reward model scoring one batch of hop queries
 *                      (random preprocessed images): the reward model's step
 *   grm-tiny-train-b32: one GRM-tiny training step (hop-bin cross-entropy + hop squared error,
 *                      AdamW) at batch 32 pairs (8 images each): pretraining's and one-shot
 *                      adaptation's step
 *
 * Providers: cpu always; cuda and webgpu when they can create a session here (probed, each
 * failure's reason recorded). Agreement: the same initial weights and the same batch on every
 * provider; after --agreement-updates updates the largest weight difference from the CPU run, and
 * the largest difference of the scored hops.
 *
 *   npm run bench:providers -- [--suffix NAME] [--runs N] [--agreement-updates N] [--out DIR]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSession, ort, resolveExecutionProvider, type ExecutionProvider } from '../engine/runtime.js';
import { crossEntropyBins, mse, ParamStore, Trainer } from '../engine/index.js';
import { readContract } from '../reward/grm-contract.js';
import { contractInputs, GRM_TINY_CONFIG, grmFromInputs, imageFloats } from '../reward/grm-tiny/model.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { allocateBatch, ReplayBuffer, type Batch } from '../policy/replay.js';
import { Rng } from '../policy/rng.js';
import { SacLearner } from '../policy/sac.js';
import { numberFlag, textFlag } from './lib/flags.js';
import type { Stats } from './lib/timing.js';
import { time } from './lib/timing.js';

const suffix = textFlag('--suffix');
const runs = numberFlag('--runs') ?? 50;
const agreementUpdates = numberFlag('--agreement-updates') ?? 20;
if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs: expected a whole number from 1, got ${runs}`);
if (!(Number.isInteger(agreementUpdates) && agreementUpdates >= 1)) throw new Error(`--agreement-updates: expected a whole number from 1, got ${agreementUpdates}`);
const OBSERVATION = 437;
const HIDDEN = [256, 256];
const BATCH = 256;

// ---------- providers ----------
async function available(): Promise<{ providers: ExecutionProvider[]; unavailable: Record<string, string> }> {
  const providers: ExecutionProvider[] = ['cpu'];
  const unavailable: Record<string, string> = {};
  for (const p of ['cuda', 'webgpu'] as const) {
    try {
      await resolveExecutionProvider(p);
      providers.push(p);
    } catch (error) {
      unavailable[p] = (error as Error).message;
    }
  }
  return { providers, unavailable };
}

// ---------- SAC update ----------
function filledBatch(): { batch: Batch; buffer: ReplayBuffer; rng: Rng } {
  const rng = new Rng(1);
  const buffer = new ReplayBuffer('bench', 4096, OBSERVATION, 5);
  for (let i = 0; i < 4096; i++) {
    const o = Float32Array.from({ length: OBSERVATION }, () => rng.normal());
    buffer.add({ observation: o, action: Float32Array.from({ length: 5 }, () => rng.next() * 2 - 1), reward: rng.next(), nextObservation: o, terminal: false });
  }
  return { batch: allocateBatch(BATCH, OBSERVATION, 5), buffer, rng };
}

function learner(provider: ExecutionProvider): Promise<SacLearner> {
  return SacLearner.create({
    observationSize: OBSERVATION, actionSize: 5, hidden: HIDDEN, batchSize: BATCH, learningRate: 3e-4, gamma: 0.99, tau: 0.005, initialAlpha: 0.01,
    rewardScale: 1, bcWeight: 10, normaliseQ: true, qFilter: true, gripperLogitLimit: 5, seed: 1, executionProvider: provider,
  });
}

/** Weights after `agreementUpdates` updates from the same start on the same batches. */
async function sacWeights(provider: ExecutionProvider): Promise<{ weights: Map<string, Float32Array>; criticLoss: number }> {
  const sac = await learner(provider);
  const { batch, buffer, rng } = filledBatch();
  let criticLoss = 0;
  for (let i = 0; i < agreementUpdates; i++) {
    buffer.sampleInto(batch, 0, BATCH, rng);
    criticLoss = (await sac.update(batch, rng)).criticLoss;
  }
  const weights = new Map(sac.store.names().map((n) => [n, Float32Array.from(sac.store.get(n).data)]));
  await sac.dispose();
  return { weights, criticLoss };
}

async function sacTiming(provider: ExecutionProvider): Promise<Stats> {
  const sac = await learner(provider);
  const { batch, buffer, rng } = filledBatch();
  const result = await time(10, runs, async () => {
    buffer.sampleInto(batch, 0, BATCH, rng);
    await sac.update(batch, rng);
  });
  await sac.dispose();
  return result;
}

// ---------- GRM-tiny scoring ----------
function grmFeeds(): { feeds: Record<string, ort.Tensor>; batch: number } {
  const contract = readContract(readFileSync(DEFAULT_GRM_TINY), DEFAULT_GRM_TINY);
  const { batch: n, width, height, textDim } = contract;
  const rng = new Rng(2);
  const filled = (size: number): Float32Array => Float32Array.from({ length: size }, () => rng.next() * 2 - 1);
  const image = 3 * height * width;
  return {
    batch: n,
    feeds: {
      start: new ort.Tensor('float32', filled(n * image), [n, 3, height, width]),
      goal: new ort.Tensor('float32', filled(n * image), [n, 3, height, width]),
      before: new ort.Tensor('float32', filled(n * 3 * image), [n, 3, 3, height, width]),
      after: new ort.Tensor('float32', filled(n * 3 * image), [n, 3, 3, height, width]),
      instruction: new ort.Tensor('float32', filled(n * textDim), [n, textDim]),
    },
  };
}

async function grmScore(provider: ExecutionProvider): Promise<{ timing: Stats; hops: Float32Array; batch: number }> {
  const session = await createSession(readFileSync(DEFAULT_GRM_TINY), { executionProvider: provider });
  const { feeds, batch } = grmFeeds();
  const hops = Float32Array.from((await session.run(feeds)).hop!.data as Float32Array);
  const timing = await time(5, runs, () => session.run(feeds));
  await session.release();
  return { timing, hops, batch };
}

const TRAIN_BATCH = 32;

async function grmTrainer(provider: ExecutionProvider): Promise<Trainer> {
  const config = GRM_TINY_CONFIG;
  return Trainer.create({
    store: new ParamStore({ seed: 3 }), name: 'grm-tiny-bench', executionProvider: provider,
    optimizer: { kind: 'adamw', lr: 1e-3, weightDecay: 1e-4, clipNorm: 1 },
    build: (graph) => {
      const out = grmFromInputs(contractInputs(graph, TRAIN_BATCH, config), config);
      const target = graph.input('target', [TRAIN_BATCH, config.bins]);
      const targetHop = graph.input('target_hop', [TRAIN_BATCH]);
      return { loss: crossEntropyBins(out.hop_logits, target).add(mse(out.hop, targetHop)) };
    },
  });
}

function grmTrainFeeds(): Record<string, Float32Array> {
  const config = GRM_TINY_CONFIG;
  const rng = new Rng(4);
  const filled = (size: number): Float32Array => Float32Array.from({ length: size }, () => rng.next() * 2 - 1);
  const image = imageFloats(config);
  const target = new Float32Array(TRAIN_BATCH * config.bins);
  for (let k = 0; k < TRAIN_BATCH; k++) target[k * config.bins + rng.int(config.bins)] = 1;
  return {
    start: filled(TRAIN_BATCH * image), goal: filled(TRAIN_BATCH * image), before: filled(TRAIN_BATCH * 3 * image), after: filled(TRAIN_BATCH * 3 * image),
    instruction: filled(TRAIN_BATCH * config.textDim), target, target_hop: filled(TRAIN_BATCH),
  };
}

/** Losses of `agreementUpdates` steps on the same batch, then the time per step. */
async function grmTrain(provider: ExecutionProvider): Promise<{ timing: Stats; losses: Float32Array }> {
  const trainer = await grmTrainer(provider);
  const feeds = grmTrainFeeds();
  const losses = new Float32Array(agreementUpdates);
  for (let i = 0; i < agreementUpdates; i++) losses[i] = (await trainer.run(feeds)).loss;
  const timing = await time(3, Math.min(runs, 30), () => trainer.run(feeds));
  await trainer.dispose();
  return { timing, losses };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function gpuName(): string | undefined {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

// ---------- run ----------
const loadBefore = loadavg();
const { providers, unavailable } = await available();
console.log(`providers: ${providers.join(', ')}${Object.keys(unavailable).length ? `; unavailable: ${Object.entries(unavailable).map(([p, why]) => `${p} (${why.slice(0, 160)})`).join('; ')}` : ''}`);

const cpuWeights = await sacWeights('cpu');
const cpuScore = await grmScore('cpu');
const cpuTrain = await grmTrain('cpu');
const cases: Record<string, unknown>[] = [];
for (const provider of providers) {
  const weights = provider === 'cpu' ? cpuWeights : await sacWeights(provider);
  let weightDiff = 0;
  for (const [name, values] of cpuWeights.weights) weightDiff = Math.max(weightDiff, maxDiff(values, weights.weights.get(name)!));
  const update = await sacTiming(provider);
  const score = provider === 'cpu' ? cpuScore : await grmScore(provider);
  const train = provider === 'cpu' ? cpuTrain : await grmTrain(provider);
  const entry = {
    provider,
    'sac-update-b256': { ms: update, weightMaxDiffFromCpu: weightDiff, criticLossAfter: weights.criticLoss, criticLossCpu: cpuWeights.criticLoss },
    'grm-tiny-score': { batch: score.batch, ms: score.timing, hopMaxDiffFromCpu: maxDiff(score.hops, cpuScore.hops) },
    'grm-tiny-train-b32': { ms: train.timing, lossMaxDiffFromCpu: maxDiff(train.losses, cpuTrain.losses), lastLoss: train.losses[agreementUpdates - 1], lastLossCpu: cpuTrain.losses[agreementUpdates - 1] },
  };
  cases.push(entry);
  console.log(`${provider}: SAC update b256 ${update.median.toFixed(2)} ms (weights after ${agreementUpdates} updates differ from cpu by <= ${weightDiff.toExponential(2)}); GRM-tiny score b${score.batch} ${score.timing.median.toFixed(2)} ms (hops differ by <= ${maxDiff(score.hops, cpuScore.hops).toExponential(2)}); GRM-tiny train b32 ${train.timing.median.toFixed(2)} ms (losses differ by <= ${maxDiff(train.losses, cpuTrain.losses).toExponential(2)})`);
}

const result = {
  machine: {
    cpu: cpus()[0]?.model.trim(), cores: cpus().length, node: process.version, date: new Date().toISOString(), loadavg_before: loadBefore, loadavg_after: loadavg(),
    onnxruntime_node: ort.env.versions.common, gpu: gpuName() ?? 'none found (nvidia-smi)',
  },
  note: `Each provider runs the same graphs; ms are medians of ${runs} calls after warm-up, host-to-device copies included (the engine feeds and fetches host arrays). Agreement: ${agreementUpdates} SAC updates from the same weights on the same batches, then the largest weight difference from the CPU run; GRM-tiny hops scored on the same random inputs; ${agreementUpdates} GRM-tiny training steps on one random batch, the largest loss difference.`,
  sac: { observationSize: OBSERVATION, hidden: HIDDEN, batch: BATCH, agreementUpdates },
  providers, unavailable, cases,
};
const outDir = textFlag('--out') ?? join(dirname(fileURLToPath(import.meta.url)), 'results');
const out = join(outDir, `providers${suffix ? `-${suffix}` : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
console.log(`wrote ${out}`);
