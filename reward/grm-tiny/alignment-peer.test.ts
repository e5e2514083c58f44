import { describe, expect, it } from 'vitest';
import { grmTinyFrozenEncoder } from '../../policy/observation.js';
import { alignmentFeatures } from '../alignment-features.js';
import type { RgbImage } from '../episode.js';
import { stepwiseLabels } from '../labels.js';
import { alignmentPeerFigures } from './alignment-peer.js';
import { memoryEpisode } from './memory-episode.js';
import { DEFAULT_GRM_TINY } from './paths.js';

const W = 128;
const H = 96;
/** The scene at position t: a red square at x = 6 + 4 t; wrist views tinted. */
function image(t: number, tint: number): RgbImage {
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set([80 + tint, 110, 90], i);
  for (let y = 40; y < 64; y++) for (let x = 6 + 4 * t; x < 30 + 4 * t; x++) rgb.set([220, 40, 40], (y * W + x) * 3);
  return { width: W, height: H, rgb };
}
const episode = (name: string, positions: number[]) =>
  memoryEpisode({
    name,
    instructions: ['push the red square right'],
    frames: positions.map((t) => ({ front: image(t, 0), left_wrist: image(t, 30), right_wrist: image(t, 60) })),
    segments: [
      { label: 'reach', startFrame: 0, endFrame: Math.floor((positions.length - 1) / 2) },
      { label: 'push', startFrame: Math.floor((positions.length - 1) / 2), endFrame: positions.length - 1 },
    ],
  });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('the demo-alignment peer of grm eval', () => {
  it('scores the demo itself perfectly, and classes rollouts stopped part-way as not successful, on the same frames as the model', async () => {
    const features = alignmentFeatures(await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 }));
    const demo = episode('demo', range(21));
    const demoFrames = stepwiseLabels(demo.segments, demo.frameCount, { sampleFactor: 4 }).frames;
    const stopped = episode('stopped', [...range(8), ...Array.from({ length: 13 }, () => 7)]);
    const early = episode('early', [...range(4), ...Array.from({ length: 17 }, () => 3)]);
    const figures = await alignmentPeerFigures({ model: DEFAULT_GRM_TINY, features, demo, demoFrames, clean: [demo], failed: [stopped, early], sampleFactor: 4, failedStride: 2 });
    expect(figures.demoPoints).toBe(demoFrames.length);
    expect(figures.distance).toBe('cosine');
    expect(figures.features).toMatch(/frozen GRM-tiny encoder/);
    // Eq. 58 calls the demo a success; the completion judge (0.95 held over 6 scored steps) does
    // not, since the demo reaches its goal only at its last frame: the same rule as the model's.
    expect(figures.clean).toEqual({ episodes: 1, voc: 1, mae: 0, completion: { success: 0, partial: 1, failure: 0 }, completionPaper: { success: 1, partial: 0, failure: 0 } });
    expect(figures.failed.count).toBe(2);
    expect(figures.failed.classes.success).toBe(0);
    expect(figures.failed.notSuccess).toBe(1);
    expect(figures.completionAccuracy).toBe(0.667);
    expect(figures.completionAccuracyPaper).toBe(1);
    expect(figures.seconds).toBeGreaterThanOrEqual(0);
  });

  it('a clean rollout slower than the demo still reads as a success with a small error', async () => {
    const features = alignmentFeatures(await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 }));
    const demo = episode('demo', range(21));
    const demoFrames = stepwiseLabels(demo.segments, demo.frameCount, { sampleFactor: 2 }).frames;
    const slow = episode('slow', range(41).map((i) => i / 2));
    const figures = await alignmentPeerFigures({ model: DEFAULT_GRM_TINY, features, demo, demoFrames, clean: [slow], failed: [], sampleFactor: 2, failedStride: 2 });
    expect(figures.clean.completionPaper.success).toBe(1);
    expect(figures.clean.voc).toBeGreaterThan(0.95);
    expect(figures.clean.mae).toBeLessThan(0.1);
  });
});
