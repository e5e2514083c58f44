import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hopLabel } from './hops.js';
import { centreOrder, gapBinOf, samplePairs, scoreBinOf } from './pairs.js';
import { createRng } from './rng.js';

const frames = Array.from({ length: 30 }, (_, i) => 5 + i * 7 + (i % 3));
const instructions = ['wipe the table', 'clean the table'];

describe('training-pair sampler', () => {
  it('is reproducible from the seed and changes with it', () => {
    const a = samplePairs(frames, instructions, { max: 200, seed: 7 });
    expect(samplePairs(frames, instructions, { max: 200, seed: 7 })).toEqual(a);
    expect(samplePairs(frames, instructions, { max: 200, seed: 8 }).pairs).not.toEqual(a.pairs);
  });

  it('returns max pairs, round(5%) of them zero-hop, with exact hops and reference labels', () => {
    for (const [max, zero] of [
      [1000, 50],
      [200, 10],
      [30, 2], // 1.5 rounds half to even -> 2
      [10, 0], // 0.5 -> 0
      [0, 0],
    ] as const) {
      const sample = samplePairs(frames, instructions, { max, seed: 1 });
      expect(sample.pairs).toHaveLength(Math.min(max, zero + frames.length * (frames.length - 1)));
      expect(sample.zeroHop).toBe(zero);
      expect(sample.scoreBins.reduce((a, b) => a + b, 0)).toBe(sample.pairs.length - zero);
    }
    const sample = samplePairs(frames, instructions, { max: 300, seed: 2 });
    const n = frames.length;
    for (const pair of sample.pairs.slice(0, sample.pairs.length - sample.zeroHop)) {
      const i = frames.indexOf(pair.before);
      const j = frames.indexOf(pair.after);
      expect(i).not.toBe(j);
      const expected = j > i ? (j - i) / (n - 1 - i) : (j - i) / i;
      expect(pair.hop).toBeCloseTo(expected, 12);
      expect(pair.label).toBe(hopLabel(pair.hop));
      expect(instructions).toContain(pair.instruction);
    }
  });

  it('makes zero-hop pairs by a small shift of AFTER inside the sampled range', () => {
    const sample = samplePairs(frames, instructions, { max: 400, seed: 3 });
    const zero = sample.pairs.slice(sample.pairs.length - sample.zeroHop);
    expect(zero).toHaveLength(20);
    for (const pair of zero) {
      const i = frames.indexOf(pair.before);
      const spacing = frames[Math.min(frames.length - 1, i + 1)]! - frames[Math.max(0, i - 1)]!;
      const delta = Math.max(1, Math.floor(0.075 * spacing));
      const candidates = [pair.before + delta, pair.before - delta].map((f) => Math.min(frames[frames.length - 1]!, Math.max(frames[0]!, f)));
      expect(candidates).toContain(pair.after);
      expect(pair.hop).toBe(0);
      expect(pair.label).toBe('0.0%');
    }
  });

  it('gives equal quotas, the remainder to the bins nearest the centre, deficits filled from the centre out', () => {
    // 101 points, 96 non-zero pairs over 25 bins = 3 each + 21 extra for the bins nearest the centre
    const many = Array.from({ length: 101 }, (_, i) => i * 10);
    const sample = samplePairs(many, instructions, { max: 101, seed: 5 });
    expect(sample.zeroHop).toBe(5);
    const order = centreOrder(25);
    expect(order.slice(0, 5)).toEqual([12, 11, 13, 10, 14]);
    const quota = new Array(25).fill(3);
    for (const k of order.slice(0, 21)) quota[k] += 1;
    expect(sample.scoreBins.reduce((a, b) => a + b, 0)).toBe(96);
    // a bin falls short only where a gap bin had no candidates; the shortfall goes to the central bin first
    const over = sample.scoreBins.map((count, k) => count - quota[k]).filter((d) => d > 0);
    const shortfall = sample.scoreBins.map((count, k) => quota[k] - count).filter((d) => d > 0).reduce((a, b) => a + b, 0);
    expect(over.reduce((a, b) => a + b, 0)).toBe(shortfall);
    if (shortfall > 0) expect(sample.scoreBins[12]).toBeGreaterThan(quota[12]);
  });

  it('bins like the reference: score [-100, 100] in 25 bins, gap [1, n - 2] in 4', () => {
    expect(scoreBinOf(-100, 25)).toBe(0);
    expect(scoreBinOf(-92.0001, 25)).toBe(0);
    expect(scoreBinOf(-92, 25)).toBe(1);
    expect(scoreBinOf(0, 25)).toBe(12);
    expect(scoreBinOf(100, 25)).toBe(24);
    expect(gapBinOf(1, 63, 4)).toBe(0);
    expect(gapBinOf(16, 63, 4)).toBe(0);
    expect(gapBinOf(17, 63, 4)).toBe(1);
    expect(gapBinOf(63, 63, 4)).toBe(3);
  });

  it('refuses fewer than 3 sample points', () => {
    expect(() => samplePairs([1, 2], instructions)).toThrow(/at least 3/);
  });
});

describe('seeded generator', () => {
  it('is uniform enough and stays in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
        const rng = createRng(seed);
        for (let k = 0; k < 50; k++) {
          const v = rng.int(n);
          expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
        }
      }),
    );
    const rng = createRng(1);
    const counts = new Array(10).fill(0);
    for (let k = 0; k < 100_000; k++) counts[rng.int(10)] += 1;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });
});
