/**
 * Step-wise reward discretisation (paper section 3.1.1, reference `0_preprocess_data.py`):
 * every sub-task between two keyframes gets the same number of evenly spaced sample points, so
 * each sub-task carries exactly 1/N of the progress whatever its duration.
 */
import type { Segment } from './episode.js';

export type LabelRounding = 'reference' | 'floor';

export interface LabelOptions {
  /** Raw frames per sample point, k (reference scripts: 20). */
  sampleFactor?: number;
  /** Points per sub-task m = round(n / N) (reference code) or floor(n / N) (paper). */
  rounding?: LabelRounding;
}

export interface StepwiseLabels {
  /** Sample-point frame ids, ascending, each once. */
  frames: number[];
  /** Ground-truth progress of each sample point, i / (frames.length - 1); i / M when no point collapsed. */
  progress: number[];
  /** Number of sub-tasks N. */
  subtasks: number;
  /** Intervals per sub-task, m (at least 1). */
  pointsPerSubtask: number;
  /** M = N * m for adjacent sub-tasks; the progress denominator actually used is frames.length - 1. */
  intervals: number;
}

/** Round half to even, like Python's round() and numpy.round. */
export function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** numpy.linspace(start, stop, count) with the endpoint: start + i * step, the last value exactly stop. */
function linspace(start: number, stop: number, count: number): number[] {
  const step = (stop - start) / (count - 1);
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(i === count - 1 ? stop : start + i * step);
  return values;
}

/**
 * The sample points of an episode. n = (last end - first start) / k; m = round or floor of n / N
 * (at least 1); each sub-task gets m + 1 ids from linspace(start, end) rounded half to even; ids
 * shared by neighbouring sub-tasks (end 147 = next start 147) count once. Progress is the rank
 * over the unique ids, which equals i / M whenever no two ids collapse (a sub-task shorter than
 * m frames), exactly as the reference computes it.
 */
export function stepwiseLabels(segments: readonly Segment[], frameCount: number, options: LabelOptions = {}): StepwiseLabels {
  const sampleFactor = options.sampleFactor ?? 20;
  const rounding = options.rounding ?? 'reference';
  if (!Number.isInteger(sampleFactor) || sampleFactor < 1) throw new RangeError(`sample factor: expected a positive integer, got ${sampleFactor}`);
  if (segments.length === 0) throw new RangeError('segments: expected at least one sub-task');
  const span = Math.max(1, segments[segments.length - 1]!.endFrame - segments[0]!.startFrame);
  const perSubtask = span / sampleFactor / segments.length;
  const m = Math.max(1, rounding === 'reference' ? roundHalfEven(perSubtask) : Math.floor(perSubtask));
  const ids = new Set<number>();
  for (const segment of segments) {
    for (const value of linspace(segment.startFrame, segment.endFrame, m + 1)) {
      const id = roundHalfEven(value);
      if (id >= 0 && id < frameCount) ids.add(id);
    }
  }
  const frames = [...ids].sort((a, b) => a - b);
  const last = Math.max(1, frames.length - 1);
  return {
    frames,
    progress: frames.map((_, i) => i / last),
    subtasks: segments.length,
    pointsPerSubtask: m,
    intervals: segments.length * m,
  };
}
