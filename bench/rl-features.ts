/**
 * What the headline policy can see: how much of the PRIVILEGED object state (cube and bin
 * positions relative to the hand, the cube's yaw) an MLP can read from the policy's observation,
 * proprioception + the frozen GRM-tiny encoder's features, on pick-place episodes it was not fitted
 * on. The peer is proprioception alone (what the hand's own trajectory gives away). A diagnostic of
 * the RL ablation (bench/results/rl.json), not a timing: writes bench/results/rl-features.json.
 *
 *   npm run bench:rl-features [-- --episodes 150 --test 30 --candidate other.onnx --out file.json]
 *
 * --candidate adds a third observation: proprioception + the features of another GRM-tiny file
 * (for example one pretrained with `grm pretrain --location-weight`), probed on the same frames.
 *
 * Data: scripted-expert episodes (noise 0.3, the demos' noise), the first 26 control steps of each
 * (approach and grasp, where the cube's position matters); the cube does not move before the grasp,
 * so each episode contributes one cube position. Probes are fitted on the first N episodes (N = 20,
 * the number of demos an RL run gets, and all but the test ones) and scored on the test episodes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { loadConfig } from '../config/load.js';
import { mlp } from '../engine/layers.js';
import { ParamStore } from '../engine/params.js';
import { Predictor, Trainer } from '../engine/trainer.js';
import { SimEnvironment } from '../policy/environment.js';
import { featureObservations, grmTinyFrozenEncoder, PROPRIO_SIZE } from '../policy/observation.js';
import { Rng } from '../policy/rng.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function textFlag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const episodes = flag('--episodes', 150);
const candidate = textFlag('--candidate');
const outFile = textFlag('--out') ?? 'bench/results/rl-features.json';
const testEpisodes = flag('--test', 30);
const STEPS = 26;
const TARGETS = ['cube dx', 'cube dy', 'cube dz', 'bin dx', 'bin dy', 'bin dz', 'cube yaw sin', 'cube yaw cos'];

const config = loadConfig(undefined);
const started = performance.now();
const env = await SimEnvironment.create({
  task: 'pick-place', physicsStepS: config.robot.sim.physicsStepS, controlHz: config.robot.controlHz, maxSteps: 100,
  bounds: { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax },
  cameras: { width: config.cameras.width, height: config.cameras.height },
});
const encoder = featureObservations(await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 }));
/** --sharpness k: the candidate is the shipped encoder with keypoint sharpness k (model.ts spatialSoftmax). */
const sharpness = flag('--sharpness', 1);
const candidateEncoder = candidate || sharpness !== 1 ? featureObservations(await grmTinyFrozenEncoder(candidate ?? DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1, keypointSharpness: sharpness })) : undefined;
/** x: the shipped encoder's observation; xCandidate: the candidate's. */
const rows: { x: Float32Array; xCandidate?: Float32Array; y: Float32Array; episode: number }[] = [];
for (let e = 0; e < episodes; e++) {
  let o = await env.reset(10_000 + e);
  const expert = env.expert(0.3, 20_000 + e);
  for (let t = 0; t < STEPS; t++) {
    rows.push({ x: await encoder.encode(o), ...(candidateEncoder ? { xCandidate: await candidateEncoder.encode(o) } : {}), y: o.privileged!.state, episode: e });
    const command = expert.next();
    if (!command) break;
    const step = await env.act(command);
    o = step.next;
  }
}
await env.close();

