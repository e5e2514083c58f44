import { describe, expect, it } from 'vitest';
import type { ScoredEpisode } from './episode.js';
import { demoNormaliser } from './normaliser.js';
import { toRecord } from './records.js';
import { allocateBatch, ReplayBuffer } from './replay.js';
import { Rng } from './rng.js';
import { SacLearner } from './sac.js';

function demo(observations: number[][]): ScoredEpisode {
  const steps = observations.length - 1;
  return {
    seed: 1, observations: observations.map((o) => Float32Array.from(o)), actions: Array.from({ length: steps }, () => new Float32Array(5)),
    envSuccess: new Array<boolean>(steps).fill(false), progress: new Array<number>(steps + 1).fill(0), rewards: new Array<number>(steps).fill(0),
    terminal: true, success: true, end: 'success',
  };
}

const options = { observationSize: 2, actionSize: 5, hidden: [32, 32], batchSize: 64, learningRate: 3e-3, gamma: 0.5, tau: 0.05, initialAlpha: 0.01, seed: 3, executionProvider: 'cpu' as const };

describe('observation normaliser', () => {
  it('is the mean and inverse deviation of every demo state; a constant value is only shifted', () => {
    const records = [toRecord('demo', 0, demo([[0, 5], [2, 5]]), 0.8), toRecord('demo', 1, demo([[4, 5], [6, 5]]), 0.8)];
    const n = demoNormaliser(records);
    expect(n.shift[0]).toBeCloseTo(3, 5);
    expect(n.scale[0]).toBeCloseTo(1 / Math.sqrt(5), 5); // values 0 2 4 6: variance 5
    expect(n.shift[1]).toBeCloseTo(5, 5);
    expect(n.scale[1]).toBe(1);
    expect(() => demoNormaliser([])).toThrow(/expected demo observations/);
  });

  it('inside the networks: acting on o with the normaliser equals acting on the standardised o without it', async () => {
    const normaliser = { shift: [0.3, -2], scale: [50, 0.5] };
    const withIt = await SacLearner.create({ ...options, observationNormaliser: normaliser });
    const without = await SacLearner.create(options);
    const rng = new Rng(1);
    for (const o of [[0.31, -1], [0.29, -4], [0.3, 6]]) {
      const a = await withIt.act(Float32Array.from(o), rng, true);
      const b = await without.act(Float32Array.from(o.map((v, i) => (v - normaliser.shift[i]!) * normaliser.scale[i]!)), rng, true);
      for (let k = 0; k < 5; k++) expect(a[k]).toBeCloseTo(b[k]!, 5);
    }
    await expect(SacLearner.create({ ...options, observationNormaliser: { shift: [0], scale: [1] } })).rejects.toThrow(/expected 2 values, got 1 and 1/);
    await withIt.dispose();
    await without.dispose();
  });

  it('lets the learner use a value that moves by hundredths (without it, the same 300 updates leave the action near 0)', async () => {
    // One-step task: the best first action is 0.5 * sign, where the observation carries the sign
    // as 0.3 +- 0.01 (as a keypoint does) next to a value of spread 1.
    const rng = new Rng(4);
    const buffer = new ReplayBuffer('bandit', 2000, 2, 5);
    for (let i = 0; i < 2000; i++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      const observation = [0.3 + 0.01 * sign, rng.normal()];
      const action = Float32Array.from({ length: 5 }, () => rng.next() * 2 - 1);
      buffer.add({ observation, action, reward: -Math.abs(action[0]! - 0.5 * sign), nextObservation: observation, terminal: true });
    }
    const learner = await SacLearner.create({ ...options, observationNormaliser: { shift: [0.3, 0], scale: [100, 1] } });
    const batch = allocateBatch(64, 2, 5);
    for (let i = 0; i < 300; i++) {
      buffer.sampleInto(batch, 0, 64, rng);
      await learner.update(batch, rng);
    }
    const up = (await learner.act(Float32Array.of(0.31, 0), rng, true))[0]!;
    const down = (await learner.act(Float32Array.of(0.29, 0), rng, true))[0]!;
    expect(Math.abs(up - 0.5)).toBeLessThan(0.2);
    expect(Math.abs(down + 0.5)).toBeLessThan(0.2);
    await learner.dispose();
  });
});
