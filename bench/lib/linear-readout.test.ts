import { describe, expect, it } from 'vitest';
import { createRng } from '../../robot/sim/rng.js';
import { fitLinearReadout, medianP90, type ReadoutRow } from './linear-readout.js';

describe('linear read-out', () => {
  it('recovers a linear map and cannot read a non-linear one', async () => {
    const rng = createRng(4);
    const rows = (n: number, f: (x: number[]) => number[]): ReadoutRow[] =>
      Array.from({ length: n }, () => {
        const x = Array.from({ length: 6 }, () => rng.uniform(-2, 2));
        return { x: Float32Array.from([...x.map((v, i) => v * (i + 1) * 10)]), y: Float32Array.from(f(x)) };
      });
    // Inputs on very different scales (standardised inside), outputs linear in them.
    const linearMap = (x: number[]): number[] => [0.5 * x[0]! - x[3]! + 0.2, 2 * x[5]!];
    const fit = rows(300, linearMap);
    const test = rows(50, linearMap);
    const predicted = await fitLinearReadout(fit, test, { steps: 1500 });
    const errors = test.map((r, k) => Math.hypot(predicted[k]![0]! - r.y[0]!, predicted[k]![1]! - r.y[1]!));
    expect(medianP90(errors).p90).toBeLessThan(0.05);
    // |x0| is not linear in x: the read-out's error stays near the target's own spread.
    const fold = (x: number[]): number[] => [Math.abs(x[0]!)];
    const foldPredicted = await fitLinearReadout(rows(300, fold), rows(50, fold), { steps: 1500 });
    expect(foldPredicted.every((p) => Math.abs(p[0]! - 1) < 0.3)).toBe(true);
  });

  it('gives the median and the 90th percentile', () => {
    expect(medianP90([5, 1, 4, 2, 3, 6, 7, 8, 9, 10])).toEqual({ median: 6, p90: 10 });
    expect(medianP90([0.123])).toEqual({ median: 0.12, p90: 0.12 });
  });
});
