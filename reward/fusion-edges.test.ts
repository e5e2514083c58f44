/**
 * The fusion's checks of its options and hops, named, and reset (fusion.test.ts covers the
 * arithmetic). Written against the mutants StrykerJS left alive.
 */
import { describe, expect, it } from 'vitest';
import { ProgressFusion } from './fusion.js';

describe('progress fusion: options, hops and reset', () => {
  it('refuses options it cannot use, naming them', () => {
    expect(() => new ProgressFusion({ alpha: Number.NaN })).toThrow(new RangeError('alpha: expected a finite number, got NaN'));
    expect(() => new ProgressFusion({ alpha: -1 })).toThrow(new RangeError('alpha: expected >= 0, got -1'));
    expect(() => new ProgressFusion({ eps: Number.POSITIVE_INFINITY })).toThrow(new RangeError('eps: expected a finite number, got Infinity'));
    expect(() => new ProgressFusion({ eps: 0 })).toThrow(new RangeError('eps: expected > 0, got 0'));
    expect(() => new ProgressFusion({ eps: -1e-3 })).toThrow(new RangeError('eps: expected > 0, got -0.001'));
    expect(() => new ProgressFusion({ initial: Number.NaN })).toThrow(new RangeError('initial progress: expected a finite number, got NaN'));
    expect(new ProgressFusion({ alpha: 0 }).progress).toBe(0); // alpha 0: every update fully trusted
  });

  it('names the hop that is not finite', () => {
    const fusion = new ProgressFusion();
    expect(() => fusion.step({ incremental: Number.NaN, fromStart: 0, fromGoal: 0 })).toThrow(new RangeError('incremental hop: expected a finite number, got NaN'));
    expect(() => fusion.step({ incremental: 0, fromStart: Number.NaN, fromGoal: 0 })).toThrow(new RangeError('hop from start: expected a finite number, got NaN'));
    expect(() => fusion.step({ incremental: 0, fromStart: 0, fromGoal: Number.NaN })).toThrow(new RangeError('hop from goal: expected a finite number, got NaN'));
  });

  it('reset starts again from the initial progress, or a given one (kept in [0, 1])', () => {
    for (const mode of ['paper', 'independent'] as const) {
      const fusion = new ProgressFusion({ mode, initial: 0.2 });
      fusion.step({ incremental: 0.5, fromStart: 0.6, fromGoal: -0.4 });
      expect(fusion.progress).not.toBe(0.2);
      fusion.reset();
      expect(fusion.progress).toBe(0.2);
      // the incremental curve starts again there too: a zero hop keeps it
      expect(fusion.step({ incremental: 0, fromStart: 0.2, fromGoal: -0.8 }).incremental).toBeCloseTo(0.2, 12);
      fusion.reset(0.7);
      expect(fusion.progress).toBe(0.7);
      expect(fusion.step({ incremental: 0, fromStart: 0.7, fromGoal: -0.3 }).incremental).toBeCloseTo(0.7, 12);
      fusion.reset(3);
      expect(fusion.progress).toBe(1);
      expect(() => fusion.reset(Number.NaN)).toThrow(new RangeError('initial progress: expected a finite number, got NaN'));
    }
  });
});
