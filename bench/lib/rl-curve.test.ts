import { describe, expect, it } from 'vitest';
import { curveFigures } from './rl-curve.js';

const curve = (values: number[]) => values.map((success, i) => ({ rollouts: 25 * i, success }));

describe('curveFigures', () => {
  it('averages the points after the start and finds the first at 80% of the final rate', () => {
    // 0.9 x 0.8 = 0.72: 0.7 at 50 is short of it, 0.8 at 75 is not.
    const f = curveFigures(curve([0.3, 0.2, 0.7, 0.8, 1, 0.5, 0.9]));
    expect(f.meanSuccess).toBeCloseTo((0.2 + 0.7 + 0.8 + 1 + 0.5 + 0.9) / 6, 12);
    expect(f.rolloutsTo80OfFinal).toBe(75);
  });

  it('tells a fast curve from a slow one that ends at the same rate', () => {
    const fast = curveFigures(curve([0, 0.9, 0.8, 0.9, 0.9, 0.9, 0.86]));
    const slow = curveFigures(curve([0, 0, 0.1, 0.3, 0.5, 0.8, 0.86]));
    expect(fast.rolloutsTo80OfFinal).toBe(25);
    expect(slow.rolloutsTo80OfFinal).toBe(125);
    expect(fast.meanSuccess!).toBeGreaterThan(slow.meanSuccess! + 0.3);
  });

  it('gives no rollout count for a curve that ends at 0, and nothing for a curve with no trained point', () => {
    expect(curveFigures(curve([0, 0.1, 0]))).toEqual({ meanSuccess: 0.05, rolloutsTo80OfFinal: null });
    expect(curveFigures(curve([0.4]))).toEqual({ meanSuccess: null, rolloutsTo80OfFinal: null });
  });
});
