/**
 * Does `serve` learn? (issue 33) `serve` on the simulator with its defaults on a lab's reset (push-cube, demos at
 * the first start, as fast as the simulator goes, GRM-tiny's progress as the reward and its
 * completion judgement as the success), no person, run until the success rate over the last 10
 * episodes reaches 80% or a time cap; and the same with the scripted operator taking over when
 * progress stalls (the named peer: what interventions buy). Success in the figures is the
 * simulator's predicate (what happened); what the run itself judged is reported beside it.
 * Writes bench/results/serve-learning.json and .png.
 *
 *   npm run bench:serve-learning                         # both arms, 20-minute cap each, a lab's reset
 *   npm run bench:serve-learning -- --minutes 5 --arms none
 *   npm run bench:serve-learning -- --layout-spread full  # the task's full randomisation
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createLogger } from '../common/log.js';
import { configSchema } from '../config/schema.js';
import type { EpisodeSummary } from '../launch/run-loop.js';
import { startServing } from '../launch/serve.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    arms: { type: 'string', default: 'none,scripted' },
    task: { type: 'string', default: 'push-cube' },
    'layout-spread': { type: 'string', default: '0.3' },
    out: { type: 'string', default: 'bench/results/serve-learning.json' },
  },
});
const capMinutes = Number(values.minutes);
if (!(capMinutes > 0)) throw new Error(`--minutes: expected a positive number, got ${values.minutes}`);
const arms = values.arms.split(',').map((arm) => {
  if (arm !== 'none' && arm !== 'scripted') throw new Error(`--arms: expected none and/or scripted, comma-separated, got ${JSON.stringify(arm)}`);
  return arm;
});
/**
 * The scene: a lab's reset by default (robot.sim.layout: the same objects every episode near layout
 * 0, each randomised range narrowed to 0.3), as a lab's bench is; `full`: the task's full
 * randomisation (every episode new objects, colours and poses), the simulator's own default.
 */
const layout = values['layout-spread'] === 'full' ? null : { seed: 0, spread: Number(values['layout-spread']) };
if (layout && !(layout.spread >= 0 && layout.spread <= 1)) throw new Error(`--layout-spread: expected a fraction from 0 to 1 or full, got ${values['layout-spread']}`);
const log = createLogger('bench', (process.env.DOPAMINE_LOG as 'info' | undefined) ?? 'warn');
/** The goal: the success rate over the last WINDOW episodes reaches TARGET. */
const WINDOW = 10;
const TARGET = 0.8;

interface CurvePoint {
  episode: number;
  minutes: number;
  /**
   * The policy's own successes over the last 10 episodes: the simulator's predicate held and the
   * operator drove none of the episode's steps (a success the operator finished is not the policy's).
   */
  successRate: number;
  /** The simulator's predicate over the last 10 episodes, with the operator's help. */
  assistedSuccessRate: number;
  /** The run's own judgement (reward.shaping.success) over the last 10 episodes. */
  claimedRate: number;
  /** Share of the last 10 episodes' steps the operator drove. */
  interventionRate: number;
}

interface ArmResult {
  task: string;
  interventions: 'none' | 'scripted';
  minutesTo80: number | null;
  episodesTo80: number | null;
  curve: CurvePoint[];
  /** From start to the first episode: demos, cloning, critic warm-up. */
  startupMinutes: number;
  episodes: number;
  minutes: number;
  successJudge: string;
  /** robot.sim.layout of the run (null: the task's full randomisation). */
  layout: { seed: number; spread: number } | null;
  demos: number | string[];
  claimedSuccesses: number;
  confirmedClaims: number;
  envSuccesses: number;
  /** Of those, episodes the operator did not touch. */
  autonomousSuccesses: number;
  learnerUpdates: number;
}

