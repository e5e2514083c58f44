/**
 * `npm run bench:grm`: cost of the reward model per control step on this CPU.
 *
 * - fused step: one new state of three raw 640x480 RGB views -> preprocessing (sharp resize to
 *   the model size) -> the three perspectives (incremental, forward, backward) as one batch of
 *   the shipped GRM-tiny (batch 3, each row 8 images) -> fused progress. The previous state, the
 *   start and the goal are already preprocessed (as in the RL loop).
 * - batched scoring: a recorded episode's hops computed in batches of 24 queries (8 steps) by a
 *   batch-24 export of the same weights, then fused; steps per second.
 * - peer in the same run: the plain pixel-distance progress (distance ratio to start and goal on
 *   the front view at model size), the baseline the issue compares against. The published GRM-3B
 *   (vLLM) cannot run here; the paper reports no latency for it.
 * - second peer in the same run (issue 31): the demo-alignment step, one new state of the same
 *   three raw views -> the frozen GRM-tiny encoder's features (preprocessing included, as in the
 *   fused step) -> one column of the open-end DTW against a demo of DEMO_POINTS states.
 *
 * BENCH_NOTE (environment) is written to the JSON's note, e.g. who else loaded the machine.
 * Flags: --provider cpu|cuda|webgpu (default cpu: the committed figures) runs both GRM-tiny
 * sessions on that execution provider; --out <file> writes the JSON there instead of
 * bench/results/grm.json (scripts/gpu-check.sh runs it on every provider that starts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import type { RawImage, ViewSet } from '../perception/images.js';
import { Preprocessor } from '../perception/preprocess.js';
import { DemoAlignment } from '../reward/alignment.js';
import { grmTinyAlignmentFeatures } from '../reward/alignment-features.js';
import { ProgressFusion } from '../reward/fusion.js';
import { exportGrmTiny, loadGrmTiny } from '../reward/grm-tiny/io.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { fusedStepQueries, predictFusedStep, type TaskReferences } from '../reward/model.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';

const WIDTH = 640;
const HEIGHT = 480;
const quiet = createLogger('bench', 'warn');

/** A 640x480 frame with a moving square, so every frame differs. */
function frame(t: number, view: number): RawImage {
  const rgb = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = 90 + view * 20;
    rgb[i + 1] = 110;
    rgb[i + 2] = 80;
  }
  const cx = 80 + ((t * 7) % 480);
  for (let y = 200; y < 260; y++) for (let x = cx; x < cx + 60; x++) rgb.set([220, 40, 40], (y * WIDTH + x) * 3);
  return { width: WIDTH, height: HEIGHT, rgb };
}
const state = (t: number): ViewSet => ({ front: frame(t, 0), left_wrist: frame(t + 1, 1), right_wrist: frame(t + 2, 2) });

function stats(samples: number[]): { mean: number; median: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const round = (x: number): number => Math.round(x * 100) / 100;
  return { mean: round(samples.reduce((a, b) => a + b, 0) / samples.length), median: round(at(0.5)), p95: round(at(0.95)) };
}

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
const provider = flag('--provider') ?? 'cpu';
if (!['cpu', 'cuda', 'webgpu'].includes(provider)) {
  console.error(`--provider: expected cpu, cuda or webgpu, got ${JSON.stringify(provider)}`);
  process.exit(2);
}
const executionProvider = provider as 'cpu' | 'cuda' | 'webgpu';
const outFile = flag('--out') ?? new URL('./results/grm.json', import.meta.url);

const loadBefore = os.loadavg().map((x) => Math.round(x * 100) / 100);
const STEPS = 60;
/** Demo states aligned against: as many as grm eval aligns to on pick-place (the 64-frame demo's step-wise label points at sample factor 2). */
const DEMO_POINTS = 29;
const frames = Array.from({ length: STEPS + 1 }, (_, t) => state(t));
const task: TaskReferences = { instruction: 'push the red block to the right', start: state(1000), goal: state(2000) };

// Fused step, batch-3 model (one step per run).
const model = await OnnxRewardModel.load(DEFAULT_GRM_TINY, { executionProvider, logger: quiet });
const fusion = new ProgressFusion();
await predictFusedStep(model, task, frames[0]!, frames[1]!); // warm-up: session, references
const fused: number[] = [];
const preprocessOnly: number[] = [];
const preprocessor = new Preprocessor({ width: model.contract.width, height: model.contract.height });
const scratch = new Float32Array(3 * preprocessor.imageFloats);
for (let t = 1; t <= STEPS; t++) {
  const started = performance.now();
  const hops = await predictFusedStep(model, task, frames[t - 1]!, frames[t]!);
  fusion.step(hops);
  fused.push(performance.now() - started);
  const p = performance.now();
  await preprocessor.views(frames[t]!, scratch, 0);
  preprocessOnly.push(performance.now() - p);
}
await model.close();

