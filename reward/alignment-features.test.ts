import { describe, expect, it } from 'vitest';
import type { RawImage, ViewSet } from '../perception/images.js';
import { grmTinyFrozenEncoder } from '../policy/observation.js';
import { alignmentFeatures, imageAlignment, normaliseBlocks, viewFrames } from './alignment-features.js';
import { DEFAULT_GRM_TINY } from './grm-tiny/paths.js';

const W = 128;
const H = 96;
/** A frame with a red square at x = 10 + 6 t, so the scene moves with t. */
function image(t: number, tint: number): RawImage {
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set([80 + tint, 110, 90], i);
  for (let y = 40; y < 64; y++) for (let x = 10 + 6 * t; x < 34 + 6 * t; x++) rgb.set([220, 40, 40], (y * W + x) * 3);
  return { width: W, height: H, rgb };
}
const state = (t: number): ViewSet => ({ front: image(t, 0), left_wrist: image(t, 30), right_wrist: image(t, 60) });
const norm = (v: ArrayLike<number>, from = 0, to = v.length): number => Math.sqrt(Array.from(v).slice(from, to).reduce((s, x) => s + x * x, 0));

describe('alignment features from the frozen GRM-tiny encoder', () => {
  it('are the encoder\'s own per-view features, each view at equal weight, unit norm; a missing wrist view repeats front', async () => {
    const frozen = await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 });
    const features = alignmentFeatures(frozen);
    expect(features.size).toBe(3 * frozen.featureSize);
    expect(features.label).toMatch(/frozen GRM-tiny encoder/);
    const s = state(3);
    const f = await features.encode(s);
    const raw = await frozen.encode(viewFrames(s));
    expect([...f]).toEqual([...normaliseBlocks(raw, 3)]);
    expect(norm(f)).toBeCloseTo(1, 5);
    for (let v = 0; v < 3; v++) expect(norm(f, v * frozen.featureSize, (v + 1) * frozen.featureSize)).toBeCloseTo(1 / Math.sqrt(3), 5);
    const frontOnly = await features.encode({ front: s.front });
    expect([...frontOnly]).toEqual([...(await features.encode({ front: s.front, left_wrist: s.front, right_wrist: s.front }))]);
    expect([...frontOnly]).not.toEqual([...f]); // the wrist views count
    await expect(features.encode({ front: new Uint8Array([0xff, 0xd8]) })).rejects.toThrow(/front view is encoded bytes/);
  });

  it('a rollout equal to the demo aligns frame for frame; one stopped at a third stays near a third', async () => {
    const features = alignmentFeatures(await grmTinyFrozenEncoder(DEFAULT_GRM_TINY, { views: 3, executionProvider: 'cpu', threads: 1 }));
    const demo = Array.from({ length: 13 }, (_, t) => state(t));
    const same = await imageAlignment(features, demo);
    for (let t = 0; t < 13; t++) expect(await same.step(demo[t]!)).toBeCloseTo(t / 12, 12);
    const stopped = await imageAlignment(features, demo);
    let last = 0;
    for (const t of [0, 1, 2, 3, 4, 4, 4, 4, 4, 4]) last = await stopped.step(state(t));
    expect(Math.abs(last - 4 / 12)).toBeLessThanOrEqual(1 / 12 + 1e-12);
  });

  it('normaliseBlocks checks the split', () => {
    expect(() => normaliseBlocks(new Float32Array(7), 3)).toThrow(/do not split into 3 blocks/);
    expect([...normaliseBlocks(Float32Array.from([3, 4, 0, 0]), 2)]).toEqual([...Float32Array.from([0.6 / Math.SQRT2, 0.8 / Math.SQRT2, 0, 0])]);
  });
});
