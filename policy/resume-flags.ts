/**
 * `dopamine rl --resume` continues a run with the settings stored in its run.json. A flag given
 * on the command line that would change one of them cannot be honoured, so it is refused by name
 * instead of being dropped silently; one that repeats the stored value is fine. Only --rollouts
 * may change (grow: the run trains on to the new number).
 */
import { InputError } from '../common/errors.js';
import type { RlSettings } from './train.js';

/** A command-line flag that was given (not a default) and the setting it sets. */
export interface GivenFlag {
  flag: string;
  key: keyof RlSettings;
}

/** The flags of `dopamine rl` that set a stored setting. */
export const RL_FLAG_SETTINGS: Readonly<Record<string, keyof RlSettings>> = {
  '--task': 'task',
  '--rollouts': 'rollouts',
  '--shaping': 'shaping',
  '--success': 'success',
  '--potential-weight': 'potentialWeight',
  '--seed': 'seed',
  '--reward': 'reward',
  '--reward-model': 'rewardModel',
  '--observation': 'observation',
  '--privileged-error': 'privilegedErrorCm',
  '--layout-spread': 'layout',
  '--layout-seed': 'layout',
  '--demos': 'demos',
  '--hidden': 'hidden',
  '--batch-size': 'batchSize',
  '--updates-per-step': 'updatesPerStep',
  '--eval-every': 'evalEvery',
  '--eval-episodes': 'evalEpisodes',
  '--final-eval-episodes': 'finalEvalEpisodes',
  '--max-steps': 'maxSteps',
  '--bc-steps': 'bcSteps',
  '--bc-weight': 'bcWeight',
  '--normalise-q': 'normaliseQ',
  '--prior-weight': 'priorWeight',
  '--gripper-logit-limit': 'gripperLogitLimit',
  '--actor-ema': 'actorEmaRate',
  '--q-filter': 'qFilter',
  '--success-demos': 'successDemos',
  '--gripper-switch-weight': 'gripperSwitchWeight',
  '--n-step': 'nStep',
  '--actor-delay': 'actorDelaySteps',
  '--critic-warmup-steps': 'criticWarmupSteps',
  '--observation-normaliser': 'observationNormaliser',
};

// What a run.json written before a setting existed means by its absence (as train.ts reads it).
const LEGACY: Partial<Record<keyof RlSettings, unknown>> = {
  normaliseQ: false,
  successDemos: false,
  priorWeight: 0,
  gripperLogitLimit: 0,
  qFilter: false,
  actorEmaRate: 0,
  gripperSwitchWeight: 1,
  potentialWeight: 1,
  observationNormaliser: 'none',
};

const shown = (value: unknown): string => (value === undefined ? 'none' : JSON.stringify(value));

/** Refuses each given flag whose value differs from the stored run's (the first one, by name). */
export function checkResumeFlags(stored: RlSettings, requested: RlSettings, given: readonly GivenFlag[], runFile: string): void {
  for (const { flag, key } of given) {
    if (key === 'rollouts') {
      if (requested.rollouts < stored.rollouts) {
        throw new InputError(flag, `expected at least the ${stored.rollouts} rollouts of the resumed run (${runFile}), got ${requested.rollouts}`);
      }
      continue;
    }
    const before = stored[key] ?? LEGACY[key];
    const after = requested[key] ?? LEGACY[key];
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      throw new InputError(flag, `expected the resumed run's stored ${key} ${shown(before)} (${runFile}) or no ${flag}: a resumed run keeps its settings, got ${shown(after)}`);
    }
  }
}
