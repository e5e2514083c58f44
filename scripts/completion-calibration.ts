/**
 * One-off measurement behind reward.shaping.successWindow (issue 31): runs `dopamine grm eval`'s
 * held-out evaluation (pick-place by default) at one or more rollout seeds, keeps every clean
 * (successful) and failed rollout's fused-progress curve after adaptation scored at every control
 * step (as `rl` scores), and picks the (threshold, window) pair of the completion judge with the
 * best accuracy at most 1 false success in 50, and the longest window among the pairs within one
 * episode of it (reward/completion-calibration.ts).
 *
 *   npx tsx scripts/completion-calibration.ts [--task pick-place] [--seeds 7,8] [--clean 20] [--failed 25] [--out file.json]
 *   npx tsx scripts/completion-calibration.ts --from file.json   (the curves an earlier --out wrote)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger } from '../common/log.js';
import { loadConfig } from '../config/load.js';
import { calibrateCompletion, type LabelledCurve } from '../reward/completion-calibration.js';
import { evaluateHeldOut } from '../reward/grm-tiny/evaluate.js';
import { DEFAULT_GRM_TINY } from '../reward/grm-tiny/paths.js';

const { values } = parseArgs({
  options: {
    task: { type: 'string', default: 'pick-place' },
    seeds: { type: 'string', default: '7,8' },
    clean: { type: 'string', default: '20' },
    failed: { type: 'string', default: '25' },
    out: { type: 'string' },
    from: { type: 'string' },
  },
});
const config = loadConfig();
const log = createLogger('calibration', 'info');
type Curve = LabelledCurve & { name: string; seed: number };
const curves: Curve[] = values.from ? (JSON.parse(readFileSync(values.from, 'utf8')) as { curves: Curve[] }).curves : [];
for (const seed of values.from ? [] : values.seeds.split(',').map(Number)) {
  const report = await evaluateHeldOut({
    config,
    task: values.task,
    model: DEFAULT_GRM_TINY,
    clean: Number(values.clean),
    failed: Number(values.failed),
    // The calibration as measured: clean and failed rollouts (near misses are a later measurement).
    nearMiss: 0,
    regression: 0,
    seed,
    adaptSteps: config.reward.adapt.steps,
    curveStride: 1,
    logger: log,
  });
  for (const r of report.curves!.rollouts) curves.push({ ...r, seed });
  log.info(`seed ${seed}: ${report.curves!.rollouts.length} curves (fused VOC after adaptation ${report.clean.after.voc.fused})`);
}
const result = calibrateCompletion(curves);
const tail = (c: LabelledCurve): string => c.progress.slice(-8).map((p) => p.toFixed(2)).join(' ');
for (const c of curves) log.info(`${c.success ? 'success' : 'failed '} ${c.name}: ${c.progress.length} states, max ${Math.max(...c.progress).toFixed(3)}, last 8: ${tail(c)}`);
const summary = { task: values.task, seeds: values.seeds, stride: 1, ...result };
const table = result.rows.map((r) => `threshold ${r.threshold} window ${r.window}: ${r.truePositives}/${result.successes} successes done, ${r.falsePositives}/${result.failures} failures done, accuracy ${r.accuracy.toFixed(3)}${r.allowed ? '' : ' (over the limit)'}`);
process.stdout.write(`${table.join('\n')}\nbest: ${JSON.stringify(result.chosen)}\nties (within one episode): ${result.ties.map((t) => `${t.threshold}/${t.window}`).join(', ')}\nconservative: ${JSON.stringify(result.conservative)}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify({ ...summary, curves: curves.map((c) => ({ name: c.name, seed: c.seed, success: c.success, progress: c.progress.map((p) => Math.round(p * 1e4) / 1e4) })) })}\n`);
