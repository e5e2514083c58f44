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
  '--gripper-logit-limit': 'gripperLogitLimit',
  '--q-filter': 'qFilter',
  '--success-demos': 'successDemos',
  '--actor-delay': 'actorDelaySteps',
  '--critic-warmup-steps': 'criticWarmupSteps',
  '--actor-name': 'actor',
};

// What a run.json written before a setting existed means by its absence (as train.ts reads it).
const LEGACY: Partial<Record<keyof RlSettings, unknown>> = {
  normaliseQ: false,
  successDemos: false,
  gripperLogitLimit: 0,
  qFilter: false,
  gripperSwitchWeight: 1,
  potentialWeight: 1,
};

/**
 * Options removed because they measured no gain (docs/rl-options.md), by the key an older run.json
 * stores them under and their neutral value. A run.json holding the neutral value (or none) resumes
 * as before; one whose run used the option cannot be continued by this version, and is refused by name.
 */
const REMOVED: readonly { key: string; flag: string; neutral: unknown; what: string }[] = [
  { key: 'actorEmaRate', flag: '--actor-ema', neutral: 0, what: 'an averaged actor for evaluation' },
  { key: 'priorWeight', flag: '--prior-weight', neutral: 0, what: 'holding the actor to its cloned self' },
  { key: 'observationNormaliser', flag: '--observation-normaliser', neutral: 'none', what: 'observations standardised with the demos\' statistics' },
];

/** Refuses a stored run that used a removed option (the first one, by name). */
export function checkRemovedSettings(stored: object, runFile: string): void {
  for (const { key, flag, neutral, what } of REMOVED) {
    const value = (stored as Record<string, unknown>)[key];
    if (value !== undefined && JSON.stringify(value) !== JSON.stringify(neutral)) {
      throw new InputError(flag, `removed (${what}: measured no gain, docs/rl-options.md), got ${key} ${JSON.stringify(value)} in ${runFile}: this version cannot continue that run`);
    }
  }
}

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
