/**
 * The headline reward: GRM-tiny adapted one-shot (reward/grm-tiny/adapt.ts) on ONE clean
 * scripted-expert demo of the training task, recorded through the same simulator environment
 * (three rendered views per step, the expert's phases as keyframes). The adapted model and its
 * task references are cached in the run folder, so a resumed run scores with the same model.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/log.js';
import { adaptGrmTiny } from '../reward/grm-tiny/adapt.js';
import { memoryEpisode } from '../reward/grm-tiny/memory-episode.js';
import { views, type Views } from '../reward/grm-tiny/sim-data.js';
import { readReferences } from '../reward/task-references.js';
import type { SimEnvironment } from './environment.js';

export interface AdaptedRewardOptions {
  /** The GRM-tiny model to adapt. */
  base: string;
  /** Folder the adapted model is cached in (the run folder). */
  dir: string;
  /** Simulator seed of the demo. */
  seed: number;
  steps: number;
  pairs: number;
  /** Appearance variants of the demo to adapt on besides the demo (adapt.ts's default when absent). */
  variants?: number;
  log: Logger;
}

/** Path of the adapted model in `dir`, adapting first when it is not there yet. */
export async function adaptedRewardModel(env: SimEnvironment, task: { name: string; instructions: readonly string[] }, o: AdaptedRewardOptions): Promise<string> {
  const out = join(o.dir, 'adapted-grm-tiny.onnx');
  if (existsSync(out) && readReferences(out)) {
    o.log.info(`reward model: the adapted GRM-tiny cached in ${out}`);
    return out;
  }
  // One clean (noise 0) expert demo; the first seed whose demo succeeds.
  for (let attempt = 0; attempt < 10; attempt++) {
    const seed = o.seed + attempt;
    const frames: Views[] = [views((await env.reset(seed)).observation)];
    const expert = env.expert(0, seed);
    let success = false;
    for (let t = 0; t < env.maxSteps; t++) {
      const command = expert.next();
      if (!command) break;
      const step = await env.act(command);
      frames.push(views(step.next.observation));
      if (step.success === true) success = true;
    }
    if (!success) continue;
    const segments = expert.keyframes(frames.length - 1).map((k) => ({ label: k.anotation, startFrame: k.start_frame_id, endFrame: k.end_frame_id }));
    const episode = memoryEpisode({ name: `${task.name}_demo_seed${seed}`, instructions: task.instructions, frames, segments, fps: 10 });
    const report = await adaptGrmTiny(episode, { base: o.base, out, sampleFactor: 1, pairs: o.pairs, steps: o.steps, minVoc: 0, logger: o.log, ...(o.variants === undefined ? {} : { variants: o.variants }) });
    o.log.info(`reward model: GRM-tiny adapted one-shot on ${episode.name} (${frames.length} frames) in ${report.seconds} s; demo VOC forward ${report.after.forward}, reversed ${report.after.reversed}`);
    return out;
  }
  throw new Error(`${task.name}: no successful clean expert demo in 10 seeds to adapt the reward model on`);
}
