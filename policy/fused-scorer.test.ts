import { describe, expect, it } from 'vitest';
import { fuseProgress } from '../reward/fusion.js';
import type { Observation } from '../robot/types.js';
import type { FusedHopSource } from './fused-scorer.js';
import { fusedProgressScorer } from './fused-scorer.js';
import { ProgressQueue } from './scorer.js';

/** The state is the hand's x in [0, 1]; a perfect model's hops follow Eq. 2 of the paper. */
const at = (x: number): Observation => ({ state: { eePosition: [x, 0, 0], eeYaw: 0, gripperOpening: 1, jointPositions: [], stampMs: 0 }, frames: [] });
const hop = (p: number, q: number): number => (q >= p ? (p === 1 ? 0 : (q - p) / (1 - p)) : (q - p) / p);
const perfect: FusedHopSource & { calls: number } = {
  name: 'perfect model',
  calls: 0,
  async fusedHops(previous, current) {
    perfect.calls++;
    const [p, q] = [previous.state.eePosition[0], current.state.eePosition[0]];
    return { incremental: hop(p, q), fromStart: hop(0, q), fromGoal: hop(1, q) };
  },
};

describe('fused progress scorer', () => {
  it('asks the model one fused step per new state and returns the reward core fusion of the hops', async () => {
    const xs = [0, 0.2, 0.5, 0.4, 1];
    const queue = new ProgressQueue(fusedProgressScorer(perfect).beginEpisode());
    for (const x of xs) queue.push({ observation: at(x) });
    const progress = await queue.all();
    expect(perfect.calls).toBe(4);
    expect(progress[0]).toBe(0);
    // Same numbers as the reward core's fusion of the same hops.
    const expected = fuseProgress(xs.slice(1).map((q, i) => ({ incremental: hop(xs[i]!, q), fromStart: hop(0, q), fromGoal: hop(1, q) })));
    expect(progress.slice(1)).toEqual(expected.map((s) => s.progress));
    // A perfect model reproduces the true progress.
    progress.forEach((p, i) => expect(p).toBeCloseTo(xs[i]!, 9));
  });

  it('each episode starts its own fusion; a model error fails that episode only', async () => {
    let fail = true;
    const flaky: FusedHopSource = {
      name: 'flaky',
      fusedHops: async () => {
        if (fail) throw new Error('server unreachable');
        return { incremental: 0.5, fromStart: 0.5, fromGoal: -0.5 };
      },
    };
    const scorer = fusedProgressScorer(flaky);
    expect(scorer.privileged).toBe(false);
    const first = new ProgressQueue(scorer.beginEpisode());
    first.push({ observation: at(0) });
    first.push({ observation: at(0.5) });
    await expect(first.all()).rejects.toThrow(/server unreachable/);
    fail = false;
    const second = new ProgressQueue(scorer.beginEpisode());
    second.push({ observation: at(0) });
    second.push({ observation: at(0.5) });
    expect(await second.all()).toEqual([0, 0.5]);
  });
});
