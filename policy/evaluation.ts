/**
 * Evaluation of the deterministic policy on fresh seeds (the success curve). Episodes can be spread
 * over several slots (a simulator behind its safety layer, its observation encoder and a policy)
 * that run concurrently, and a policy can be a frozen copy of the actor network, so that an
 * evaluation goes on while training does (train.ts).
 */
import type { ActionLimits, RlEnvironment } from './environment.js';
import type { Operator } from './episode.js';
import { runEpisode } from './episode.js';
import type { ObservationEncoder } from './observation.js';
import { Rng } from './rng.js';
import { isActingParameter, SacLearner, type SacOptions } from './sac.js';

/** Where evaluation episodes run: one simulator, its encoder, and the policy being evaluated. */
export interface EvaluationSlot {
  env: RlEnvironment;
  encoder: ObservationEncoder;
  /** The deterministic action at an observation. */
  act: (observation: Float32Array) => Promise<Float32Array>;
}

export interface EvaluationOptions {
  episodes: number;
  /** The seed of evaluation episode j. */
  seedOf: (episode: number) => number;
  limits: ActionLimits;
  /** The simulator's predicate judges success; with an operator, the operator does. */
  operator?: Operator | undefined;
}

/**
 * Successes in `episodes` evaluation episodes. Each slot takes the next episode as soon as it is
 * free, so the slots run concurrently; every episode's result depends only on its seed and the
 * policy, so how they are spread does not change the count.
 */
export async function countSuccesses(slots: readonly EvaluationSlot[], o: EvaluationOptions): Promise<number> {
  if (slots.length === 0) throw new RangeError('evaluation: expected at least one slot, got none');
  if (o.operator && slots.length > 1) throw new RangeError('evaluation: an operator judges one episode at a time, got several slots');
  let next = 0;
  let successes = 0;
  await Promise.all(
    slots.map(async (slot) => {
      while (next < o.episodes) {
        const j = next++;
        const e = await runEpisode({
          env: slot.env, encoder: slot.encoder, limits: o.limits, seed: o.seedOf(j),
          scorer: { label: 'none', privileged: false, beginEpisode: () => async () => 0 },
          policy: slot.act, successDelta: 0,
          ...(o.operator ? { success: 'operator' as const, operator: o.operator } : { success: 'env' as const }),
        });
        await e.progress;
        if (e.end === 'success') successes++;
      }
    }),
  );
  return successes;
}

/** A copy of the actor network frozen at some moment of a run, to evaluate while the learner goes on. */
export class FrozenPolicy {
  private constructor(private readonly net: SacLearner) {}

  /** The actor's architecture from the learner's settings (LearnerSettings carry them). */
  static async create(settings: Omit<SacOptions, 'actionSize' | 'batchSize'>): Promise<FrozenPolicy> {
    return new FrozenPolicy(await SacLearner.create({ ...settings, actionSize: 5, batchSize: 2 }));
  }

  /** Takes these actor weights (all of the actor's parameters, as Learner.actorWeights gives them). */
  load(weights: Record<string, Float32Array>): void {
    const expected = this.net.store.names().filter(isActingParameter);
    for (const name of expected) {
      const values = weights[name];
      const param = this.net.store.get(name);
      if (!values || values.length !== param.data.length) {
        throw new RangeError(`frozen policy: expected ${param.data.length} values for ${name}, got ${values ? values.length : 'none'}`);
      }
      param.data.set(values);
    }
  }

  /** The deterministic action (no noise is drawn for it). */
  act(observation: Float32Array): Promise<Float32Array> {
    return this.net.act(observation, new Rng(0), true);
  }

  dispose(): Promise<void> {
    return this.net.dispose();
  }
}