// Batched scoring with a batch-24 export of the same weights.
const dir = mkdtempSync(join(os.tmpdir(), 'bench-grm-'));
const batchedFile = join(dir, 'grm-tiny-b24.onnx');
const { store, config } = loadGrmTiny(DEFAULT_GRM_TINY);
writeFileSync(batchedFile, exportGrmTiny(store, config, 24));
const batched = await OnnxRewardModel.load(batchedFile, { executionProvider, logger: quiet, stateSlots: 64 });
await batched.predict(task, fusedStepQueries(task, frames[0]!, frames[1]!));
const scoringStarted = performance.now();
const queries = frames.slice(1).flatMap((current, i) => fusedStepQueries(task, frames[i]!, current));
const predictions = await batched.predict(task, queries);
const batchFusion = new ProgressFusion();
for (let s = 0; s < STEPS; s++) batchFusion.step({ incremental: predictions[3 * s]!.hop, fromStart: predictions[3 * s + 1]!.hop, fromGoal: predictions[3 * s + 2]!.hop });
const scoringSeconds = (performance.now() - scoringStarted) / 1000;
await batched.close();

// Peer: pixel-distance progress of the front view at model size.
const startPixels = Uint8Array.from(await preprocessor.resizeRgb(task.start.front));
const goalPixels = Uint8Array.from(await preprocessor.resizeRgb(task.goal.front));
const pixel: number[] = [];
for (let t = 1; t <= STEPS; t++) {
  const started = performance.now();
  const image = await preprocessor.resizeRgb(frames[t]!.front);
  let toStart = 0;
  let toGoal = 0;
  for (let i = 0; i < image.length; i++) {
    toStart += Math.abs(image[i]! - startPixels[i]!);
    toGoal += Math.abs(image[i]! - goalPixels[i]!);
  }
  void (toStart / (toStart + toGoal));
  pixel.push(performance.now() - started);
}

// Second peer: demo alignment (frozen-encoder features of the three views + one DTW column).
const features = await grmTinyAlignmentFeatures(DEFAULT_GRM_TINY);
const demoFeatures: Float32Array[] = [];
for (let k = 0; k < DEMO_POINTS; k++) demoFeatures.push(await features.encode(state(3000 + 9 * k)));
const warm = new DemoAlignment(demoFeatures);
warm.step(await features.encode(frames[0]!)); // warm-up: session
const alignment = new DemoAlignment(demoFeatures);
alignment.step(await features.encode(frames[0]!));
const aligned: number[] = [];
const alignmentDp: number[] = [];
for (let t = 1; t <= STEPS; t++) {
  const started = performance.now();
  const f = await features.encode(frames[t]!);
  const dp = performance.now();
  void alignment.step(f);
  const ended = performance.now();
  aligned.push(ended - started);
  alignmentDp.push(ended - dp);
}

const result = {
  benchmark: 'grm',
  model: 'models/grm-tiny.onnx',
  executionProvider,
  input: `3 views of ${WIDTH}x${HEIGHT} raw RGB per state -> ${config.width}x${config.height}`,
  fusedStepMs: stats(fused),
  preprocessThreeViewsMs: stats(preprocessOnly),
  goalMsPerFusedStep: 10,
  meetsGoal: stats(fused).median <= 10,
  batchedScoring: { batch: 24, steps: STEPS, stepsPerSecond: Math.round((STEPS / scoringSeconds) * 10) / 10 },
  sequentialScoring: { batch: 3, stepsPerSecond: Math.round((1000 / stats(fused).mean) * 10) / 10 },
  peer: { name: 'pixel-distance progress (front view)', stepMs: stats(pixel) },
  alignmentPeer: {
    name: `demo alignment: open-end DTW against a demo of ${DEMO_POINTS} states, cosine distance on ${features.label}`,
    stepMs: stats(aligned),
    dtwUpdateMs: stats(alignmentDp),
    featureSize: features.size,
    demoPoints: DEMO_POINTS,
    fusedStepOverAlignmentStep: Math.round((stats(fused).median / stats(aligned).median) * 100) / 100,
  },
  machine: {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    node: process.version,
    date: new Date().toISOString(),
    loadAverageBefore: loadBefore,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  },
  note: process.env.BENCH_NOTE ?? '',
};
console.log(JSON.stringify(result, null, 2));
writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