/** Fits an MLP (256, 256) on the rows of `train` with the observation masked to `inputs`; R2 and RMSE per target on `test`. */
async function probe(train: typeof rows, test: typeof rows, inputs: number, which: 'x' | 'xCandidate' = 'x'): Promise<{ r2: number[]; rmse: number[] }> {
  const O = rows[0]![which]!.length;
  const T = TARGETS.length;
  const B = 256;
  const store = new ParamStore({ seed: 1 });
  const trainer = await Trainer.create({
    store, threads: 1, executionProvider: 'cpu', optimizer: { kind: 'adam', lr: 1e-3 },
    build: (g) => ({ loss: mlp(g.input('x', [B, O]), 'probe', [256, 256, T]).sub(g.input('y', [B, T])).square().mean() }),
  });
  const predictor = await Predictor.create({ store, threads: 1, executionProvider: 'cpu', build: (g) => ({ y: mlp(g.input('x', [1, O]), 'probe', [256, 256, T]) }) });
  // Inputs standardised with the fitting rows' mean and deviation: keypoints move by hundredths
  // while pooled values move by tenths.
  const mean = new Float64Array(O);
  const deviation = new Float64Array(O);
  for (const r of train) for (let i = 0; i < O; i++) mean[i]! += r[which]![i]! / train.length;
  for (const r of train) for (let i = 0; i < O; i++) deviation[i]! += (r[which]![i]! - mean[i]!) ** 2 / train.length;
  const scale = Array.from(deviation, (v) => 1 / Math.max(Math.sqrt(v), 1e-3));
  const masked = (x: Float32Array): Float32Array => x.map((v, i) => (i < inputs ? (v - mean[i]!) * scale[i]! : 0));
  const rng = new Rng(3);
  const xb = new Float32Array(B * O);
  const yb = new Float32Array(B * T);
  for (let s = 0; s < 3000; s++) {
    for (let b = 0; b < B; b++) {
      const r = train[rng.int(train.length)]!;
      xb.set(masked(r[which]!), b * O);
      yb.set(r.y, b * T);
    }
    await trainer.run({ x: xb, y: yb });
  }
  const targetMean = TARGETS.map((_, k) => test.reduce((a, r) => a + r.y[k]!, 0) / test.length);
  const se = new Array<number>(T).fill(0);
  const variance = new Array<number>(T).fill(0);
  for (const r of test) {
    const y = (await predictor.run({ x: masked(r[which]!) })).y!;
    for (let k = 0; k < T; k++) {
      se[k]! += (y[k]! - r.y[k]!) ** 2;
      variance[k]! += (r.y[k]! - targetMean[k]!) ** 2;
    }
  }
  await trainer.dispose();
  await predictor.dispose();
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  // Targets are in decimetres (policy/environment.ts): RMSE in cm is 10x.
  return { r2: se.map((v, k) => round(1 - v / variance[k]!)), rmse: se.map((v, k) => (k < 6 ? round(10 * Math.sqrt(v / test.length)) : round(Math.sqrt(v / test.length)))) };
}

const test = rows.filter((r) => r.episode >= episodes - testEpisodes);
const probes = [];
for (const trainEpisodes of [20, episodes - testEpisodes]) {
  const train = rows.filter((r) => r.episode < trainEpisodes);
  const arms: Array<[string, number, 'x' | 'xCandidate']> = [
    ['proprioception only (peer)', PROPRIO_SIZE, 'x'],
    ['proprioception + frozen GRM-tiny features (the headline observation)', encoder.size, 'x'],
  ];
  if (candidateEncoder) arms.push([`proprioception + frozen features of ${candidate ?? DEFAULT_GRM_TINY}${sharpness !== 1 ? ` with keypoint sharpness ${sharpness}` : ''}`, candidateEncoder.size, 'xCandidate']);
  for (const [name, inputs, which] of arms) {
    const p = await probe(train, test, inputs, which);
    probes.push({ observation: name, trainEpisodes, ...p });
    console.log(`${String(trainEpisodes).padStart(3)} episodes, ${name}: R2 ${p.r2.join(' ')}; RMSE ${p.rmse.join(' ')}`);
  }
}
const cpu = cpus();
const result = {
  task: 'pick-place',
  note: `MLP probes (256, 256, 3000 Adam steps; inputs standardised with the fitting rows' mean and deviation) from the policy observation to the PRIVILEGED state, scored on ${testEpisodes} held-out episodes; first ${STEPS} control steps of scripted-expert episodes with noise 0.3. RMSE: cm for positions, unitless for the yaw's sin and cos.`,
  targets: TARGETS,
  observationSize: encoder.size,
  samples: rows.length,
  probes,
  machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, date: new Date().toISOString(), loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
  wallS: (performance.now() - started) / 1000,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
