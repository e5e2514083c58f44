import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignmentProgress, DemoAlignment, l2Normalise, unitDistance } from './alignment.js';

/** A synthetic scene at task position s in [0, 1]: a bump over 32 bins, so features drift smoothly and distance grows with |s - s'|. */
const BINS = 32;
const scene = (s: number): number[] => Array.from({ length: BINS }, (_, k) => Math.exp(-(((k - s * (BINS - 1)) / 3) ** 2)));
const N = 21;
const demo = Array.from({ length: N }, (_, i) => scene(i / (N - 1)));
const reversed = [...demo].reverse();

describe('open-end DTW against the demo', () => {
  it('an episode equal to the demo gets progress i / (n - 1) at frame i', () => {
    for (const distance of ['cosine', 'euclidean'] as const) {
      const progress = alignmentProgress(demo, demo, { distance });
      progress.forEach((p, i) => expect(p).toBeCloseTo(i / (N - 1), 12));
    }
  });

  it('the demo played at half speed rises with it and still ends at 1', () => {
    const slow = Array.from({ length: 2 * (N - 1) + 1 }, (_, i) => scene(i / (2 * (N - 1))));
    const progress = alignmentProgress(demo, slow);
    expect(progress[progress.length - 1]).toBe(1);
    progress.forEach((p, i) => expect(Math.abs(p - i / (2 * (N - 1)))).toBeLessThanOrEqual(1 / (N - 1) + 1e-12));
    progress.slice(1).forEach((p, i) => expect(p).toBeGreaterThanOrEqual(progress[i]!));
  });

  it('the demo played at double speed (every other demo frame) keeps up to within one demo frame', () => {
    // A skipped demo frame still costs its distance on the path (a horizontal step), so the open
    // end may lag one demo frame: the last frame reads 0.95, not 1.
    const fast = demo.filter((_, i) => i % 2 === 0);
    const progress = alignmentProgress(demo, fast);
    progress.forEach((p, i) => expect(Math.abs(p - (2 * i) / (N - 1))).toBeLessThanOrEqual(1 / (N - 1) + 1e-12));
    expect(progress[progress.length - 1]).toBeGreaterThanOrEqual(1 - 1 / (N - 1) - 1e-12);
  });

  it('an episode that stops half-way (and waits there) ends near 0.5', () => {
    const stopped = [...demo.slice(0, 11), ...Array.from({ length: 10 }, () => scene(0.5))];
    const progress = alignmentProgress(demo, stopped);
    expect(Math.abs(progress[progress.length - 1]! - 0.5)).toBeLessThanOrEqual(0.05);
    expect(Math.max(...progress)).toBeLessThanOrEqual(0.55);
  });

  it('its blindness, honestly: a reversed episode (goal back to start, truth 1 -> 0) reads 0 -> 0.5 -> 0.25', () => {
    // The path must start at the demo's first frame, so the first frame (the goal scene) gets 0;
    // the cheapest path then runs through the demo's middle, where the reversed video crosses it,
    // so progress RISES to 0.5 half-way, and falls back only part of the way by the end (the
    // scene is the start again, truth 0).
    const progress = alignmentProgress(demo, reversed);
    expect(progress[0]).toBe(0);
    expect(progress[(N - 1) / 2]).toBeCloseTo(0.5, 12);
    expect(progress.slice(0, (N + 1) / 2).every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
    expect(progress[N - 1]).toBeGreaterThanOrEqual(0.2);
    expect(progress[N - 1]).toBeLessThan(0.5);
  });

  it('its blindness on a regression: there and back again to the start still reads about 0.9 at the end (truth 0)', () => {
    const progress = alignmentProgress(demo, [...demo, ...reversed]);
    expect(progress[N - 1]).toBe(1);
    expect(progress[progress.length - 1]).toBeGreaterThanOrEqual(0.85);
  });

  it('is online: the progress of frame t depends on frames 0..t only (property)', () => {
    const vector = (size: number) => fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: size, maxLength: size });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((size) =>
          fc.record({
            demo: fc.array(vector(size), { minLength: 2, maxLength: 10 }),
            episode: fc.array(vector(size), { minLength: 1, maxLength: 14 }),
            distance: fc.constantFrom('cosine' as const, 'euclidean' as const),
          }),
        ),
        ({ demo: d, episode, distance }) => {
          const full = alignmentProgress(d, episode, { distance });
          expect(full).toHaveLength(episode.length);
          for (let t = 1; t <= episode.length; t++) expect(alignmentProgress(d, episode.slice(0, t), { distance })).toEqual(full.slice(0, t));
          // Always a demo frame index over (n - 1), in [0, 1].
          for (const p of full) {
            expect(p).toBeGreaterThanOrEqual(0);
            expect(p).toBeLessThanOrEqual(1);
            expect(Math.abs(p * (d.length - 1) - Math.round(p * (d.length - 1)))).toBeLessThan(1e-9);
          }
        },
      ),
      { numRuns: 300, seed: 31 },
    );
  });

  it('distances on L2-normalised features: scale does not matter; cosine and Euclidean agree in order', () => {
    const a = l2Normalise([3, 4]);
    expect([...a]).toEqual([0.6, 0.8]);
    expect([...l2Normalise([0, 0])]).toEqual([0, 0]);
    expect(alignmentProgress(demo, demo.map((f) => f.map((v) => 7 * v)))).toEqual(alignmentProgress(demo, demo));
    const b = l2Normalise([0, 1]);
    expect(unitDistance(a, b, 'cosine')).toBeCloseTo(0.2, 12);
    expect(unitDistance(a, b, 'euclidean')).toBeCloseTo(Math.hypot(0.6, 0.2), 12);
  });

  it('checks its input', () => {
    expect(() => new DemoAlignment([[1, 0]])).toThrow(/at least 2 demo frames/);
    expect(() => new DemoAlignment([[1, 0], [1]])).toThrow(/demo frame 1: expected 2 features, got 1/);
    const alignment = new DemoAlignment([[1, 0], [0, 1]]);
    expect(() => alignment.step([1, 0, 0])).toThrow(/episode frame 0: expected 2 features, got 3/);
    expect(() => alignment.step([NaN, 0])).toThrow(/finite/);
    expect(alignment.step([1, 0])).toBe(0);
    expect(alignment.step([0, 1])).toBe(1);
    expect(alignment.length).toBe(2);
  });
});
