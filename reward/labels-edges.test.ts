/**
 * Edges of the step-wise labels that the reference-rule tests do not reach: bad options, the
 * interval count, and the promises of the output (ascending ids, each once, inside the video) on
 * sub-tasks that overlap or start before the video. Written against the mutants StrykerJS found.
 */
import { describe, expect, it } from 'vitest';
import type { Segment } from './episode.js';
import { stepwiseLabels } from './labels.js';

const seg = (startFrame: number, endFrame: number): Segment => ({ label: '', startFrame, endFrame });

describe('step-wise labels: edges', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses sample factor %s', (sampleFactor) => {
    expect(() => stepwiseLabels([seg(0, 100)], 200, { sampleFactor })).toThrow(new RangeError(`sample factor: expected a positive integer, got ${sampleFactor}`));
  });

  it('refuses an episode without sub-tasks', () => {
    expect(() => stepwiseLabels([], 200)).toThrow(new RangeError('segments: expected at least one sub-task'));
  });

  it('reports M = N * m intervals', () => {
    // span 100, k = 10 -> n = 10, N = 2 -> m = 5, M = 10; with N = 4, m = round(2.5) = 2, M = 8
    expect(stepwiseLabels([seg(0, 30), seg(30, 100)], 200, { sampleFactor: 10 }).intervals).toBe(10);
    expect(stepwiseLabels([seg(0, 25), seg(25, 50), seg(50, 75), seg(75, 100)], 200, { sampleFactor: 10 })).toMatchObject({ pointsPerSubtask: 2, intervals: 8 });
  });

  it('returns ascending ids, each once, when sub-tasks overlap', () => {
    // m = 2: 0, 25, 50 and 40, 70, 100 -> ascending, 6 ids
    const labels = stepwiseLabels([seg(0, 50), seg(40, 100)], 200, { sampleFactor: 25 });
    expect(labels.frames).toEqual([0, 25, 40, 50, 70, 100]);
    expect(labels.progress).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('drops ids before the first frame as well as past the last', () => {
    // span 40, k = 10 -> m = 4: -10, 0, 10, 20, 30 -> -10 is not a frame
    expect(stepwiseLabels([seg(-10, 30)], 31, { sampleFactor: 10 }).frames).toEqual([0, 10, 20, 30]);
  });
});