async function runArm(interventions: 'none' | 'scripted'): Promise<ArmResult> {
  const runDir = mkdtempSync(join(tmpdir(), `bench-serve-learning-${interventions}-`));
  const config = configSchema.parse({ robot: { task: values.task, ...(layout ? { sim: { layout } } : {}) }, dashboard: { port: 0 }, policy: { runDir, serve: { operator: interventions } } });
  const started = performance.now();
  const minutes = (): number => (performance.now() - started) / 60_000;
  const serving = await startServing(config, log, { autoStart: true });
  const startupMinutes = minutes();
  const episodes: EpisodeSummary[] = [];
  const curve: CurvePoint[] = [];
  let reached: { minutes: number; episodes: number } | null = null;
  serving.loop.onUpdate((update) => {
    if (update.type !== 'episode') return;
    episodes.push(update.summary);
    const last = episodes.slice(-WINDOW);
    const steps = last.reduce((n, e) => n + e.steps, 0);
    const point: CurvePoint = {
      episode: episodes.length,
      minutes: minutes(),
      successRate: last.filter((e) => e.envSuccess === true && e.interventionSteps === 0).length / last.length,
      assistedSuccessRate: last.filter((e) => e.envSuccess === true).length / last.length,
      claimedRate: last.filter((e) => e.success).length / last.length,
      interventionRate: steps > 0 ? last.reduce((n, e) => n + e.interventionSteps, 0) / steps : 0,
    };
    curve.push(point);
    log.warn(`${interventions}: episode ${point.episode} at ${point.minutes.toFixed(1)} min: ${update.summary.outcome}${update.summary.envSuccess ? ' (env: success)' : ''}, last 10: ${(100 * point.successRate).toFixed(0)}% alone, ${(100 * point.assistedSuccessRate).toFixed(0)}% with help (claimed ${(100 * point.claimedRate).toFixed(0)}%), interventions ${(100 * point.interventionRate).toFixed(0)}%`);
    if (!reached && episodes.length >= WINDOW && point.successRate >= TARGET) reached = { minutes: point.minutes, episodes: point.episode };
  });
  while (!reached && minutes() < capMinutes) await new Promise((resolve) => setTimeout(resolve, 500));
  const learnerUpdates = serving.loop.snapshot().learner?.updates ?? 0;
  await serving.shutdown('benchmark arm done');
  const done = reached as { minutes: number; episodes: number } | null;
  return {
    task: values.task,
    interventions,
    minutesTo80: done ? round(done.minutes) : null,
    episodesTo80: done ? done.episodes : null,
    curve: curve.map((p) => ({ ...p, minutes: round(p.minutes), successRate: round(p.successRate), assistedSuccessRate: round(p.assistedSuccessRate), claimedRate: round(p.claimedRate), interventionRate: round(p.interventionRate) })),
    startupMinutes: round(startupMinutes),
    episodes: episodes.length,
    minutes: round(minutes()),
    successJudge: serving.config.reward.shaping.success!,
    layout: config.robot.sim.layout ?? null,
    demos: config.policy.demos,
    claimedSuccesses: episodes.filter((e) => e.success).length,
    confirmedClaims: episodes.filter((e) => e.success && e.envSuccess === true).length,
    envSuccesses: episodes.filter((e) => e.envSuccess === true).length,
    autonomousSuccesses: episodes.filter((e) => e.envSuccess === true && e.interventionSteps === 0).length,
    learnerUpdates,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function plotSvg(results: ArmResult[]): string {
  const [w, h, left, right, top, bottom] = [760, 420, 60, 150, 40, 50];
  const maxX = Math.max(capMinutes, ...results.flatMap((r) => r.curve.map((p) => p.minutes)));
  const x = (v: number): number => left + (v / maxX) * (w - left - right);
  const y = (v: number): number => top + (1 - v) * (h - top - bottom);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="100%" height="100%" fill="white"/>`];
  parts.push(`<text x="${w / 2}" y="22" font-family="sans-serif" font-size="14" text-anchor="middle">serve on ${values.task}: the policy's own successes over the last ${WINDOW} episodes (simulator's predicate)</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    parts.push(`<line x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 8}" y="${y(v) + 4}" font-family="sans-serif" font-size="12" text-anchor="end">${i * 20}%</text>`);
    const m = (maxX * i) / 5;
    parts.push(`<text x="${x(m)}" y="${h - bottom + 18}" font-family="sans-serif" font-size="12" text-anchor="middle">${m.toFixed(0)}</text>`);
  }
  parts.push(`<text x="${(left + w - right) / 2}" y="${h - 10}" font-family="sans-serif" font-size="12" text-anchor="middle">minutes since start (demos and cloning included)</text>`);
  parts.push(`<line x1="${left}" x2="${w - right}" y1="${y(TARGET)}" y2="${y(TARGET)}" stroke="#999" stroke-dasharray="4 4"/>`);
  parts.push(`<line x1="${x(15)}" x2="${x(15)}" y1="${top}" y2="${h - bottom}" stroke="#999" stroke-dasharray="4 4"/>`);
  const colours = { none: '#1f77b4', scripted: '#2ca02c' };
  results.forEach((r, i) => {
    const path = r.curve.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.minutes).toFixed(1)},${y(p.successRate).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${colours[r.interventions]}" stroke-width="2"/>`);
    const dashed = r.curve.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p.minutes).toFixed(1)},${y(p.interventionRate).toFixed(1)}`).join(' ');
    if (r.interventions === 'scripted') parts.push(`<path d="${dashed}" fill="none" stroke="${colours[r.interventions]}" stroke-width="1" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${w - right + 8}" y="${top + 16 + i * 36}" font-family="sans-serif" font-size="12" fill="${colours[r.interventions]}">${r.interventions === 'none' ? 'no interventions' : 'scripted operator'}</text>`);
    parts.push(`<text x="${w - right + 8}" y="${top + 30 + i * 36}" font-family="sans-serif" font-size="11" fill="#555">${r.minutesTo80 === null ? `not 80% in ${r.minutes.toFixed(0)} min` : `80% at ${r.minutesTo80.toFixed(1)} min`}</text>`);
  });
  parts.push(`<text x="${w - right + 8}" y="${top + 16 + results.length * 36}" font-family="sans-serif" font-size="11" fill="#555">dashed: intervention rate</text>`);
  parts.push('</svg>');
  return parts.join('');
}

