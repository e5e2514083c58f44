import { describe, expect, it } from 'vitest';
import { createRng } from '../rng.js';
import { drawVariants, variantViews } from './appearance.js';
import type { EpisodeSamples, FrameViews } from './dataset.js';
import { labelProgress } from './dataset.js';

const width = 4;
const height = 2;

/** A 4x2 image: left half grey, right half pure red; `mark` sets the top-left pixel's green. */
function image(mark: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb.set(x < 2 ? [128, 128, 128] : [220, 0, 0], i);
    }
  }
  rgb[1] = mark;
  return rgb;
}

const pixel = (rgb: Uint8Array, x: number, y: number): number[] => [...rgb.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];

describe('appearance variants for one-shot adaptation', () => {
  const views: FrameViews = [image(128), image(10), image(250)];

  it('a hue rotation re-colours saturated surfaces and leaves grey ones grey', async () => {
    const [front] = await variantViews(views, width, height, { hue: 120, mirror: false });
    const grey = pixel(front, 1, 1);
    expect(Math.max(...grey) - Math.min(...grey)).toBeLessThanOrEqual(2);
    const red = pixel(front, 3, 1);
    // red turned towards green: green now dominates
    expect(red[1]).toBeGreaterThan(red[0]!);
  });

  it('mirroring flips every view left-right and swaps the two wrist cameras', async () => {
    const [front, left, right] = await variantViews(views, width, height, { hue: 0, mirror: true });
    expect(pixel(front, 0, 0)).toEqual([220, 0, 0]);
    expect(pixel(front, 3, 0)).toEqual([128, 128, 128]);
    // the old right wrist view (mark 250, now at the top-right) is the new left one
    expect(pixel(left, 3, 0)[1]).toBe(250);
    expect(pixel(right, 3, 0)[1]).toBe(10);
  });

  it('draws reproducible variants spread over the hue circle, half of them mirrored', () => {
    const a = drawVariants(4, createRng(5));
    expect(a).toEqual(drawVariants(4, createRng(5)));
    expect(a.map((v) => v.mirror)).toEqual([false, true, false, true]);
    a.forEach((v, i) => {
      expect(v.hue).toBeGreaterThanOrEqual(90 * i);
      expect(v.hue).toBeLessThan(90 * (i + 1));
    });
  });
});

describe('label progress of a sampled frame', () => {
  const samples = { name: 'demo', points: [0, 4, 10], progress: [0, 0.5, 1] } as unknown as EpisodeSamples;

  it('is exact at label points and linear between them', () => {
    expect(labelProgress(samples, 4)).toBe(0.5);
    expect(labelProgress(samples, 2)).toBeCloseTo(0.25, 12);
    expect(labelProgress(samples, 7)).toBeCloseTo(0.75, 12);
    expect(labelProgress(samples, 10)).toBe(1);
    expect(labelProgress(samples, 12)).toBe(1);
  });
});
