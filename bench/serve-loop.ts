/**
 * Serve-loop benchmark: `dopamine serve` on the simulator with its defaults (10 Hz, 20 s episodes,
 * GRM-tiny scoring every step, SAC actor, policy.serve.updatesPerStep learner updates per step),
 * measured against the same composition with the labelled stand-ins (the peer: scripted policy,
 * geometric progress, no learner), and with the `dopamine rl` update ratio (4 per step) to show
 * what it costs. Per phase: control period (step start to step start, within episodes), work per
 * step, deadlines missed, reward-model latency and skips, learner updates. Writes
 * bench/results/serve-loop.json.
 *
 *   npm run bench:serve-loop                    # 20 s stand-ins, 90 s RL, 60 s RL at 4 updates/step
 *   npm run bench:serve-loop -- --seconds 30    # shorter RL phases (smoke check)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { configSchema, type ConfigInput } from '../config/schema.js';
import { startServing } from '../launch/serve.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '90' }, out: { type: 'string', default: 'bench/results/serve-loop.json' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds: expected a positive number, got ${values.seconds}`);
const log = createLogger('bench', (process.env.DOPAMINE_LOG as 'info' | undefined) ?? 'warn');

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! : null);
  return { n: sorted.length, mean: sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? null };
};
const round = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);

async function phase(name: string, input: ConfigInput, agent: 'rl' | 'stand-in', durationS: number) {
  // At the control rate, as on an arm (the simulator's default is as fast as it goes).
  const config = configSchema.parse({ ...input, robot: { ...input.robot, sim: { realtime: true } }, dashboard: { port: 0 }, policy: { ...input.policy, runDir: mkdtempSync(join(tmpdir(), 'bench-serve-')) } });
  const serving = await startServing(config, log, { autoStart: true, agent });
  const { loop } = serving;
  const periodMs = 1000 / serving.robot.controlHz;
  // Periods between steps of one episode; split by whether the learner had started training.
  const learning: number[] = [];
  const before: number[] = [];
  let lastStep: { episode: number; at: number } | undefined;
  loop.onUpdate((update) => {
    if (update.type !== 'step') return;
    const now = performance.now();
    if (lastStep && lastStep.episode === update.episode) ((loop.snapshot().learner?.updates ?? 0) > 0 ? learning : before).push(now - lastStep.at);
    lastStep = { episode: update.episode, at: now };
  });
  const started = performance.now();
  let firstUpdateAt: number | null = null;
  let updatesAtFirst = 0;
  while (performance.now() - started < durationS * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const updates = loop.snapshot().learner?.updates ?? 0;
    if (firstUpdateAt === null && updates > 0) {
      firstUpdateAt = performance.now();
      updatesAtFirst = updates;
    }
  }
  const snapshot = loop.snapshot();
  const learner = snapshot.learner;
  const load = loadavg()[0]!;
  const learningS = firstUpdateAt === null ? 0 : (performance.now() - firstUpdateAt) / 1000;
  await serving.shutdown('bench done');
  const all = [...before, ...learning];
  const period = (values: number[]) => {
    const s = stats(values);
    return { steps: s.n, meanMs: round(s.mean), p50Ms: round(s.p50), p95Ms: round(s.p95), p99Ms: round(s.p99), maxMs: round(s.max), overPeriod: values.filter((v) => v > periodMs * 1.05).length };
  };
  const result = {
    name,
    seconds: durationS,
    loadAverage1MinAtEnd: round(load),
    controlHz: serving.robot.controlHz,
    sources: snapshot.sources,
    period: { all: period(all), beforeLearner: period(before), whileLearning: period(learning) },
    workPerStepMs: { mean: round(snapshot.control.workMeanMs), p95: round(snapshot.control.workP95Ms), note: 'last 500 steps: action (encoder + actor, waiting for at most one update), safety layer, physics and rendering' },
    deadlines: snapshot.deadlines,
    rollouts: snapshot.rollouts,
    reward: { answered: snapshot.reward.answered, skipped: snapshot.reward.skipped, errors: snapshot.reward.errors, meanMs: round(snapshot.reward.meanMs), p95Ms: round(snapshot.reward.p95Ms) },
    learner: learner
      ? {
          updates: learner.updates,
          updatesPerSecondWhileLearning: learningS > 0 ? round((learner.updates - updatesAtFirst) / learningS) : null,
          updateMs: round(learner.updateMs),
          owedAtEnd: learner.owed,
          dropped: learner.dropped,
          episodes: learner.episodes,
          transitions: learner.transitions,
        }
      : null,
  };
  const p = result.period.all;
  console.log(
    `${name}: period mean ${p.meanMs} ms, p95 ${p.p95Ms}, max ${p.maxMs} (${p.steps} steps, ${result.deadlines.missed} deadlines missed); work mean ${result.workPerStepMs.mean} ms; ` +
      `reward ${result.reward.answered} answered, ${result.reward.skipped} skipped, ${result.reward.meanMs} ms mean` +
      (result.learner ? `; learner ${result.learner.updates} updates (${result.learner.updatesPerSecondWhileLearning}/s, ${result.learner.updateMs} ms each, ${result.learner.dropped} dropped)` : ''),
  );
  return result;
}

const phases = [
  await phase('peer: stand-ins (scripted policy, geometric progress, no learner)', {}, 'stand-in', 20),
  await phase('serve defaults: GRM-tiny every step, SAC, 1 update per step', {}, 'rl', seconds),
  await phase('GRM-tiny every step, SAC, 4 updates per step (the dopamine rl ratio)', { policy: { serve: { updatesPerStep: 4 } } }, 'rl', Math.round(seconds * 0.67)),
];
const cpu = cpus();
const out = {
  benchmark: 'serve-loop',
  machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, date: new Date().toISOString(), note: 'shared machine: other jobs ran at the same time' },
  config: 'defaults (robot.controlHz 10, robot.episodeSeconds 20, policy.batchSize 256, push-cube); one run per phase, no dashboard viewers',
  phases,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${values.out}`);
