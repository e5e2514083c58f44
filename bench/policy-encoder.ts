/**
 * Can the policy see where the cube is? On held-out pick-place scenes with full randomisation
 * (never seen in the encoder's pretraining), a LINEAR read-out of the frozen features and the
 * proprioception is fitted to the cube's position relative to the hand, and its error is measured
 * on other scenes; the peer is the same read-out of the reward model's frozen GRM-tiny features
 * (what the policy read before issue 32), on the same scenes. Also times each encoder on three
 * views.
 *
 *   npm run bench:policy-encoder [-- --encoder models/policy-encoder.onnx --fit 1600 --test 400
 *                                     --out bench/results/policy-encoder.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { loadConfig } from '../config/load.js';
import { loadImageEncoder } from '../perception/onnx-image-encoder.js';
import { DEFAULT_POLICY_ENCODER } from '../perception/policy-encoder/paths.js';
import { encoderScenes, type EncoderScene } from '../perception/policy-encoder/scenes.js';
import { grmTinyFrozenEncoder, type FrozenImageEncoder } from '../policy/observation.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';
import { VIEW_CAMERAS } from '../robot/sim/key-bodies.js';
import type { CameraFrame } from '../robot/types.js';
import { numberFlag, textFlag } from './lib/flags.js';
import { fitLinearReadout, medianP90, type ReadoutRow } from './lib/linear-readout.js';
import { time } from './lib/timing.js';

const encoderFile = textFlag('--encoder') ?? DEFAULT_POLICY_ENCODER;
const fitCount = numberFlag('--fit') ?? 1600;
const testCount = numberFlag('--test') ?? 400;
const outFile = textFlag('--out') ?? 'bench/results/policy-encoder.json';
if (!Number.isInteger(fitCount) || !Number.isInteger(testCount) || fitCount < 50 || testCount < 20) {
  console.error('bench:policy-encoder: expected --fit >= 50 and --test >= 20 (whole numbers of scenes)');
  process.exit(2);
}
const started = performance.now();
const config = loadConfig(undefined);
const task = 'pick-place';
const ROLES = ['front', 'left_wrist', 'right_wrist'] as const;

const frames = (scene: EncoderScene): CameraFrame[] =>
  scene.views.map((rgb, v) => ({ role: ROLES[v]!, camera: VIEW_CAMERAS[v]!, width: config.cameras.width, height: config.cameras.height, rgb, stampMs: 0 }));

// Held-out scenes: seeds far from any pretraining seed; no light or camera jitter (a fixed rig).
const scenes: EncoderScene[] = [];
for await (const scene of encoderScenes({ config, task, count: fitCount + testCount, seed: 9_000_000, jitter: false })) scenes.push(scene);
console.log(`${scenes.length} ${task} scenes (${Math.round((performance.now() - started) / 1000)} s)`);

interface Arm {
  name: string;
  encoder: FrozenImageEncoder;
}
const policy = await loadImageEncoder(encoderFile, { views: 3, executionProvider: 'cpu', threads: 1 });
const grm = await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 });
const arms: Arm[] = [
  { name: `policy encoder (${encoderFile.replace(`${process.cwd()}/`, '')})`, encoder: policy },
  { name: 'GRM-tiny frozen features', encoder: grm },
];

const results = [];
for (const arm of arms) {
  const rows: ReadoutRow[] = [];
  for (const scene of scenes) {
    const features = await arm.encoder.encode(frames(scene));
    const x = new Float32Array(features.length + scene.proprio.length);
    x.set(features);
    x.set(scene.proprio, features.length);
    rows.push({ x, y: scene.hand.slice(0, 3) });
  }
  const fit = rows.slice(0, fitCount);
  const test = rows.slice(fitCount);
  const predictions = await fitLinearReadout(fit, test);
  // Read-out in decimetres; errors in cm.
  const errors = test.map((r, k) => 10 * Math.hypot(predictions[k]![0]! - r.y[0]!, predictions[k]![1]! - r.y[1]!, predictions[k]![2]! - r.y[2]!));
  const horizontal = test.map((r, k) => 10 * Math.hypot(predictions[k]![0]! - r.y[0]!, predictions[k]![1]! - r.y[1]!));
  const near = errors.filter((_, k) => 10 * Math.hypot(test[k]!.y[0]!, test[k]!.y[1]!, test[k]!.y[2]!) <= 10);
  const firstFrames = frames(scenes[0]!);
  const ms = await time(10, 100, () => arm.encoder.encode(firstFrames));
  results.push({
    name: arm.name,
    label: arm.encoder.label,
    featuresPerView: arm.encoder.featureSize,
    cubeErrorCm: medianP90(errors),
    cubeHorizontalErrorCm: medianP90(horizontal),
    nearCube: { scenes: near.length, cubeErrorCm: near.length > 0 ? medianP90(near) : null },
    encoderMs: { threeViews: ms.median, min: ms.min, max: ms.max, runs: ms.runs },
  });
  console.log(`${arm.name}: cube error median ${results.at(-1)!.cubeErrorCm.median} cm, p90 ${results.at(-1)!.cubeErrorCm.p90} cm; encoder ${ms.median} ms for three views`);
}
await policy.close();

const [mine, peer] = results as [(typeof results)[0], (typeof results)[0]];
const report = {
  task,
  scenes: { fit: fitCount, test: testCount, heldOut: true, jitter: false },
  readout: 'linear (least squares with a small ridge term, fitted on the engine) from the frozen features of the three views and the proprioception to the cube position relative to the hand; 3-D error',
  encoder: mine.name,
  cubeErrorCm: mine.cubeErrorCm,
  cubeHorizontalErrorCm: mine.cubeHorizontalErrorCm,
  nearCube: mine.nearCube,
  encoderMs: mine.encoderMs,
  featuresPerView: mine.featuresPerView,
  peer: { name: peer.name, cubeErrorCm: peer.cubeErrorCm, cubeHorizontalErrorCm: peer.cubeHorizontalErrorCm, nearCube: peer.nearCube, encoderMs: peer.encoderMs, featuresPerView: peer.featuresPerView },
  goals: { medianAtMost1cm: mine.cubeErrorCm.median <= 1, p90AtMost2cm: mine.cubeErrorCm.p90 <= 2, encoderAtMost5ms: mine.encoderMs.threeViews <= 5 },
  seconds: Math.round((performance.now() - started) / 1000),
  machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100), node: process.version, date: new Date().toISOString() },
  ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${outFile}`);
