import { describe, expect, it } from 'vitest';
import type { ArmAction, Observation } from '../robot/types.js';
import type { EnvObservation, EnvStep, RlEnvironment } from './environment.js';
import type { ShapingSettings } from './episode.js';
import { highProgressSteps, runEpisode, scoreEpisode, transitionsOf } from './episode.js';
import type { ObservationEncoder } from './observation.js';
import type { RewardScorer } from './scorer.js';
import { runShaping } from './train.js';
import { DEFAULT_SUCCESS_WINDOW } from '../reward/completion.js';

/** A hand moving along x; progress = x, success at x >= 1 (the environment's own predicate). */
class LineEnvironment implements RlEnvironment {
  readonly task = 'line';
  x = 0;
  stopped: string | undefined;
  constructor(readonly maxSteps: number) {}
  private obs(): EnvObservation {
    const observation: Observation = { state: { eePosition: [this.x, 0, 0], eeYaw: 0, gripperOpening: 1, jointPositions: [], stampMs: 0 }, frames: [] };
    return { observation, privileged: { state: Float32Array.of(this.x), progress: Math.min(1, this.x) } };
  }
  async reset(): Promise<EnvObservation> {
    this.x = 0;
    return this.obs();
  }
  async act(action: ArmAction): Promise<EnvStep> {
    this.x += action.dx;
    return { next: this.obs(), success: this.x >= 1 };
  }
  async stop(reason: string): Promise<void> {
    this.stopped = reason;
  }
  async close(): Promise<void> {}
}

const encoder: ObservationEncoder = { mode: 'privileged', label: 'x', size: 1, encode: async (o) => Float32Array.of(o.observation.state.eePosition[0]) };
const limits = { maxStepM: 0.25, maxYawStepRad: 0.1 };
const forward = async (): Promise<Float32Array> => Float32Array.of(1, 0, 0, 0, 0); // +0.25 per step

/** Scores x, but only when `release()` is called: a reward model slower than control. */
function gatedScorer(): RewardScorer & { release(): void; calls: number } {
  const waiting: (() => void)[] = [];
  let open = false;
  const scorer = {
    label: 'gated',
    privileged: true,
    calls: 0,
    release() {
      open = true;
      waiting.splice(0).forEach((go) => go());
    },
    beginEpisode: () => (o: EnvObservation) => {
      scorer.calls++;
      return new Promise<number>((resolve) => {
        const go = (): void => resolve(o.privileged!.progress);
        if (open) go();
        else waiting.push(go);
      });
    },
  };
  return scorer;
}

const shaping = (over: Partial<ShapingSettings> = {}): ShapingSettings => ({ mode: 'pbrs', gamma: 0.9, successDelta: 0.05, success: 'env', terminalPotential: 0, successPotential: 0, ...over });

