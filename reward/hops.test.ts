import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatPercentLabel, hop, hopBetweenIndices, hopLabel, parseScore, progressAfterHop, progressFromHops } from './hops.js';

describe('hops (Eq. 2) and progress from hops (Eqs. 4-5)', () => {
  it('progress from any hop sequence in [-1, 1] stays in [0, 1]', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { maxLength: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), (hops, start) => {
        for (const p of progressFromHops(hops, start)) {
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('finite hops outside [-1, 1] are clipped, NaN and infinities are refused', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: 0, max: 1, noNaN: true }), (h, p) => {
        const next = progressAfterHop(p, h);
        expect(next).toBeGreaterThanOrEqual(0);
        expect(next).toBeLessThanOrEqual(1);
      }),
    );
    expect(() => progressAfterHop(0.5, NaN)).toThrow(RangeError);
    expect(() => progressAfterHop(0.5, Infinity)).toThrow(RangeError);
    expect(() => progressFromHops([0.1, NaN, 0.2])).toThrow(/hop: expected a finite number, got NaN/);
  });

  it('hop then progress round-trips exact step-wise labels i / M', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }).chain((m) => fc.tuple(fc.constant(m), fc.array(fc.integer({ min: 0, max: m }), { minLength: 2, maxLength: 60 }))),
        ([m, path]) => {
          let progress = path[0]! / m;
          for (const k of path.slice(1)) {
            const target = k / m;
            const h = hop(progress, target);
            expect(Math.abs(h)).toBeLessThanOrEqual(1);
            progress = progressAfterHop(progress, h);
            expect(progress).toBeCloseTo(target, 12);
            progress = target; // labels are exact; the walk restarts from the exact label
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a whole forward walk over labels reproduces them from hops alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (m) => {
        const labels = Array.from({ length: m + 1 }, (_, i) => i / m);
        const hops = labels.slice(1).map((p, i) => hop(labels[i]!, p));
        const curve = progressFromHops(hops);
        curve.forEach((p, i) => expect(Math.abs(p - labels[i + 1]!)).toBeLessThan(1e-9));
      }),
    );
  });

  it('gives the textbook values', () => {
    expect(hop(0.5, 0.75)).toBe(0.5); // half of what remained
    expect(hop(0.5, 0.25)).toBe(-0.5); // half of what was achieved
    expect(hop(0.4, 0.4)).toBe(0);
    expect(hop(0, 1)).toBe(1);
    expect(hop(1, 0)).toBe(-1);
    expect(hopBetweenIndices(2, 6, 9)).toBe(4 / 6);
    expect(hopBetweenIndices(6, 2, 9)).toBe(-4 / 6);
    expect(hopBetweenIndices(2, 6, 9)).toBeCloseTo(hop(2 / 8, 6 / 8), 12);
    expect(progressAfterHop(0.5, 0.5)).toBe(0.75);
    expect(progressAfterHop(0.5, -0.5)).toBe(0.25);
  });
});

describe('labels and score text', () => {
  it('formats one decimal with Python rounding (ties to even on the exact binary value)', () => {
    expect(formatPercentLabel(6.25)).toBe('+6.2%');
    expect(formatPercentLabel(6.75)).toBe('+6.8%');
    expect(formatPercentLabel(-6.25)).toBe('-6.2%');
    expect(formatPercentLabel(0.05)).toBe('+0.1%'); // 0.05 is 0.05000000000000000277 in binary
    expect(formatPercentLabel(0.15)).toBe('+0.1%'); // 0.1499999999999999944
    expect(formatPercentLabel(100)).toBe('+100.0%');
    expect(formatPercentLabel(-100)).toBe('-100.0%');
    expect(formatPercentLabel(-0.01)).toBe('-0.0%');
    expect(formatPercentLabel(100 / 3)).toBe('+33.3%');
    expect(hopLabel(-2 / 3)).toBe('-66.7%');
  });

  it('reads scores the way the reference parses model text', () => {
    expect(parseScore('<score>+37%</score>')).toBe(0.37);
    expect(parseScore('thinking <score>5%</score> no wait <score>-12.5%</score>')).toBe(-0.125);
    expect(parseScore('<score>250%</score>')).toBe(1);
    expect(parseScore('<score> -300 </score>')).toBe(-1);
    expect(parseScore('<score>n/a</score>')).toBeUndefined();
    expect(parseScore('no tag here')).toBeUndefined();
  });
});
