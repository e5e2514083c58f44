import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundHalfEven, stepwiseLabels } from './labels.js';
import type { Segment } from './episode.js';

const seg = (startFrame: number, endFrame: number): Segment => ({ label: '', startFrame, endFrame });

describe('step-wise labels', () => {
  it('rounds half to even like Python and numpy', () => {
    expect([0.5, 1.5, 2.5, 77.5, 78.5, -0.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, 78, 78, 0, 2, 3]);
  });

  it('gives every sub-task m + 1 evenly spaced ids, the shared boundary once', () => {
    // span 100, k = 10 -> n = 10, N = 2 -> m = 5
    const labels = stepwiseLabels([seg(0, 30), seg(30, 100)], 200, { sampleFactor: 10 });
    expect(labels.pointsPerSubtask).toBe(5);
    expect(labels.frames).toEqual([0, 6, 12, 18, 24, 30, 44, 58, 72, 86, 100]);
    expect(labels.progress).toEqual(labels.frames.map((_, i) => i / 10));
    // the keyframe gets exactly 1/N of the progress, whatever the durations
    expect(labels.progress[labels.frames.indexOf(30)]).toBe(0.5);
    expect(labels.subtasks).toBe(2);
  });

  it('uses round (reference) or floor (paper) for m, and numpy rounding for the ids', () => {
    // span 139 / k 20 = 6.95 -> round 7, floor 6
    expect(stepwiseLabels([seg(8, 147)], 200).pointsPerSubtask).toBe(7);
    expect(stepwiseLabels([seg(8, 147)], 200, { rounding: 'floor' }).pointsPerSubtask).toBe(6);
    // linspace(8, 147, 5) = 8, 42.75, 77.5, 112.25, 147 -> 77.5 rounds to 78 (even)
    const labels = stepwiseLabels([seg(8, 147), seg(147, 286)], 300, { sampleFactor: 35 });
    expect(labels.frames.slice(0, 3)).toEqual([8, 43, 78]);
  });

  it('keeps at least one interval per sub-task and drops ids outside the video', () => {
    const labels = stepwiseLabels([seg(0, 10), seg(10, 12)], 12, { sampleFactor: 1000, rounding: 'floor' });
    expect(labels.pointsPerSubtask).toBe(1);
    expect(labels.frames).toEqual([0, 10]); // 12 is past the last frame (11), as the reference filters it
  });

  it('with adjacent sub-tasks longer than m frames: M = N * m, progress i / M, keyframes at k / N', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 30, max: 400 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom('reference' as const, 'floor' as const),
        (lengths, offset, sampleFactor, rounding) => {
          const segments: Segment[] = [];
          let start = offset;
          for (const length of lengths) {
            segments.push(seg(start, start + length));
            start += length;
          }
          const labels = stepwiseLabels(segments, start + 1, { sampleFactor, rounding });
          const m = labels.pointsPerSubtask;
          if (m > Math.min(...lengths)) return; // ids may collapse; covered by the reference rule above
          expect(labels.frames).toHaveLength(segments.length * m + 1);
          labels.progress.forEach((p, i) => expect(p).toBe(i / (segments.length * m)));
          segments.forEach((s, k) => {
            expect(labels.progress[labels.frames.indexOf(s.startFrame)]).toBeCloseTo(k / segments.length, 12);
          });
          for (let i = 1; i < labels.frames.length; i++) expect(labels.frames[i]).toBeGreaterThan(labels.frames[i - 1]!);
        },
      ),
      { numRuns: 200 },
    );
  });
});