const results: ArmResult[] = [];
for (const arm of arms) results.push(await runArm(arm as 'none' | 'scripted'));
const cpu = cpus();
const report = {
  task: values.task,
  goal: { successRate: TARGET, window: WINDOW, minutes: 15 },
  set_up: `\`serve\` with its defaults on the simulator, ${layout ? `a lab's reset (robot.sim.layout seed ${layout.seed}, spread ${layout.spread})` : "the task's full randomisation"}, a new run folder per arm, no person; successRate = the policy's own successes (the simulator's predicate, in episodes the operator did not touch) over the last 10 episodes, assistedSuccessRate with the operator's help; the time includes recording the demos and cloning`,
  capMinutes,
  runs: results,
  machine: { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, date: new Date().toISOString(), loadAverage1m: loadavg()[0] },
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(report, null, 1)}\n`);
await sharp(Buffer.from(plotSvg(results))).png().toFile(values.out.replace(/\.json$/, '.png'));
for (const r of results) {
  console.log(`${r.interventions}: ${r.minutesTo80 === null ? `did not reach 80% in ${r.minutes} min` : `80% at ${r.minutesTo80} min, episode ${r.episodesTo80}`}; ${r.episodes} episodes, ${r.envSuccesses} successes (simulator), ${r.autonomousSuccesses} without the operator, ${r.claimedSuccesses} claimed by the run's judge (${r.confirmedClaims} confirmed)`);
}
console.log(`wrote ${values.out}`);
