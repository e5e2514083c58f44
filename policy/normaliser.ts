/**
 * The learner's observation standardisation (sac.ts ObservationNormaliser), computed once from the
 * demos: per observation value, the mean and the inverse deviation over every demo state. Fixed
 * rather than running, so that transitions in the replay buffers keep one meaning for the whole
 * run, and a function of the logged demos, so that a resumed run computes the same one.
 */
import type { ObservationNormaliser } from './sac.js';
import type { EpisodeRecord } from './records.js';
import { fromRecord } from './records.js';

/**
 * Smallest deviation scaled up to 1. A value (nearly) constant over the demos is only shifted:
 * scaling it by 1/0 would turn any change the policy later causes into the clip value.
 */
export const MIN_DEVIATION = 1e-3;

export function demoNormaliser(demos: readonly EpisodeRecord[]): ObservationNormaliser {
  const observations = demos.flatMap((d) => fromRecord(d).observations);
  const first = observations[0];
  if (!first) throw new RangeError('observation normaliser: expected demo observations, got none');
  const size = first.length;
  const sum = new Float64Array(size);
  const squares = new Float64Array(size);
  for (const o of observations) {
    if (o.length !== size) throw new RangeError(`observation normaliser: expected observations of ${size} values, got ${o.length}`);
    for (let i = 0; i < size; i++) {
      sum[i]! += o[i]!;
      squares[i]! += o[i]! * o[i]!;
    }
  }
  const n = observations.length;
  const shift = Array.from(sum, (v) => v / n);
  const scale = shift.map((mean, i) => {
    const deviation = Math.sqrt(Math.max(0, squares[i]! / n - mean * mean));
    return deviation < MIN_DEVIATION ? 1 : 1 / deviation;
  });
  return { shift, scale };
}
