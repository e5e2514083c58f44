/**
 * How much of the PRIVILEGED object state (cube and bin positions relative to the hand, the cube's
 * yaw) an MLP can read from a policy observation, on pick-place episodes it was not fitted on
 * (bench/rl-localisation.ts --probe). The peer is proprioception alone: what the hand's own
 * trajectory gives away.
 *
 * Data: scripted-expert episodes (noise 0.3, the demos' noise), the first 26 control steps of each
 * (approach and grasp, where the cube's position matters); the cube does not move before the grasp,
 * so each episode contributes one cube position. Probes are fitted on the first N episodes (N = 20,
 * the number of demos an RL run gets, and all but the test ones) and scored on the test episodes.
 */
import type { Config } from '../../config/schema.js';
import { mlp } from '../../engine/layers.js';
import { ParamStore } from '../../engine/params.js';
import { Predictor, Trainer } from '../../engine/trainer.js';
import { SimEnvironment } from '../../policy/environment.js';
import type { ObservationEncoder } from '../../policy/observation.js';
import { featureObservations, grmTinyFrozenEncoder, PROPRIO_SIZE } from '../../policy/observation.js';
import { Rng } from '../../policy/rng.js';
import { DEFAULT_GRM_TINY } from '../../reward/grm-tiny/paths.js';

const STEPS = 26;
export const PROBE_TARGETS = ['cube dx', 'cube dy', 'cube dz', 'bin dx', 'bin dy', 'bin dz', 'cube yaw sin', 'cube yaw cos'];

interface Sample {
  /** The observation of each encoder, in the order of `encoders`. */
  x: Float32Array[];
  y: Float32Array;
  episode: number;
}

export interface ProbeResult {
  note: string;
  targets: string[];
  samples: number;
  probes: { observation: string; trainEpisodes: number; r2: number[]; rmse: number[] }[];
  wallS: number;
}

/** Fits an MLP (256, 256) on `train` with each observation masked to its first `inputs` values; R2 and RMSE per target on `test`. */
async function fit(train: Sample[], test: Sample[], which: number, inputs: number): Promise<{ r2: number[]; rmse: number[] }> {
  const O = train[0]!.x[which]!.length;
  const T = PROBE_TARGETS.length;
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
  for (const r of train) for (let i = 0; i < O; i++) mean[i]! += r.x[which]![i]! / train.length;
  for (const r of train) for (let i = 0; i < O; i++) deviation[i]! += (r.x[which]![i]! - mean[i]!) ** 2 / train.length;
  const scale = Array.from(deviation, (v) => 1 / Math.max(Math.sqrt(v), 1e-3));
  const masked = (x: Float32Array): Float32Array => x.map((v, i) => (i < inputs ? (v - mean[i]!) * scale[i]! : 0));
  const rng = new Rng(3);
  const xb = new Float32Array(B * O);
  const yb = new Float32Array(B * T);
  for (let s = 0; s < 3000; s++) {
    for (let b = 0; b < B; b++) {
      const r = train[rng.int(train.length)]!;
      xb.set(masked(r.x[which]!), b * O);
      yb.set(r.y, b * T);
    }
    await trainer.run({ x: xb, y: yb });
  }
  const targetMean = PROBE_TARGETS.map((_, k) => test.reduce((a, r) => a + r.y[k]!, 0) / test.length);
  const se = new Array<number>(T).fill(0);
  const variance = new Array<number>(T).fill(0);
  for (const r of test) {
    const y = (await predictor.run({ x: masked(r.x[which]!) })).y!;
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

/**
 * Probes proprioception alone, the headline observation (proprioception + the shipped GRM-tiny's
 * frozen features) and, given `candidate`, the features of another GRM-tiny file, on the same frames.
 */
export async function probeCubeLocation(config: Config, options: { episodes: number; testEpisodes: number; candidate?: string }): Promise<ProbeResult> {
  const { episodes, testEpisodes, candidate } = options;
  const started = performance.now();
  const env = await SimEnvironment.create({
    task: 'pick-place', physicsStepS: config.robot.sim.physicsStepS, controlHz: config.robot.controlHz, maxSteps: 100,
    bounds: { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax },
    cameras: { width: config.cameras.width, height: config.cameras.height },
  });
  const frozen = async (file: string): Promise<ObservationEncoder> => featureObservations(await grmTinyFrozenEncoder(file, { views: 3, executionProvider: 'cpu', threads: 1 }));
  const encoders = [await frozen(DEFAULT_GRM_TINY), ...(candidate ? [await frozen(candidate)] : [])];
  const samples: Sample[] = [];
  for (let e = 0; e < episodes; e++) {
    let o = await env.reset(10_000 + e);
    const expert = env.expert(0.3, 20_000 + e);
    for (let t = 0; t < STEPS; t++) {
      samples.push({ x: await Promise.all(encoders.map((enc) => enc.encode(o))), y: o.privileged!.state, episode: e });
      const command = expert.next();
      if (!command) break;
      o = (await env.act(command)).next;
    }
  }
  await env.close();

  const test = samples.filter((r) => r.episode >= episodes - testEpisodes);
  const arms: Array<[string, number, number]> = [
    ['proprioception only (peer)', 0, PROPRIO_SIZE],
    ['proprioception + frozen GRM-tiny features (the headline observation)', 0, encoders[0]!.size],
    ...(candidate ? [[`proprioception + frozen features of ${candidate}`, 1, encoders[1]!.size] as [string, number, number]] : []),
  ];
  const probes: ProbeResult['probes'] = [];
  for (const trainEpisodes of [20, episodes - testEpisodes]) {
    const train = samples.filter((r) => r.episode < trainEpisodes);
    for (const [observation, which, inputs] of arms) {
      const p = await fit(train, test, which, inputs);
      probes.push({ observation, trainEpisodes, ...p });
      console.log(`probe, ${String(trainEpisodes).padStart(3)} episodes, ${observation}: RMSE ${p.rmse.join(' ')}; R2 ${p.r2.join(' ')}`);
    }
  }
  return {
    note: `MLP probes (256, 256, 3000 Adam steps; inputs standardised with the fitting rows' mean and deviation) from the policy observation to the PRIVILEGED state, scored on ${testEpisodes} held-out episodes; first ${STEPS} control steps of scripted-expert episodes with noise 0.3. RMSE: cm for positions, unitless for the yaw's sin and cos.`,
    targets: PROBE_TARGETS,
    samples: samples.length,
    probes,
    wallS: Math.round((performance.now() - started) / 100) / 10,
  };
}
