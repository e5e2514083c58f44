/**
 * Checks the one-shot adaptation on a real demo with episodes made from that demo
 * (reward/real-checks.ts): `dopamine adapt` on the demo with the defaults, then the adapted model
 * scores a perturbed copy of the demo at a stride (other camera set-ups, frames between those it
 * was adapted on) and a forward-then-back episode of its frames. Prints one JSON document.
 *
 *   npx tsx scripts/real-demo-check.ts <episode-dir> [--base model.onnx] [--variants n] [--stride 30]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numberFlag, textFlag } from '../bench/lib/flags.js';
import { loadConfig } from '../config/load.js';
import { completionRule } from '../reward/completion.js';
import { OnnxRewardModel } from '../reward/onnx-backend.js';
import { openEpisode } from '../reward/open-episode.js';
import { realDemoFigures } from '../reward/real-checks.js';

const dir = process.argv[2];
if (!dir || dir.startsWith('--')) {
  console.error('real-demo-check: expected an episode folder: npx tsx scripts/real-demo-check.ts <episode-dir> [--base model.onnx] [--stride 30]');
  process.exit(2);
}
const stride = numberFlag('--stride') ?? 30;
const base = textFlag('--base');
const variants = textFlag('--variants');
const config = loadConfig();
const work = mkdtempSync(join(tmpdir(), 'real-demo-check-'));
try {
  const out = join(work, 'adapted.onnx');
  const started = performance.now();
  const adapt = spawnSync(process.execPath, ['bin/dopamine.js', 'adapt', dir, '--out', out, '--min-voc', '0', '--json', ...(base ? ['--base', base] : []), ...(variants ? ['--variants', variants] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (adapt.status !== 0) {
    console.error(`real-demo-check: dopamine adapt ${dir} exited with ${adapt.status}`);
    process.exit(adapt.status ?? 1);
  }
  const adaptSeconds = Math.round((performance.now() - started) / 100) / 10;
  const adaptation = JSON.parse(adapt.stdout) as { after: unknown; sampleFactor: number };
  const demo = await openEpisode(dir, config);
  const model = await OnnxRewardModel.load(out, { executionProvider: 'cpu' });
  try {
    const figures = await realDemoFigures(model, demo, { stride, fusion: config.reward.fusion, completion: completionRule(config.reward.shaping.successDelta, config.reward.shaping.successWindow) });
    console.log(JSON.stringify({ demo: demo.name, base: base ?? 'models/grm-tiny.onnx', adaptation: { seconds: adaptSeconds, demoVoc: adaptation.after, sampleFactor: adaptation.sampleFactor }, ...figures }, null, 1));
  } finally {
    await model.close();
    await demo.close();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