describe('episode manager', () => {
  it('control never waits for the reward model: the episode runs to its end with no score back', async () => {
    const env = new LineEnvironment(3);
    const scorer = gatedScorer();
    const episode = await runEpisode({ env, encoder, scorer, limits, seed: 1, policy: async () => Float32Array.of(0.1, 0, 0, 0, 0), success: 'progress', successDelta: 0.05 });
    expect(episode.actions).toHaveLength(3);
    expect(episode.end).toBe('time-limit');
    let settled = false;
    void episode.progress.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false); // rewards are not known yet, so nothing can enter a buffer
    scorer.release();
    expect(await episode.progress).toHaveLength(4);
  });

  it('ends at the environment success and shapes a terminal last transition', async () => {
    const env = new LineEnvironment(10);
    const scorer = gatedScorer();
    scorer.release();
    const episode = await runEpisode({ env, encoder, scorer, limits, seed: 1, policy: forward, success: 'env', successDelta: 0.05 });
    expect(episode.end).toBe('success');
    expect(episode.actions).toHaveLength(4);
    const scored = await scoreEpisode(episode, shaping());
    expect(scored.success).toBe(true);
    expect(scored.progress).toEqual([0, 0.25, 0.5, 0.75, 1]);
    const transitions = transitionsOf(scored);
    expect(transitions.map((t) => t.terminal)).toEqual([false, false, false, true]);
    // pbrs: r = success + gamma * Phi(s') - Phi(s), Phi(terminal) = 0.
    expect(transitions[3]!.reward).toBeCloseTo(1 + 0 - 0.75, 6);
    expect(transitions[0]!.reward).toBeCloseTo(0.9 * 0.25 - 0, 6);
    // n-step transitions: discounted sums of the next rewards, shorter where the episode ends.
    const threeStep = transitionsOf(scored, 3, 0.9);
    expect(threeStep.map((t) => t.steps)).toEqual([3, 3, 2, 1]);
    expect(threeStep[0]!.reward).toBeCloseTo(transitions[0]!.reward + 0.9 * transitions[1]!.reward + 0.81 * transitions[2]!.reward, 6);
    expect(threeStep[0]!.nextObservation).toBe(scored.observations[3]);
    expect(threeStep[2]!.reward).toBeCloseTo(transitions[2]!.reward + 0.9 * transitions[3]!.reward, 6);
    expect(threeStep.map((t) => t.terminal)).toEqual([false, true, true, true]);
    // potentialWeight w scales Phi in the rewards a learner gets: w (gamma P(s') - P(s)), and r_success - w P(s) at the end.
    const weighted = transitionsOf(await scoreEpisode(episode, shaping({ potentialWeight: 0.3 })));
    expect(weighted[0]!.reward).toBeCloseTo(0.3 * (0.9 * 0.25 - 0), 6);
    expect(weighted[3]!.reward).toBeCloseTo(1 - 0.3 * 0.75, 6);
    // a run passes its potential weight to the shaping; a run.json from before the setting gets 1
    const older = { shaping: 'pbrs', gamma: 0.9, successDelta: 0.05, success: 'env', terminalPotential: 0, successPotential: 1 } as const;
    expect(runShaping({ ...older, potentialWeight: 0.3 })).toEqual({ ...shaping({ successPotential: 1 }), potentialWeight: 0.3, successWindow: DEFAULT_SUCCESS_WINDOW });
    expect(runShaping({ ...older, successWindow: 4 }).successWindow).toBe(4);
    expect(runShaping(older).potentialWeight).toBe(1);
  });

  it('a success judged by late progress cuts the episode where the completion judge first says done', async () => {
    const env = new LineEnvironment(8);
    const scorer = gatedScorer(); // nothing scored during the episode: success is found when scoring
    const episode = await runEpisode({ env, encoder, scorer, limits, seed: 1, policy: forward, success: 'progress', successDelta: 0.05, successWindow: 3 });
    expect(episode.actions).toHaveLength(8);
    scorer.release();
    // progress 0, 0.25, 0.5, 0.75, 1, 1, 1, ...: at the goal from s_4, held for 3 scored steps at s_6
    const scored = await scoreEpisode(episode, shaping({ success: 'progress', successWindow: 3 }));
    expect(scored.actions).toHaveLength(6);
    expect(scored.observations).toHaveLength(7);
    expect(scored.end).toBe('success');
    expect(scored.terminal).toBe(true);
    expect(scored.rewards.at(-1)).toBeCloseTo(1 + 0 - 1, 6); // r_success + gamma * 0 - P(s_5)
  });

  it('issue 31: a one-step spike of progress neither ends the episode nor pays a success', async () => {
    // The model calls 0.96 after 2 steps and 0.6 after; the environment never succeeds.
    const spikes = [0, 0.3, 0.96, 0.6, 0.6, 0.6, 0.6];
    const spiky: RewardScorer = { label: 'spiky', privileged: false, beginEpisode: () => { let i = 0; return async () => spikes[Math.min(i++, spikes.length - 1)]!; } };
    const hold = async (): Promise<Float32Array> => Float32Array.of(0, 0, 0, 0, 0);
    const episode = await runEpisode({ env: new LineEnvironment(6), encoder, scorer: spiky, limits, seed: 1, policy: hold, success: 'progress', successDelta: 0.05, successWindow: 3 });
    expect(episode.end).toBe('time-limit');
    expect(episode.actions).toHaveLength(6);
    for (const mode of ['sparse', 'pbrs'] as const) {
      const scored = await scoreEpisode(episode, shaping({ mode, success: 'progress', successWindow: 3 }));
      expect(scored.success).toBe(false);
      expect(scored.end).toBe('time-limit');
      expect(scored.actions).toHaveLength(6);
      expect(scored.terminal).toBe(false);
      if (mode === 'sparse') expect(scored.rewards).toEqual([0, 0, 0, 0, 0, 0]);
    }
    // a live judge's verdict (serve's run loop) is taken as given
    const judged = await scoreEpisode({ ...episode, judgedDoneAt: 4 }, shaping({ mode: 'sparse', success: 'progress', successWindow: 3 }));
    expect(judged).toMatchObject({ success: true, end: 'success', terminal: true, rewards: [0, 0, 0, 1] });
    expect((await scoreEpisode({ ...episode, progress: Promise.resolve([0, 1, 1, 1, 1, 1, 1]), judgedDoneAt: null }, shaping({ success: 'progress', successWindow: 3 }))).success).toBe(false);
  });

  it('naive shaping pays for hovering near the goal; the trap counter sees it', async () => {
    const scorer = gatedScorer();
    scorer.release();
    let t = 0;
    // Go to x = 0.9 and hover there, never finishing.
    const hover = async (): Promise<Float32Array> => Float32Array.of(t++ < 3 ? 1 : 0, 0, 0, 0, 0);
    const hovering = await runEpisode({ env: new LineEnvironment(6), encoder, scorer, limits: { maxStepM: 0.3, maxYawStepRad: 0.1 }, seed: 1, policy: hover, success: 'env', successDelta: 0.05 });
    const scored = await scoreEpisode(hovering, shaping({ mode: 'naive' }));
    expect(scored.success).toBe(false);
    expect(highProgressSteps(scored, 0.8)).toBe(4);
    // Each hovering step earns 0 under naive shaping but loses (1 - gamma) * P under pbrs.
    expect(scored.rewards.slice(3)).toEqual([0, 0, 0]);
    const pbrs = await scoreEpisode(hovering, shaping({ mode: 'pbrs' }));
    expect(pbrs.rewards[4]).toBeCloseTo(0.9 * 0.9 - 0.9, 5);
  });

  it('a non-finite action is a safety stop: the arm is held and the episode ends terminal', async () => {
    const env = new LineEnvironment(5);
    const scorer = gatedScorer();
    scorer.release();
    let t = 0;
    const episode = await runEpisode({ env, encoder, scorer, limits, seed: 1, policy: async () => Float32Array.of(t++ === 2 ? Number.NaN : 0.5, 0, 0, 0, 0), success: 'env', successDelta: 0.05 });
    expect(episode.end).toBe('stopped');
    expect(env.stopped).toMatch(/non-finite/);
    expect(episode.actions).toHaveLength(2);
    const scored = await scoreEpisode(episode, shaping());
    expect(scored.terminal).toBe(true);
    expect(scored.success).toBe(false);
  });

  it('an operator stop holds the arm', async () => {
    const env = new LineEnvironment(5);
    const scorer = gatedScorer();
    scorer.release();
    let steps = 0;
    const operator = { successRequested: () => false, stopRequested: () => (steps >= 1 ? 'e-stop pressed' : undefined) };
    const episode = await runEpisode({ env, encoder, scorer, limits, seed: 1, policy: async () => (steps++, Float32Array.of(0.5, 0, 0, 0, 0)), success: 'env', successDelta: 0.05, operator });
    expect(episode.end).toBe('stopped');
    expect(env.stopped).toBe('operator: e-stop pressed');
  });
});
