import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuseProgress, ProgressFusion, type FusionOptions } from './fusion.js';
import { hop } from './hops.js';

const modes: FusionOptions[] = [
  { mode: 'paper' },
  { mode: 'independent' },
  { mode: 'paper', consistency: true, alpha: 20, eps: 1e-3 },
  { mode: 'independent', consistency: true, alpha: 5, eps: 1e-6 },
  { mode: 'paper', consistency: true, alpha: 0, eps: 1 },
];

const anyFinite = fc.double({ noNaN: true, noDefaultInfinity: true });
const hopTriple = fc.record({ incremental: anyFinite, fromStart: anyFinite, fromGoal: anyFinite });

describe('multi-perspective progress fusion', () => {
  it('fused progress stays in [0, 1] for arbitrary finite hops, in every mode', () => {
    for (const options of modes) {
      fc.assert(
        fc.property(fc.array(hopTriple, { maxLength: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (steps, initial) => {
          for (const step of fuseProgress(steps, { ...options, initial })) {
            for (const value of [step.progress, step.incremental, step.forward, step.backward]) {
              expect(value).toBeGreaterThanOrEqual(0);
              expect(value).toBeLessThanOrEqual(1);
            }
            expect(step.weight).toBeGreaterThanOrEqual(0);
            expect(step.weight).toBeLessThanOrEqual(1);
          }
        }),
        { numRuns: 200 },
      );
    }
  });

  it('refuses NaN and infinite hops instead of propagating them', () => {
    for (const options of modes) {
      const fusion = new ProgressFusion(options);
      fusion.step({ incremental: 0.2, fromStart: 0.2, fromGoal: -0.8 });
      const before = fusion.progress;
      expect(() => fusion.step({ incremental: NaN, fromStart: 0.3, fromGoal: -0.7 })).toThrow(RangeError);
      expect(() => fusion.step({ incremental: 0.1, fromStart: Infinity, fromGoal: -0.7 })).toThrow(RangeError);
      expect(() => fusion.step({ incremental: 0.1, fromStart: 0.3, fromGoal: -Infinity })).toThrow(RangeError);
      expect(fusion.progress).toBe(before);
    }
  });

  it('recovers the true progress from exact hops in every mode', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }), (truth) => {
        for (const options of modes) {
          let previous = 0;
          const steps = truth.map((p) => {
            const step = { incremental: hop(previous, p), fromStart: hop(0, p), fromGoal: hop(1, p) };
            previous = p;
            return step;
          });
          fuseProgress(steps, options).forEach((step, t) => expect(step.progress).toBeCloseTo(truth[t]!, 9));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('paper mode recurses the incremental estimate on the fused value; independent mode does not', () => {
    // The incremental hops claim steady progress; the anchors say nothing happened.
    const steps = Array.from({ length: 3 }, () => ({ incremental: 0.5, fromStart: 0, fromGoal: -1 }));
    const paper = fuseProgress(steps, { mode: 'paper' });
    const independent = fuseProgress(steps, { mode: 'independent' });
    // paper: P_I(1) = 0.5 -> P* = 1/6; P_I(2) = 1/6 + 5/6 * 0.5 = 7/12 -> P* = 7/36
    expect(paper[0]!.progress).toBeCloseTo(1 / 6, 12);
    expect(paper[1]!.incremental).toBeCloseTo(7 / 12, 12);
    expect(paper[1]!.progress).toBeCloseTo(7 / 36, 12);
    // independent: P_I = 0.5, 0.75, 0.875 on its own -> P* = P_I / 3
    expect(independent.map((s) => s.incremental)).toEqual([0.5, 0.75, 0.875]);
    independent.forEach((s) => expect(s.progress).toBeCloseTo(s.incremental / 3, 12));
  });

  it('the consistency weight shrinks the update when the anchored estimates disagree', () => {
    const agree = new ProgressFusion({ consistency: true, alpha: 20 }).step({ incremental: 0.3, fromStart: 0.3, fromGoal: -0.7 });
    expect(agree.weight).toBeCloseTo(1, 12);
    expect(agree.progress).toBeCloseTo(0.3, 12);
    const disagree = new ProgressFusion({ consistency: true, alpha: 20, eps: 1e-3 }).step({ incremental: 0.3, fromStart: 0.1, fromGoal: -0.3 });
    // P_F = 0.1, P_B = 0.7, Pbar = 0.4, D = 0.6 / 0.401, w = exp(-20 D^2)
    const w = Math.exp(-20 * (0.6 / 0.401) ** 2);
    expect(disagree.weight).toBeCloseTo(w, 12);
    expect(disagree.progress).toBeCloseTo((w / 2) * (0.4 + 0.3), 12);
  });
});
