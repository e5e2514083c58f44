/**
 * Edges of the hop arithmetic and the reference's text formats that the property tests in
 * hops.test.ts do not pin down: which input a refusal names, equal indices at both ends of a
 * list, the sign of a label that rounds to zero, and what parseScore reads.
 */
import { describe, expect, it } from 'vitest';
import { formatPercentLabel, hop, hopBetweenIndices, parseScore, progressAfterHop } from './hops.js';

describe('hops: edges', () => {
  it('names the input a refusal is about', () => {
    expect(() => hop(Number.NaN, 0.5)).toThrow(new RangeError('progress before: expected a finite number, got NaN'));
    expect(() => hop(0.5, Number.POSITIVE_INFINITY)).toThrow(new RangeError('progress after: expected a finite number, got Infinity'));
    expect(() => progressAfterHop(Number.NaN, 0.1)).toThrow(new RangeError('progress: expected a finite number, got NaN'));
    expect(() => formatPercentLabel(Number.NaN)).toThrow(new RangeError('percent: expected a finite number, got NaN'));
  });

  it('is 0 between a sample point and itself, at either end of the list too', () => {
    for (const i of [0, 2, 4]) expect(hopBetweenIndices(i, i, 5)).toBe(0);
  });

  it('labels a percent that rounds to zero with the sign Python prints', () => {
    expect(formatPercentLabel(0)).toBe('+0.0%');
    expect(formatPercentLabel(-0)).toBe('-0.0%');
    expect(formatPercentLabel(0.04)).toBe('+0.0%');
    expect(formatPercentLabel(-0.04)).toBe('-0.0%');
    expect(formatPercentLabel(0.05)).toBe('+0.1%'); // 0.05 is a little above the tie in binary
    expect(formatPercentLabel(-12.25)).toBe('-12.2%'); // an exact tie goes to even
  });
});

describe('parseScore: what the reference reads between <score> tags', () => {
  it.each([
    ['<score>42</score>', 0.42],
    ['<score>42%</score>', 0.42],
    ['think <score>1</score> then <score> -12.5% </score> done', -0.125],
    ['<score>42', 0.42], // no closing tag: the rest of the text
    ['<score>12.34</score>', 0.1234],
    ['<score>12.</score>', 0.12],
    ['<score>.5</score>', 0.005],
    ['<score>.255</score>', 0.00255],
    ['<score>+1e1</score>', 0.1],
    ['<score>2.5e-1</score>', 0.0025],
    ['<score>25E+0</score>', 0.25],
    ['<score>1e10</score>', 1], // clipped to 100%
    ['<score>-250</score>', -1],
  ])('reads %s as %s', (text, value) => {
    expect(parseScore(text)).toBeCloseTo(value, 12);
  });

  it.each([
    ['no tag at all', 'score=42'],
    ['text before the number', '<score>x12</score>'],
    ['text after the number', '<score>12x</score>'],
    ['an empty score', '<score></score>'],
    ['an exponent without digits', '<score>1e</score>'],
    ['two signs', '<score>+-1</score>'],
    ['a bare point', '<score>.</score>'],
  ])('reads nothing from %s', (_what, text) => {
    expect(parseScore(text)).toBeUndefined();
  });
});
