import { describe, expect, it } from 'vitest';
import type { ArmAction, Observation } from '../robot/types.js';
import type { EnvObservation, EnvStep, RlEnvironment } from './environment.js';
import type { EvaluationSlot } from './evaluation.js';
import { countSuccesses, FrozenPolicy } from './evaluation.js';
import { actorWeightsOf } from './learner.js';
import type { ObservationEncoder } from './observation.js';
import { Rng } from './rng.js';
import { packWeights, unpackWeights } from './run-store.js';
import { SacLearner } from './sac.js';

/** Episodes whose seed is a multiple of 3 succeed at the first step; each step yields to the event loop. */
class SeededEnvironment implements RlEnvironment {
  readonly task = 'seeded';
  readonly maxSteps = 3;
  readonly seeds: number[] = [];
  private seed = 0;
  private obs(): EnvObservation {
    const observation: Observation = { state: { eePosition: [0, 0, 0], eeYaw: 0, gripperOpening: 1, jointPositions: [], stampMs: 0 }, frames: [] };
    return { observation };
  }
  async reset(seed: number): Promise<EnvObservation> {
    this.seeds.push(seed);
    this.seed = seed;
    return this.obs();
  }
  async act(_action: ArmAction): Promise<EnvStep> {
    await new Promise((r) => setImmediate(r));
    return { next: this.obs(), success: this.seed % 3 === 0 };
  }
  async stop(): Promise<void> {}
  async close(): Promise<void> {}
}

const encoder: ObservationEncoder = { mode: 'privileged', label: 'none', size: 1, encode: async () => Float32Array.of(0) };
const still = async (): Promise<Float32Array> => Float32Array.of(0, 0, 0, 0, 0);
const limits = { maxStepM: 0.03, maxYawStepRad: 0.1 };
const slot = (env: SeededEnvironment): EvaluationSlot => ({ env, encoder, act: still });

describe('countSuccesses', () => {
  it('spreads the episodes over concurrent slots, each seed once, with the count one slot gives', async () => {
    const options = { episodes: 10, seedOf: (j: number) => 100 + j, limits };
    const [a, b, alone] = [new SeededEnvironment(), new SeededEnvironment(), new SeededEnvironment()];
    const together = await countSuccesses([slot(a), slot(b)], options);
    // Seeds 100..109: 102, 105, 108 are multiples of 3.
    expect(together).toBe(3);
    expect(await countSuccesses([slot(alone)], options)).toBe(3);
    expect([...a.seeds, ...b.seeds].sort((x, y) => x - y)).toEqual(alone.seeds);
    expect(a.seeds.length).toBeGreaterThan(0);
    expect(b.seeds.length).toBeGreaterThan(0);
  });

  it('refuses several slots when an operator judges success', async () => {
    const operator = { stopRequested: () => undefined, successRequested: () => false };
    await expect(countSuccesses([slot(new SeededEnvironment()), slot(new SeededEnvironment())], { episodes: 1, seedOf: () => 0, limits, operator })).rejects.toThrow(/operator/);
  });
});

describe('FrozenPolicy', () => {
  const options = { observationSize: 4, hidden: [16, 16], learningRate: 3e-3, gamma: 0.9, tau: 0.05, initialAlpha: 0.01, executionProvider: 'cpu' as const, threads: 1, gripperLogitLimit: 5 };
  it('acts as the learner whose actor weights it loaded (through the packed form the log keeps)', async () => {
    const learner = await SacLearner.create({ ...options, seed: 1, actionSize: 5, batchSize: 2 });
    const frozen = await FrozenPolicy.create({ ...options, seed: 2 });
    try {
      const rng = new Rng(5);
      const observations = Array.from({ length: 5 }, () => Float32Array.from({ length: 4 }, () => rng.normal()));
      const before = await Promise.all(observations.map((o) => frozen.act(o)));
      frozen.load(unpackWeights(packWeights(actorWeightsOf(learner))));
      for (const [i, o] of observations.entries()) {
        const expected = await learner.act(o, new Rng(0), true);
        expect(Array.from(await frozen.act(o))).toEqual(Array.from(expected));
        // Differently initialised before loading, so the comparison can fail.
        expect(Array.from(before[i]!)).not.toEqual(Array.from(expected));
      }
      const weights = actorWeightsOf(learner);
      const [first] = Object.keys(weights);
      delete weights[first!];
      expect(() => frozen.load(weights)).toThrow(new RegExp(`expected \\d+ values for ${first!.replace('.', '\\.')}, got none`));
    } finally {
      await learner.dispose();
      await frozen.dispose();
    }
  });
});
