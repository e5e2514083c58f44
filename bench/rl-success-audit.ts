/**
 * Were a run's successes real? Replays, on the simulator, the logged actions of every training
 * rollout a `dopamine rl` run counted as a success (from fused progress, the environment or the
 * operator) and counts those the simulator's own success predicate confirms. The simulator is
 * deterministic for a seed and an action sequence, so the replay is the rollout (checked once by
 * hand: the replayed observations of four rollouts equalled the logged ones bit for bit). For a
 * run whose success came from the reward model's progress (`reward.shaping.success: progress`,
 * the configuration's default), this measures how often the policy learned to make the model call
 * success without doing the task. A diagnostic, not a timing: writes
 * bench/results/rl-success-audit.json (or --out file).
 *
 *   npm run bench:rl-success-audit -- --run-dir <dir> [--out file]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { EpisodeRecord, EvalRecord, LogRecord } from '../policy/records.js';
import { RecordLog } from '../policy/run-store.js';
import type { RlSettings } from '../policy/train.js';
import { replayClaims } from './lib/success-replay.js';

function textFlag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const runDir = textFlag('--run-dir');
if (!runDir || !existsSync(join(runDir, 'run.json')) || !existsSync(join(runDir, 'episodes.log'))) {
  console.error('bench:rl-success-audit: expected --run-dir <folder of a dopamine rl run, with run.json and episodes.log>');
  process.exit(2);
}
const out = textFlag('--out') ?? join('bench', 'results', 'rl-success-audit.json');
const settings = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RlSettings;
const { records } = new RecordLog<LogRecord>(join(runDir, 'episodes.log')).read();
const rollouts = records.filter((r): r is EpisodeRecord => r.kind === 'episode');
const counted = rollouts.filter((r) => r.success);

const audited = (await replayClaims(settings, counted)).map((c) => ({ ...c, confirmed: c.confirmedAnyStep }));

const per = 25;
const byRollouts = Array.from({ length: Math.ceil(rollouts.length / per) }, (_, k) => {
  const inRange = (i: number): boolean => i >= k * per && i < (k + 1) * per;
  const a = audited.filter((x) => inRange(x.index));
  return { rollouts: `${k * per + 1}-${Math.min((k + 1) * per, rollouts.length)}`, counted: a.length, confirmed: a.filter((x) => x.confirmed).length };
});
const curve = records.filter((r): r is EvalRecord => r.kind === 'eval').map((r) => ({ rollouts: r.rollouts, successes: r.successes, episodes: r.episodes }));
const confirmed = audited.filter((x) => x.confirmed).length;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      run: runDir, task: settings.task, shaping: settings.shaping, seed: settings.seed, successSource: settings.success, successDelta: settings.successDelta,
      rollouts: rollouts.length, counted: counted.length, confirmed, byRollouts,
      evaluationCurve: { judge: "the simulator's predicate, deterministic policy, fresh seeds", points: curve },
      audited,
    },
    null,
    1,
  )}\n`,
);
console.log(`${runDir}: success from ${settings.success}; ${counted.length} of ${rollouts.length} training rollouts counted as successes, ${confirmed} confirmed by the simulator's predicate on replay`);
for (const b of byRollouts) console.log(`  rollouts ${b.rollouts}: ${b.counted} counted, ${b.confirmed} confirmed`);
console.log(`  evaluation (simulator's predicate): ${curve.map((p) => `${p.rollouts}: ${p.successes}/${p.episodes}`).join(', ')}`);
console.log(`wrote ${out}`);
