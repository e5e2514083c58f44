import { describe, expect, it } from 'vitest';
import { completionAccuracy } from './evaluate.js';

describe('completion accuracy of grm eval', () => {
  it('counts clean rollouts right when classed success, failed and near-miss ones when not', () => {
    const clean = { success: 8, partial: 2, failure: 0 };
    const failed = { success: 1, partial: 4, failure: 5 };
    // Near misses classed success are wrong: 21 right of 30, not 17 of 20 as over clean and failed alone.
    const nearMiss = { success: 6, partial: 3, failure: 1 };
    expect(completionAccuracy(clean, failed, nearMiss)).toBe(0.7);
    expect(completionAccuracy(clean, failed, { success: 0, partial: 0, failure: 0 })).toBe(0.85);
    expect(completionAccuracy({ success: 0, partial: 0, failure: 0 }, { success: 0, partial: 0, failure: 0 }, { success: 0, partial: 0, failure: 0 })).toBe(0);
  });
});
