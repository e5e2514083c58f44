/**
 * How precisely must the policy's observation locate the cube? The policy is cloned from the 20
 * demos (as in bench:rl) and then only acts: no RL update, so every training rollout samples the
 * cloned policy, and the last evaluation runs it deterministically. Observations are PRIVILEGED
 * object state whose cube position carries a per-episode error of e cm (sd per horizontal axis;
 * `dopamine rl --privileged-error`), a detector that good, against the image observations as the
 * peers (proprioception + the frozen GRM-tiny features, and + the policy encoder's features), same
 * seeds and same demos. A
 * diagnostic of the representation, not a timing: writes bench/results/rl-localisation.json.
 *
 * --probe first measures how well the observations locate the cube at all: MLP probes from
 * proprioception alone and from the headline observation to the PRIVILEGED state, fitted on
 * scripted-expert episodes and scored on held-out ones (bench/lib/cube-probe.ts); the result then
 * has a `probe` section.
 *
 *   npm run bench:rl-localisation [-- --rollouts 20 --seeds 2 --errors 0,1,2,4,6 --eval 10]
 *   (--candidate file.onnx adds a row, and a probe: the features of another GRM-tiny's frozen encoder;
 *   --probe [--probe-episodes 150 --probe-test 30] adds the probe;
 *   --out file: where to write, default bench/results/rl-localisation.json)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger } from '../common/log.js';
import { loadConfig } from '../config/load.js';
import type { RlSettings } from '../policy/train.js';
import { train } from '../policy/train.js';
import { probeCubeLocation } from './lib/cube-probe.js';
import { benchRlSettings } from './lib/rl-settings.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const rollouts = Number(flag('--rollouts', '20'));
const seeds = Array.from({ length: Number(flag('--seeds', '2')) }, (_, i) => i + 1);
const errors = flag('--errors', '0,1,2,4,6').split(',').map(Number);
const evalEpisodes = Number(flag('--eval', '10'));
const candidate = process.argv.includes('--candidate') ? flag('--candidate', '') : undefined;
const outFile = flag('--out', 'bench/results/rl-localisation.json');
const probeEpisodes = Number(flag('--probe-episodes', '150'));
const probeTest = Number(flag('--probe-test', '30'));
if (!(rollouts >= 1) || errors.some((e) => !(e >= 0)) || !(evalEpisodes >= 1)) {
  console.error('bench:rl-localisation: expected --rollouts >= 1, --errors as comma-separated numbers >= 0 (cm), --eval >= 1');
  process.exit(2);
}
if (!Number.isInteger(probeTest) || !Number.isInteger(probeEpisodes) || !(probeTest >= 1) || !(probeEpisodes - probeTest >= 20)) {
  console.error('bench:rl-localisation: expected --probe-test >= 1 and --probe-episodes at least 20 more than --probe-test (whole numbers)');
  process.exit(2);
}
const config = loadConfig(undefined);
const started = performance.now();
const probe = process.argv.includes('--probe') ? await probeCubeLocation(config, { episodes: probeEpisodes, testEpisodes: probeTest, ...(candidate ? { candidate } : {}) }) : undefined;

const log = createLogger('bench:rl-localisation', 'warn');
// Clone, then act only: no update ever runs, so the policy is the cloned one throughout.
const base: RlSettings = {
  ...benchRlSettings(config),
  reward: 'privileged',
  rollouts,
  updatesPerStep: 0,
  criticWarmupSteps: 0,
  evalEvery: rollouts,
  evalEpisodes: 1,
  finalEvalEpisodes: evalEpisodes,
};

interface Row {
  observation: string;
  errorCm: number | null;
  /** Per seed: successes of the sampled cloned policy (training rollouts) and of the deterministic one (last evaluation). */
  seeds: { seed: number; sampledSuccesses: number; rollouts: number; deterministicSuccesses: number; evalEpisodes: number; wallS: number }[];
  sampledSuccess: number;
  deterministicSuccess: number;
}

const work = mkdtempSync(join(tmpdir(), 'dopamine-localisation-'));
const rows: Row[] = [];
const arms: { errorCm: number | null; settings: Partial<RlSettings> }[] = [
  ...errors.map((e) => ({ errorCm: e, settings: { observation: 'privileged' as const, ...(e > 0 ? { privilegedErrorCm: e } : {}) } })),
  { errorCm: null, settings: { observation: 'grm-features' as const } },
  { errorCm: null, settings: { observation: 'features' as const } },
  ...(candidate ? [{ errorCm: null, settings: { observation: 'grm-features' as const, grmEncoderModel: candidate } }] : []),
];
for (const arm of arms) {
  const row: Row = { observation: '', errorCm: arm.errorCm, seeds: [], sampledSuccess: 0, deterministicSuccess: 0 };
  for (const seed of seeds) {
    const runDir = join(work, `${arms.indexOf(arm)}-${seed}`);
    const r = await train({ ...base, ...arm.settings, seed }, { runDir, resume: false, log });
    row.observation = r.observation;
    const last = r.curve.at(-1)!;
    row.seeds.push({
      seed, sampledSuccesses: r.rollouts.filter((x) => x.success).length, rollouts: r.rollouts.length,
      deterministicSuccesses: Math.round(last.success * last.episodes), evalEpisodes: last.episodes, wallS: Math.round(r.wallS * 10) / 10,
    });
    rmSync(runDir, { recursive: true, force: true });
  }
  const sum = (f: (s: Row['seeds'][number]) => number): number => row.seeds.reduce((n, s) => n + f(s), 0);
  row.sampledSuccess = sum((s) => s.sampledSuccesses) / sum((s) => s.rollouts);
  row.deterministicSuccess = sum((s) => s.deterministicSuccesses) / sum((s) => s.evalEpisodes);
  rows.push(row);
  const name = arm.errorCm !== null ? `PRIVILEGED, error ${arm.errorCm} cm` : arm.settings.grmEncoderModel ? `frozen features of ${arm.settings.grmEncoderModel}` : arm.settings.observation === 'features' ? 'frozen policy encoder features' : 'frozen GRM-tiny features';
  console.log(`${name.padEnd(40)} sampled ${(100 * row.sampledSuccess).toFixed(0).padStart(3)}%  deterministic ${(100 * row.deterministicSuccess).toFixed(0).padStart(3)}%  (${row.seeds.map((s) => `seed ${s.seed}: ${s.sampledSuccesses}/${s.rollouts}, ${s.deterministicSuccesses}/${s.evalEpisodes}`).join('; ')})`);
}
rmSync(work, { recursive: true, force: true });

const cpu = cpus();
const result = {
  task: base.task,
  note:
    `The policy cloned from ${base.demos} demos (expert noise ${base.demoNoise}, ${base.bcSteps} cloning steps), never updated: ` +
    `'sampled' is its success over ${rollouts} training rollouts per seed (actions sampled, as in RL), 'deterministic' over ${evalEpisodes} evaluation episodes per seed (the mode, as in bench:rl's curves). ` +
    'PRIVILEGED rows: object state with a per-episode error on the cube position (sd per horizontal axis; debugging). Rows with errorCm null: image features of a frozen encoder, GRM-tiny or the policy encoder (observation names which).',
  seeds,
  rows,
  ...(probe ? { probe } : {}),
  machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, date: new Date().toISOString(), loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
  wallS: Math.round((performance.now() - started) / 100) / 10,
};
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(result, null, 1)}\n`);
console.log(`wrote ${outFile} (${result.wallS} s)`);
