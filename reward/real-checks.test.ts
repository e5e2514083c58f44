import { describe, expect, it } from 'vitest';
import { memoryEpisode } from './grm-tiny/memory-episode.js';
import type { RgbImage } from './episode.js';
import { forwardThenBack, frameTruth, perturbedEpisode } from './real-checks.js';

/** An episode whose frame t is a flat image of grey level t (so a frame shows where it came from). */
function greyEpisode(frames: number) {
  const image = (t: number): RgbImage => ({ width: 32, height: 24, rgb: new Uint8Array(32 * 24 * 3).fill(t) });
  return memoryEpisode({
    name: 'grey',
    instructions: ['go'],
    frames: Array.from({ length: frames }, (_, t) => ({ front: image(t), left_wrist: image(t), right_wrist: image(t) })),
    segments: [{ label: 'a', startFrame: 0, endFrame: 50 }, { label: 'b', startFrame: 50, endFrame: frames - 1 }],
  });
}

describe('episodes made from one real demo', () => {
  const demo = greyEpisode(101);

  it('labels every frame with its step-wise progress, linear between label points', () => {
    const truth = frameTruth(demo);
    expect(truth).toHaveLength(101);
    expect(truth[0]).toBe(0);
    expect(truth[50]).toBeCloseTo(0.5, 9);
    expect(truth[100]).toBe(1);
    for (let t = 1; t < 101; t++) expect(truth[t]!).toBeGreaterThanOrEqual(truth[t - 1]!);
  });

  it('plays forward to the turn, then back, with the truth of each source frame', async () => {
    const back = await forwardThenBack(demo, 10, 100, 40);
    expect(back.source).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 90, 80, 70, 60, 50, 40]);
    expect(back.truth[back.truth.length - 1]).toBeCloseTo(0.4, 9);
    // the frames are the source frames (grey level = source frame)
    expect((await back.episode.frame('front', 12)).rgb[0]).toBe(80);
    await expect(forwardThenBack(demo, 10, 40, 40)).rejects.toThrow(/backTo/);
  });

  it('a perturbed copy keeps the stride, ends on the last frame and changes every camera', async () => {
    const copy = await perturbedEpisode(demo, 30, 15);
    expect(copy.source).toEqual([15, 45, 75, 100]);
    const front = await copy.episode.frame('front', 1);
    expect(front.width).toBe(128);
    // gain and contrast moved the grey level away from the source's 45
    expect(Math.abs(front.rgb[0]! - 45)).toBeGreaterThan(2);
  });
});
