/**
 * The reward model's side of the loop: a RewardScorer that turns the model's three hops per new
 * state (incremental, from the start reference, from the goal reference) into fused progress with
 * the reward core's ProgressFusion. The model is reached through `FusedHopSource`, a small
 * interface a reward-model backend satisfies in a few lines (for the project's GRM:
 * `predictFusedStep(model, task, views(previous), views(current))`).
 */
import type { FusionHops, FusionOptions } from '../reward/fusion.js';
import { ProgressFusion } from '../reward/fusion.js';
import type { Observation } from '../robot/types.js';
import type { RewardScorer } from './scorer.js';

export interface FusedHopSource {
  /** Names the model in logs and results. */
  readonly name: string;
  /** H(s_{t-1}, s_t), H(s_init, s_t) and H(s_goal, s_t) for the episode's newest state (`first` is s_0). */
  fusedHops(previous: Observation, current: Observation, first: Observation): Promise<FusionHops>;
}

export function fusedProgressScorer(source: FusedHopSource, fusion: FusionOptions = {}): RewardScorer {
  return {
    label: `fused progress from ${source.name}`,
    privileged: false,
    beginEpisode: () => {
      const fused = new ProgressFusion(fusion);
      let previous: Observation | undefined;
      let first: Observation | undefined;
      return async ({ observation }) => {
        if (previous === undefined || first === undefined) {
          previous = first = observation;
          return fused.progress; // s_0: the initial progress
        }
        const hops = await source.fusedHops(previous, observation, first);
        previous = observation;
        return fused.step(hops).progress;
      };
    },
  };
}
