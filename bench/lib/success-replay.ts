/**
 * Replays, on the simulator, the logged actions of training rollouts a `dopamine rl` run counted
 * as successes, and asks the simulator's own success predicate whether they were. The simulator
 * is deterministic for a seed and an action sequence, so the replay is the rollout.
 */
import { vectorToAction } from '../../policy/environment.js';
import type { EpisodeRecord } from '../../policy/records.js';
import { unpackFloats } from '../../policy/run-store.js';
import type { RlSettings } from '../../policy/train.js';
import { runEnvironment } from '../../policy/train.js';
import { createLogger } from '../../common/log.js';

export interface ReplayedClaim {
  index: number;
  /** Control steps of the rollout: the run ended it at the step the success was called. */
  steps: number;
  /** The predicate held at the step the success was called (the rollout's last). */
  confirmed: boolean;
  /** The predicate held at some step of the rollout. */
  confirmedAnyStep: boolean;
  maxProgress: number;
}

export async function replayClaims(settings: RlSettings, claims: readonly EpisodeRecord[]): Promise<ReplayedClaim[]> {
  // Physics alone decides the predicate: the replay renders no camera and scores nothing.
  const { env } = await runEnvironment({ ...settings, reward: 'privileged', observation: 'privileged' }, createLogger('success-replay', 'warn'));
  const out: ReplayedClaim[] = [];
  try {
    for (const r of claims) {
      const actions = unpackFloats(r.actions);
      await env.reset(r.seed);
      let any = false;
      let last = false;
      for (let t = 0; t < r.steps; t++) {
        const step = await env.act(vectorToAction(actions.subarray(t * 5, t * 5 + 5), settings.bounds));
        last = step.success === true;
        any ||= last;
      }
      out.push({ index: r.index, steps: r.steps, confirmed: last, confirmedAnyStep: any, maxProgress: Math.max(...r.progress) });
    }
  } finally {
    await env.close();
  }
  return out;
}
