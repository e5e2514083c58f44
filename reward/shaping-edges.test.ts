/**
 * Edges of reward shaping that shaping.test.ts leaves open: which option a refusal names, gamma
 * at the ends of (0, 1], the success threshold itself, isSuccess, and an episode's default of
 * ending terminal. Written against the mutants StrykerJS left alive.
 */
import { describe, expect, it } from 'vitest';
import { isSuccess, shapeEpisode, shapeTransition } from './shaping.js';

const step = { progress: 0.5, nextProgress: 0.5, terminal: false };

describe('reward shaping: edges', () => {
  it('names the option or value it refuses', () => {
    expect(() => shapeTransition(step, { gamma: Number.NaN })).toThrow(new RangeError('gamma: expected a finite number, got NaN'));
    expect(() => shapeTransition(step, { gamma: 0 })).toThrow(new RangeError('gamma: expected in (0, 1], got 0'));
    expect(() => shapeTransition(step, { gamma: -0.5 })).toThrow(new RangeError('gamma: expected in (0, 1], got -0.5'));
    expect(shapeTransition(step, { gamma: 1 }).shaping).toBe(0); // 1 is allowed
    expect(() => shapeTransition(step, { potentialWeight: Number.NaN })).toThrow(new RangeError('potential weight: expected a finite number, got NaN'));
    expect(() => shapeTransition(step, { successDelta: Number.NaN })).toThrow(new RangeError('success delta: expected a finite number, got NaN'));
    expect(() => shapeTransition(step, { terminalPotential: Number.NaN })).toThrow(new RangeError('terminal potential: expected a finite number, got NaN'));
    expect(() => shapeTransition(step, { successPotential: Number.NaN })).toThrow(new RangeError('success potential: expected a finite number, got NaN'));
    expect(() => shapeTransition(step, { successReward: Number.NaN })).toThrow(new RangeError('success reward: expected a finite number, got NaN'));
    expect(() => shapeTransition({ ...step, progress: Number.NaN })).toThrow(new RangeError('progress: expected a finite number, got NaN'));
    expect(() => shapeTransition({ ...step, nextProgress: Number.NaN })).toThrow(new RangeError('next progress: expected a finite number, got NaN'));
    expect(() => shapeEpisode({ progress: [0, 0.5, Number.NaN] })).toThrow(new RangeError('next progress: expected a finite number, got NaN'));
  });

  it('counts progress exactly at 1 - successDelta as success', () => {
    // 0.75 = 1 - 0.25 exactly in binary
    expect(shapeTransition({ ...step, nextProgress: 0.75 }, { mode: 'sparse', successDelta: 0.25 })).toMatchObject({ success: true, reward: 1 });
    expect(shapeTransition({ ...step, nextProgress: 0.7499 }, { mode: 'sparse', successDelta: 0.25 })).toMatchObject({ success: false, reward: 0 });
  });

  it('isSuccess: progress at or above the threshold by default, else the environment\'s or operator\'s word', () => {
    expect(isSuccess({ ...step, nextProgress: 0.95 })).toBe(true);
    expect(isSuccess({ ...step, nextProgress: 0.75 }, { successDelta: 0.25 })).toBe(true);
    expect(isSuccess({ ...step, nextProgress: 0.7499 }, { successDelta: 0.25 })).toBe(false);
    expect(isSuccess({ ...step, nextProgress: 0.75 }, { successDelta: -1 })).toBe(false); // delta kept in [0, 1]: threshold 1
    expect(isSuccess({ ...step, nextProgress: 0.1, envSuccess: true }, { success: 'env' })).toBe(true);
    expect(isSuccess({ ...step, nextProgress: 1, envSuccess: false }, { success: 'env' })).toBe(false);
    expect(isSuccess({ ...step, nextProgress: 1 }, { success: 'operator' })).toBe(false);
    expect(() => isSuccess({ ...step, nextProgress: Number.NaN })).toThrow(new RangeError('next progress: expected a finite number, got NaN'));
  });

  it('ends an episode terminal unless told it was cut by a time limit', () => {
    // a failure at the end: Phi(s_T) = the terminal potential (0), not P(s_T)
    const progress = [0.2, 0.4, 0.6];
    const ended = shapeEpisode({ progress }, { gamma: 0.5 });
    expect(ended.map((r) => r.nextPotential)).toEqual([0.4, 0]);
    expect(ended.at(-1)!.reward).toBeCloseTo(-0.4, 12);
    const cut = shapeEpisode({ progress, terminal: false }, { gamma: 0.5 });
    expect(cut.at(-1)!.nextPotential).toBe(0.6);
  });
});
