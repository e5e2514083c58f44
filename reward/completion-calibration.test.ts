import { describe, expect, it } from 'vitest';
import { calibrateCompletion, type LabelledCurve } from './completion-calibration.js';

const ramp = (top: number, hold: number): number[] => [0, 0.3, 0.6, 0.8, ...Array<number>(hold).fill(top)];

describe('completion calibration', () => {
  it('picks the pair that separates real successes from spikes, ties going to the longer window', () => {
    const curves: LabelledCurve[] = [
      // successes hold 0.93 for 5 scored steps
      ...Array.from({ length: 10 }, () => ({ success: true, progress: ramp(0.93, 5) })),
      // failures spike to 0.96 for 2 steps, then fall back
      ...Array.from({ length: 10 }, () => ({ success: false, progress: [0, 0.4, 0.96, 0.97, 0.5, 0.5] })),
    ];
    const result = calibrateCompletion(curves, { thresholds: [0.9, 0.95], windows: [2, 3, 4, 5, 6] });
    expect(result).toMatchObject({ successes: 10, failures: 10, falseLimit: 0 });
    // threshold 0.9: windows 3..5 are perfect (2 lets the spikes through, 6 misses the successes)
    expect(result.chosen).toMatchObject({ threshold: 0.9, window: 5, truePositives: 10, falsePositives: 0, accuracy: 1 });
    expect(result.ties.map((r) => r.window)).toEqual([3, 4, 5]);
    expect(result.conservative).toEqual(result.chosen);
    const two = result.rows.find((r) => r.threshold === 0.9 && r.window === 2)!;
    expect(two).toMatchObject({ falsePositives: 10, allowed: false });
    // threshold 0.95 never sees a success
    expect(result.rows.find((r) => r.threshold === 0.95 && r.window === 2)).toMatchObject({ truePositives: 0, falsePositives: 10 });
  });

  it('allows one false success in 50 failures, none in 49', () => {
    const failures = (n: number, spiky: number): LabelledCurve[] =>
      Array.from({ length: n }, (_, i) => ({ success: false, progress: i < spiky ? [0, 0.96, 0.96, 0.96, 0.2] : [0, 0.2, 0.3] }));
    const successes = Array.from({ length: 5 }, () => ({ success: true, progress: [0, 0.5, 0.96, 0.96, 0.96] }));
    const fifty = calibrateCompletion([...successes, ...failures(50, 1)], { thresholds: [0.95], windows: [3] });
    expect(fifty.falseLimit).toBe(1);
    expect(fifty.chosen).toMatchObject({ window: 3, truePositives: 5, falsePositives: 1 });
    const fortyNine = calibrateCompletion([...successes, ...failures(49, 1)], { thresholds: [0.95], windows: [3] });
    expect(fortyNine.falseLimit).toBe(0);
    expect(fortyNine.chosen).toBeNull();
    expect(fortyNine.ties).toEqual([]);
    expect(fortyNine.conservative).toBeNull();
  });

  it('where pairs differ by one episode, the conservative choice is the longest window among them', () => {
    // 2 of 10 successes hold 0.96 for 3 steps, 1 for 6; failures never come near.
    const curves: LabelledCurve[] = [
      { success: true, progress: [0, 0.5, 0.96, 0.96, 0.96, 0.5] },
      { success: true, progress: [0, 0.5, 0.96, 0.96, 0.96, 0.96, 0.96, 0.96] },
      ...Array.from({ length: 8 }, () => ({ success: true, progress: [0, 0.5, 0.9] })),
      ...Array.from({ length: 10 }, () => ({ success: false, progress: [0, 0.3, 0.4] })),
    ];
    const result = calibrateCompletion(curves, { thresholds: [0.95], windows: [3, 6, 8] });
    expect(result.chosen).toMatchObject({ window: 3, truePositives: 2, accuracy: 12 / 20 });
    expect(result.ties.map((r) => r.window)).toEqual([3, 6]); // 8 calls no success done: two episodes worse
    expect(result.conservative).toMatchObject({ window: 6, truePositives: 1, accuracy: 11 / 20 });
    expect(calibrateCompletion(curves, { thresholds: [0.95], windows: [3, 6, 8], margin: 0 }).conservative).toMatchObject({ window: 3 });
  });

  it('refuses no data and windows under 2', () => {
    expect(() => calibrateCompletion([])).toThrow('calibration: expected at least one labelled curve');
    expect(() => calibrateCompletion([{ success: true, progress: [0, 1] }], { windows: [1] })).toThrow(/windows >= 2, got 1/);
  });
});
