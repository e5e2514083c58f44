import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { averageRanks, classifyCompletion, spearman, voc, vocReversed } from './evaluation.js';
import { hop } from './hops.js';

describe('evaluation', () => {
  it('ranks ties by their average rank', () => {
    expect(averageRanks([10, 20, 20, 5, 20])).toEqual([2, 4, 4, 1, 4]);
  });

  it('matches scipy.stats.spearmanr on its documented example', () => {
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
  });

  it('VOC is 1 for a rising curve, -1 for a falling one, NaN for a constant one, and in [-1, 1]', () => {
    expect(voc([0, 0.1, 0.3, 0.9])).toBe(1);
    expect(voc([0.9, 0.5, 0.2, 0.1])).toBe(-1);
    expect(voc([0.4, 0.4, 0.4])).toBeNaN();
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 100 }), (curve) => {
        const v = voc(curve);
        if (!Number.isNaN(v)) {
          expect(v).toBeGreaterThanOrEqual(-1);
          expect(v).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it('VOC of a reversed run: a model that sees progress undone scores +1, one fooled by reversal scores low', () => {
    const truth = [0, 0.1, 0.25, 0.5, 0.7, 0.9, 1];
    // walking back: BEFORE = frame k+1, AFTER = frame k
    const honest = [];
    for (let k = truth.length - 2; k >= 0; k--) honest.push(hop(truth[k + 1]!, truth[k]!));
    expect(vocReversed(honest)).toBe(1);
    // a model that always claims progress keeps the reversed curve at 1, then constant: no order
    expect(vocReversed(honest.map(() => 0.3))).toBeNaN();
    // one that claims a little progress, then large progress: reversed curve falls over forward time
    expect(vocReversed([0.5, 0.2, -0.1, 0.4, 0.6, 0.1])).toBeLessThan(0.5);
  });

  it('classifies completion by Eq. 58', () => {
    expect(classifyCompletion([0, 0.3, 0.5, 0.7, 0.8, 0.9])).toBe('success'); // final 0.9, last third mean 0.85
    expect(classifyCompletion([0, 0.5, 0.9, 0.95, 0.2, 0.81])).toBe('partial'); // final 0.81, mean 0.505
    expect(classifyCompletion([0, 0.1, 0.2, 0.3, 0.5, 0.5])).toBe('partial'); // mean 0.5
    expect(classifyCompletion([0, 0.1, 0.2, 0.3, 0.3, 0.4])).toBe('failure'); // mean 0.35
    expect(classifyCompletion([0.9, 0.9, 0.9, 0.9, 0.9, 0.79])).toBe('partial'); // final not > 0.8
    expect(() => classifyCompletion([])).toThrow(RangeError);
    expect(() => classifyCompletion([0.1, NaN])).toThrow(RangeError);
  });
});
