import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { configSchema } from '../../config/schema.js';
import { actionToVector, vectorToAction } from '../../policy/environment.js';
import type { EpisodeRecord } from '../../policy/records.js';
import { packFloats } from '../../policy/run-store.js';
import { runEnvironment } from '../../policy/train.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { benchRlSettings } from './rl-settings.js';
import { replayClaims } from './success-replay.js';

const settings = { ...benchRlSettings(configSchema.parse({})), reward: 'privileged' as const, observation: 'privileged' as const };

/** The clean expert's actions on seed `seed` (as a policy's logged vectors) up to its first success. */
async function expertRollout(seed: number): Promise<{ actions: Float32Array[]; firstSuccess: number }> {
  const { sim, env } = await runEnvironment(settings, createLogger('test', 'warn'));
  try {
    await env.reset(seed);
    const expert = new ScriptedExpert(sim.world, { noise: 0, seed });
    const actions: Float32Array[] = [];
    for (let t = 0; t < 200; t++) {
      const action = expert.next();
      if (!action) break;
      const vector = actionToVector(action, settings.bounds);
      actions.push(vector);
      if ((await env.act(vectorToAction(vector, settings.bounds))).success) return { actions, firstSuccess: t + 1 };
    }
    throw new Error('the expert did not succeed');
  } finally {
    await env.close();
  }
}

function record(index: number, seed: number, actions: Float32Array[], steps: number): EpisodeRecord {
  const flat = new Float32Array(steps * 5);
  actions.slice(0, steps).forEach((a, t) => flat.set(a, 5 * t));
  return { kind: 'episode', index, seed, steps, observationSize: 0, observations: '', actions: packFloats(flat), progress: [0, 1], rewards: [], terminal: true, success: true, end: 'success', highProgressSteps: 0 };
}

describe('replaying claimed successes on the simulator', () => {
  it('confirms a claim made where the task is done, and not one made before it', async () => {
    const { actions, firstSuccess } = await expertRollout(3);
    const [done, early] = await replayClaims(settings, [record(0, 3, actions, firstSuccess), record(1, 3, actions, firstSuccess - 3)]);
    expect(done).toMatchObject({ index: 0, steps: firstSuccess, confirmed: true, confirmedAnyStep: true, maxProgress: 1 });
    expect(early).toMatchObject({ index: 1, confirmed: false, confirmedAnyStep: false });
  }, 120_000);
});
