/**
 * `dopamine rl` drives the simulator through the same safety layer as a lab arm: clipped steps,
 * refused actions and the e-stop act on training episodes, and the episode manager ends an episode
 * the safety layer would not move.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/log.js';
import { EventStream } from '../robot/events.js';
import type { SafetySettings } from '../robot/safety.js';
import { SafeSimEnvironment, SimEnvironment } from './environment.js';
import { runEpisode } from './episode.js';
import { privilegedObservations } from './observation.js';
import { privilegedProgressScorer } from './scorer.js';

const bounds = { maxStepM: 0.03, maxYawStepRad: 0.1, workspaceMin: [0.25, -0.3, 0.02] as [number, number, number], workspaceMax: [0.75, 0.3, 0.45] as [number, number, number] };

async function safeEnv(onViolation: SafetySettings['onViolation']): Promise<SafeSimEnvironment> {
  const sim = await SimEnvironment.create({ task: 'pick-place', physicsStepS: 0.002, controlHz: 10, bounds, maxSteps: 20 });
  const safety: SafetySettings = { ...bounds, onViolation, staleFrameMs: 500, rewardTimeoutMs: 5000, actorTimeoutMs: 1000 };
  return new SafeSimEnvironment(sim, safety, { clock: systemClock, events: new EventStream(systemClock), log: createLogger('test', 'silent') });
}

const dist = (a: readonly number[], b: readonly number[]): number => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);

describe('the simulator behind the safety layer', () => {
  it('clips a step longer than the cap (a diagonal full-scale action) and counts it', async () => {
    const env = await safeEnv('clip');
    const start = (await env.reset(3)).observation.state.eePosition;
    const step = await env.act({ dx: 0.03, dy: 0.03, dz: 0.03, dyaw: 0, gripper: 0 });
    expect(step.heldBy).toBeUndefined();
    // without the safety layer this would move sqrt(3) * 3 cm; clipped, the hand moves at most 3 cm (and a little tracking slack)
    expect(dist(step.next.observation.state.eePosition, start)).toBeLessThan(0.033);
    expect(env.safety.status().counts).toMatchObject({ forwarded: 1, clipped: 1 });
    expect(step.next.privileged?.state).toHaveLength(8);
    await env.close();
  });

  it('ends the episode as stopped when the safety layer refuses an action or the e-stop is latched', async () => {
    const env = await safeEnv('refuse');
    const common = { env, encoder: privilegedObservations(8), scorer: privilegedProgressScorer(), limits: bounds, seed: 4, success: 'env' as const, successDelta: 0.05 };
    // a policy that always asks for the largest diagonal step: refused on its first action
    const refused = await runEpisode({ ...common, policy: async () => Float32Array.of(1, 1, 1, 0, -1) });
    expect(refused.end).toBe('stopped');
    expect(refused.stopReason).toMatch(/safety: action out of bounds/);
    expect(refused.actions).toHaveLength(0);
    expect(env.safety.status().counts.refused).toBe(1);

    // an in-bounds policy runs to the time limit ...
    const fine = await runEpisode({ ...common, policy: async () => Float32Array.of(0.2, 0, 0, 0, -1) });
    expect(fine.end).toBe('time-limit');
    expect(fine.actions).toHaveLength(20);
    // ... until the operator's e-stop, after which nothing moves and the next reset is refused
    let steps = 0;
    const stopped = await runEpisode({
      ...common,
      policy: async () => Float32Array.of(0.2, 0, 0, 0, -1),
      afterStep: async () => {
        if (++steps === 5) await env.safety.estop('operator', 'test');
      },
    });
    expect(stopped.end).toBe('stopped');
    expect(stopped.stopReason).toMatch(/e-stop latched/);
    expect(stopped.actions).toHaveLength(5);
    await expect(env.reset(5)).rejects.toThrow(/e-stop latched/);
    await env.close();
  });
});
