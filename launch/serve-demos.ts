/**
 * Demos for `serve` on the simulator (issue 33): at the first start of a run folder the scripted
 * expert records policy.demos successful episodes through the same recording path as `dopamine rl`
 * (policy/train.ts collectDemo: its own simulator behind the same safety caps, the policy's encoder,
 * the reward model scoring every state), and they are logged in the run folder's episode log as
 * demo records, so a restart reuses them. The learner then clones them and keeps them in its demo
 * buffer, as `dopamine rl` does.
 */
import { systemClock } from '../common/clock.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/schema.js';
import { scoreEpisode, type ShapingSettings } from '../policy/episode.js';
import { SafeSimEnvironment, SimEnvironment } from '../policy/environment.js';
import type { ObservationEncoder } from '../policy/observation.js';
import { toRecord, type EpisodeRecord } from '../policy/records.js';
import type { RewardScorer } from '../policy/scorer.js';
import { collectDemo, DEMO_STREAM } from '../policy/train.js';
import { EventStream } from '../robot/events.js';
import { deriveSeed } from '../robot/sim/rng.js';

/** Expert noise of the demos, as in `dopamine rl`: shaky but mostly successful. */
const DEMO_NOISE = 0.3;

export interface SimDemoOptions {
  config: Config;
  encoder: ObservationEncoder;
  scorer: RewardScorer;
  shaping: ShapingSettings;
  /** Demo records the run folder holds already (they count towards the number wanted). */
  logged: readonly EpisodeRecord[];
  /** Each new demo, as soon as it is scored (the caller logs it durably). */
  onDemo: (record: EpisodeRecord) => void;
  log: Logger;
}

/** Records the missing demos; returns every demo record (logged ones first). */
export async function recordSimDemos(options: SimDemoOptions): Promise<EpisodeRecord[]> {
  const { config, log } = options;
  const wanted = typeof config.policy.demos === 'number' ? config.policy.demos : 0;
  const demos = [...options.logged];
  if (demos.length >= wanted) return demos;
  const bounds = { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax };
  const sim = await SimEnvironment.create({
    task: config.robot.task,
    physicsStepS: config.robot.sim.physicsStepS,
    controlHz: config.robot.controlHz,
    bounds,
    cameras: { width: config.cameras.width, height: config.cameras.height },
    // The task's own time limit: the expert needs it, whatever robot.episodeSeconds the policy gets.
    ...(config.robot.sim.layout ? { layout: config.robot.sim.layout } : {}),
  });
  try {
    const env = new SafeSimEnvironment(sim, config.safety, { clock: systemClock, events: new EventStream(systemClock), log: log.child('safety') });
    const started = performance.now();
    const bar = progressBar(wanted, log);
    bar(demos.length, 0);
    const firstAttempt = demos.length === 0 ? 0 : (demos.at(-1)!.attempt ?? demos.length - 1) + 1;
    let attempts = 0;
    for (let j = firstAttempt; demos.length < wanted && j < firstAttempt + wanted * 3; j++) {
      attempts++;
      const seed = deriveSeed(config.policy.seed, DEMO_STREAM + j);
      const demo = await collectDemo(env, options.encoder, options.scorer, seed, { demoNoise: DEMO_NOISE, bounds }, deriveSeed(config.policy.seed, DEMO_STREAM + 100_000 + j));
      if (demo.end !== 'success') {
        await demo.progress.catch(() => undefined); // its scoring is done before the model is used again
        continue; // a failed attempt is not a demo
      }
      const scored = await scoreEpisode(demo, { ...options.shaping, success: 'env' });
      const record: EpisodeRecord = { ...toRecord('demo', demos.length, scored, 0.8), attempt: j };
      options.onDemo(record);
      demos.push(record);
      bar(demos.length, (performance.now() - started) / 1000);
    }
    if (demos.length < wanted) log.warn(`demos: only ${demos.length} of ${wanted} wanted succeeded in ${attempts} expert attempts`);
    log.info(`demos: ${demos.length} in the run folder (${attempts} expert attempts now, ${((performance.now() - started) / 1000).toFixed(0)} s)`);
    return demos;
  } finally {
    await sim.close();
  }
}

/** A progress bar on a terminal (one line, redrawn), a log line per demo elsewhere. */
function progressBar(total: number, log: Logger): (done: number, seconds: number) => void {
  const tty = process.stderr.isTTY === true;
  return (done, seconds) => {
    const text = `recording scripted-expert demos ${done}/${total}${seconds > 0 ? ` (${seconds.toFixed(0)} s)` : ''}`;
    if (!tty) {
      if (done > 0) log.info(text);
      return;
    }
    const width = 20;
    const filled = Math.round((width * done) / Math.max(1, total));
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}${done >= total ? '\n' : ''}`);
  };
}
