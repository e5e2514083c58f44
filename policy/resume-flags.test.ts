import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerRl } from '../cli/commands/rl.js';
import { InputError } from '../common/errors.js';
import { checkRemovedSettings, checkResumeFlags, RL_FLAG_SETTINGS } from './resume-flags.js';
import type { RlSettings } from './train.js';

// Only the fields the checks read; a real run.json holds them all.
const stored = { rollouts: 6, finalEvalEpisodes: 1, evalEpisodes: 1, hidden: [16, 16], seed: 1 } as unknown as RlSettings;
const requested = (changes: Partial<RlSettings>): RlSettings => ({ ...stored, ...changes }) as RlSettings;

describe('rl --resume and the flags given with it', () => {
  it('refuses a flag that would change a stored setting, naming it', () => {
    const change = (): void => checkResumeFlags(stored, requested({ finalEvalEpisodes: 50 }), [{ flag: '--final-eval-episodes', key: 'finalEvalEpisodes' }], 'run/run.json');
    expect(change).toThrow(InputError);
    expect(change).toThrow('--final-eval-episodes: expected the resumed run\'s stored finalEvalEpisodes 1 (run/run.json) or no --final-eval-episodes: a resumed run keeps its settings, got 50');
    expect(() => checkResumeFlags(stored, requested({ hidden: [32, 32] }), [{ flag: '--hidden', key: 'hidden' }], 'run.json')).toThrow(/^--hidden: expected .*stored hidden \[16,16\]/);
    // A run.json older than the setting: its absence means off, so --q-filter would change it.
    expect(() => checkResumeFlags(stored, requested({ qFilter: true }), [{ flag: '--q-filter', key: 'qFilter' }], 'run.json')).toThrow(/^--q-filter: expected .*stored qFilter false/);
  });

  it('accepts a flag repeating the stored value (an older run.json\'s absence meaning the same too), and more rollouts but not fewer', () => {
    expect(() =>
      checkResumeFlags(stored, requested({ finalEvalEpisodes: 1, hidden: [16, 16], qFilter: false, rollouts: 9 }), [
        { flag: '--final-eval-episodes', key: 'finalEvalEpisodes' },
        { flag: '--hidden', key: 'hidden' },
        { flag: '--q-filter', key: 'qFilter' },
        { flag: '--rollouts', key: 'rollouts' },
      ], 'run.json'),
    ).not.toThrow();
    expect(() => checkResumeFlags(stored, requested({ rollouts: 3 }), [{ flag: '--rollouts', key: 'rollouts' }], 'run.json')).toThrow('--rollouts: expected at least the 6 rollouts of the resumed run (run.json), got 3');
    // Not given (commander's default): not checked, the stored value wins.
    expect(() => checkResumeFlags(stored, requested({ finalEvalEpisodes: 50 }), [], 'run.json')).not.toThrow();
  });

  it('resumes a run.json naming a removed option at its neutral value; refuses one whose run used it, by name', () => {
    const neutral = { actorEmaRate: 0, priorWeight: 0, observationNormaliser: 'none' };
    expect(() => checkRemovedSettings({ ...stored, ...neutral }, 'run.json')).not.toThrow();
    expect(() => checkRemovedSettings(stored, 'run.json')).not.toThrow();
    const used = (changes: object): (() => void) => () => checkRemovedSettings({ ...stored, ...changes }, 'run/run.json');
    expect(used({ actorEmaRate: 0.001 })).toThrow(InputError);
    expect(used({ observationNormaliser: 'demos' })).toThrow(/^--observation-normaliser: removed \(.*\), got observationNormaliser "demos" in/);
    expect(used({ priorWeight: 5 })).toThrow(/^--prior-weight: removed \(holding the actor to its cloned self: measured no gain/);
    expect(used({ actorEmaRate: 0.001 })).toThrow(/^--actor-ema: removed \(an averaged actor for evaluation: measured no gain, docs\/rl-options\.md\), got actorEmaRate 0\.001 in run\/run\.json: this version cannot continue that run$/);
  });

  it('knows every flag of `dopamine rl`: each sets a stored setting or is one a resumed run honours', () => {
    const program = new Command();
    registerRl(program);
    const rl = program.commands.find((c) => c.name() === 'rl')!;
    const honoured = ['--run-dir', '--resume', '--learner', '--learner-max-lag', '--learner-token-file', '--learner-ca', '--actors', '--no-record', '--config', '--json'];
    const unknown = rl.options.map((o) => o.long!).filter((flag) => RL_FLAG_SETTINGS[flag] === undefined && !honoured.includes(flag));
    expect(unknown).toEqual([]);
  });
});
