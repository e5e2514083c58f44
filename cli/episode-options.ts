/** Flag parsing and episode opening shared by the episode commands (labels, pairs). */
import { describeValue, InputError } from '../common/errors.js';
import type { Config } from '../config/schema.js';
import type { Episode } from '../reward/episode.js';
import { openEpisode } from '../reward/open-episode.js';
import { stepwiseLabels, type LabelRounding, type StepwiseLabels } from '../reward/labels.js';
import type { Logger } from '../common/log.js';
import { SIM_TASKS } from '../robot/sim/tasks.js';

/** An integer flag value in [min, max]; InputError naming the flag otherwise. */
export function parseIntegerFlag(flag: string, value: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new InputError(flag, `expected an integer ${range}, got ${describeValue(value)}`);
  }
  return number;
}

/** A number flag within [min, max], or the fallback when absent. */
export function parseNumberFlag(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max) {
    throw new InputError(flag, `expected a number in [${min}, ${max}], got ${describeValue(value)}`);
  }
  return number;
}

/** `--tasks a,b`: simulator task names, each checked; undefined when the flag is absent. */
export function parseTasksFlag(value: string | undefined): string[] | undefined {
  const tasks = value?.split(',').map((t) => t.trim());
  for (const task of tasks ?? []) {
    if (!SIM_TASKS.some((t) => t.name === task)) throw new InputError('--tasks', `expected task names among ${SIM_TASKS.map((t) => t.name).join(', ')}, got ${describeValue(task)}`);
  }
  return tasks;
}

export function parseRoundingFlag(value: string | undefined, fallback: LabelRounding): LabelRounding {
  if (value === undefined) return fallback;
  if (value !== 'reference' && value !== 'floor') throw new InputError('--rounding', `expected reference or floor, got ${describeValue(value)}`);
  return value;
}

export interface LabelFlags {
  sampleFactor?: string;
  rounding?: string;
}

/**
 * Opens the episode with the configured camera views (probing only, no frame is decoded) and
 * computes its step-wise labels with the flags over the configuration.
 */
export async function episodeLabels(dir: string, config: Config, flags: LabelFlags, log: Logger): Promise<{ episode: Episode; labels: StepwiseLabels }> {
  const sampleFactor = parseIntegerFlag('--sample-factor', flags.sampleFactor, config.reward.labels.sampleFactor, 1);
  const rounding = parseRoundingFlag(flags.rounding, config.reward.labels.rounding);
  const episode = await openEpisode(dir, config, { log });
  const labels = stepwiseLabels(episode.segments, episode.frameCount, { sampleFactor, rounding });
  if (labels.frames.length !== labels.intervals + 1 && episode.segments.length > 0) {
    log.warn(
      `${episode.name}: ${labels.frames.length} distinct sample points instead of N*m+1 = ${labels.intervals + 1} ` +
        '(sub-tasks shorter than m frames or not adjacent); progress is the rank over the distinct points, as in the reference',
    );
  }
  return { episode, labels };
}
