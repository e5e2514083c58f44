import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hopLabel } from './hops.js';
import { centreOrder, gapBinOf, samplePairs, scoreBinOf } from './pairs.js';
import { createRng } from './rng.js';

const frames = Array.from({ length: 30 }, (_, i) => 5 + i * 7 + (i % 3));
const instructions = ['wipe the table', 'clean the table'];
/** Hop percent of point i -> j among n, written out here (not the module's). */
const percentOf = (i: number, j: number, n: number): number => (j > i ? (100 * (j - i)) / (n - 1 - i) : (100 * (j - i)) / i);

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
    // 30 points, 190 non-zero pairs over 25 bins = 7 each + 15 extra. The pool target (190 * 100)
    // exceeds the 30 * 29 ordered pairs, so the pool is every pair and the counts are determined.
    const sample = samplePairs(frames, instructions, { max: 200, seed: 5 });
    expect(sample.zeroHop).toBe(10);
    const order = centreOrder(25);
    expect(order.slice(0, 5)).toEqual([12, 11, 13, 10, 14]);
    const n = frames.length;
    const available = Array.from({ length: 25 }, () => [0, 0, 0, 0]);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) available[scoreBinOf(percentOf(i, j, n), 25)]![gapBinOf(Math.abs(i - j), n - 2, 4)]! += 1;
    const quota = new Array<number>(25).fill(7);
    for (const k of order.slice(0, 15)) quota[k]! += 1;
    // Each score bin takes what its gap bins hold up to their quotas (the remainder to the fullest gap bins) ...
    const perGap = available.map((gaps, s) => {
      const gapQuota = [0, 1, 2, 3].map(() => Math.floor(quota[s]! / 4));
      [0, 1, 2, 3].sort((a, b) => gaps[b]! - gaps[a]! || a - b).slice(0, quota[s]! % 4).forEach((g) => (gapQuota[g]! += 1));
      return gaps.map((count, g) => Math.min(count, gapQuota[g]!));
    });
    const taken = perGap.map((gaps) => gaps.reduce((a, b) => a + b, 0));
    // ... and the shortfall comes from the bins nearest the centre first.
    let deficit = 190 - taken.reduce((a, b) => a + b, 0);
    expect(deficit).toBeGreaterThan(0); // the case exercises the deficit rule
    const topped = new Set<number>();
    for (const s of order) {
      const more = Math.min(deficit, available[s]!.reduce((a, b) => a + b, 0) - taken[s]!);
      if (more > 0) topped.add(s);
      taken[s]! += more;
      deficit -= more;
    }
    expect(sample.scoreBins).toEqual(taken);
    expect(sample.gapBins.map((gaps) => gaps.reduce((a, b) => a + b, 0))).toEqual(taken);
    // Where no shortfall was added (it is drawn at random over the gap bins), each gap bin holds its quota's share.
    expect(topped.size).toBeLessThan(25);
    for (let s = 0; s < 25; s++) if (!topped.has(s)) expect(sample.gapBins[s], `score bin ${s}`).toEqual(perGap[s]);
  });

  it('gives every score bin exactly its quota when every bin has candidates to spare', () => {
    // One gap bin and 101 points: no bin falls short, so the counts are the quotas themselves.
    const many = Array.from({ length: 101 }, (_, i) => i * 10);
    const sample = samplePairs(many, instructions, { max: 101, seed: 5, gapBins: 1 });
    const quota = new Array<number>(25).fill(3); // 96 = 25 * 3 + 21
    for (const k of centreOrder(25).slice(0, 21)) quota[k]! += 1;
    expect(sample.scoreBins).toEqual(quota);
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
