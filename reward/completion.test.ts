import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyCompletion } from './evaluation.js';
import { CompletionJudge, completionRule, firstDone, judgeCompletion, DEFAULT_SUCCESS_WINDOW } from './completion.js';

const rule = { threshold: 0.95, window: 3 };
const low = fc.double({ min: 0, max: 0.9499, noNaN: true });
const high = fc.double({ min: 0.95, max: 1, noNaN: true });
const unit = fc.double({ min: 0, max: 1, noNaN: true });

describe('completion judge', () => {
  it('never says done from one frame: a single spike among low steps never counts, at any window', () => {
    fc.assert(
      fc.property(fc.array(low, { minLength: 1, maxLength: 60 }), fc.nat(), high, fc.integer({ min: 2, max: 12 }), (curve, at, spike, window) => {
        const spiked = [...curve];
        spiked[at % curve.length] = spike;
        expect(firstDone([0, ...spiked], { threshold: 0.95, window })).toBeUndefined();
        const judge = new CompletionJudge({ threshold: 0.95, window });
        expect(spiked.some((p) => judge.push(p))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('says done at the W-th step of a run that holds W scored steps, not one step earlier', () => {
    fc.assert(
      fc.property(fc.array(low, { maxLength: 40 }), fc.integer({ min: 2, max: 12 }), fc.array(high, { minLength: 12, maxLength: 12 }), (before, window, run) => {
        const curve = [0, ...before, ...run.slice(0, window)];
        expect(firstDone(curve, { threshold: 0.95, window })).toBe(before.length + window);
        expect(firstDone(curve.slice(0, -1), { threshold: 0.95, window })).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('a dip resets the count: W-1 high, one low, W-1 high is not done', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10 }), high, low, (window, h, l) => {
        const curve = [0, ...Array<number>(window - 1).fill(h), l, ...Array<number>(window - 1).fill(h)];
        expect(firstDone(curve, { threshold: 0.95, window })).toBeUndefined();
        expect(firstDone([...curve, h], { threshold: 0.95, window })).toBe(curve.length);
      }),
    );
  });

  it('done means the last W scored values are all at or above the threshold, and it is the first such step', () => {
    fc.assert(
      fc.property(fc.array(unit, { minLength: 1, maxLength: 80 }), fc.integer({ min: 2, max: 8 }), fc.double({ min: 0.5, max: 1, noNaN: true }), (curve, window, threshold) => {
        const progress = [0, ...curve];
        const t = firstDone(progress, { threshold, window });
        const holds = (s: number): boolean => s - window + 1 >= 1 && progress.slice(s - window + 1, s + 1).every((p) => p >= threshold);
        if (t === undefined) {
          for (let s = 1; s < progress.length; s++) expect(holds(s)).toBe(false);
        } else {
          expect(t).toBeGreaterThanOrEqual(window);
          expect(holds(t)).toBe(true);
          for (let s = 1; s < t; s++) expect(holds(s)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never counts the start state: a curve that is high from s_0 needs W more scored steps', () => {
    expect(firstDone([1, 1, 1], rule)).toBeUndefined();
    expect(firstDone([1, 1, 1, 1], rule)).toBe(3);
  });

  it('stays done and reports where; reset starts a new episode', () => {
    const judge = new CompletionJudge(rule);
    expect([0.96, 0.97, 0.99].map((p) => judge.push(p))).toEqual([false, false, true]);
    expect(judge.push(0.2)).toBe(true);
    expect(judge.doneAt).toBe(3);
    expect(judge.steps).toBe(4);
    judge.reset();
    expect(judge.done).toBe(false);
    expect(judge.push(0.99)).toBe(false);
    expect(judge.streak).toBe(1);
  });

  it('the issue-31 case: success after 2 steps at 0.96 is not done under the default rule', () => {
    expect(firstDone([0, 0.5, 0.96], completionRule(0.05))).toBeUndefined();
    expect(judgeCompletion([0, 0.5, 0.96], completionRule(0.05))).toBe('partial');
    expect(classifyCompletion([0, 0.5, 0.96])).toBe('success'); // Eq. 58 called it a success
  });

  it('classes an episode: success when done somewhere, else partial / failure by the mean of the last third', () => {
    const r = completionRule(0.05, 3);
    expect(judgeCompletion([0, 0.5, 0.96, 0.97, 0.98, 0.6], r)).toBe('success');
    expect(judgeCompletion([0, 0.3, 0.5, 0.5, 0.6, 0.6], r)).toBe('partial');
    expect(judgeCompletion([0, 0.1, 0.2, 0.3, 0.2, 0.1], r)).toBe('failure');
    expect(() => judgeCompletion([], r)).toThrow(RangeError);
    expect(() => judgeCompletion([0, NaN], r)).toThrow(/progress 1: expected a finite number/);
  });

  it('refuses a window under 2, a fractional window and a delta outside [0, 1]', () => {
    expect(() => completionRule(0.05, 1)).toThrow('success window: expected a whole number of scored steps >= 2, got 1');
    expect(() => completionRule(0.05, 2.5)).toThrow(/got 2.5/);
    expect(() => completionRule(1.5, 3)).toThrow('success delta: expected a number in [0, 1], got 1.5');
    expect(() => new CompletionJudge({ threshold: 0.9, window: 1 })).toThrow(/>= 2/);
    expect(() => new CompletionJudge(rule).push(NaN)).toThrow(/progress: expected a finite number/);
    expect(completionRule()).toEqual({ threshold: 0.95, window: DEFAULT_SUCCESS_WINDOW });
  });
});
