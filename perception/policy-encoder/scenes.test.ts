import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { encoderScenes, type EncoderScene } from './scenes.js';

const config = loadConfig(undefined);

async function collect(task: string, count: number, seed: number, jitter: boolean): Promise<EncoderScene[]> {
  const out: EncoderScene[] = [];
  for await (const scene of encoderScenes({ config, task, count, seed, jitter, width: 32, height: 24 })) out.push(scene);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

describe('policy encoder scenes', () => {
  it('are reproducible from the seed, four per episode, with targets the simulator knows', async () => {
    const first = await collect('pick-place', 6, 40, false);
    const again = await collect('pick-place', 6, 40, false);
    expect(first).toHaveLength(6);
    first.forEach((scene, i) => {
      expect(scene.task).toBe('pick-place');
      expect(scene.views).toHaveLength(3);
      scene.views.forEach((view, v) => {
        expect(view.length).toBe(32 * 24 * 3);
        expect(same(view, again[i]!.views[v]!)).toBe(true);
      });
      expect(Array.from(scene.hand)).toEqual(Array.from(again[i]!.hand));
      expect(scene.proprio).toHaveLength(5);
      expect(scene.image).toHaveLength(18);
      // The moved object relative to the hand, in decimetres: within the table's reach.
      expect(Math.hypot(scene.hand[0]!, scene.hand[1]!, scene.hand[2]!)).toBeLessThan(10);
    });
    // A second episode (scenes 4 and 5) starts from another reset: another layout.
    expect(Array.from(first[4]!.hand)).not.toEqual(Array.from(first[0]!.hand));
    // Scenes of one episode differ (the hand moved between captures).
    expect(same(first[0]!.views[1]!, first[3]!.views[1]!)).toBe(false);
    // Another seed, other scenes.
    const other = await collect('pick-place', 1, 41, false);
    expect(Array.from(other[0]!.hand)).not.toEqual(Array.from(first[0]!.hand));
  });

  it('jitter changes the pixels and the image targets, not where the objects are, and leaves the cameras as they were', async () => {
    const plain = await collect('push-cube', 4, 7, false);
    const jittered = await collect('push-cube', 4, 7, true);
    let pixelsDiffer = 0;
    let imageTargetsDiffer = 0;
    plain.forEach((scene, i) => {
      // The same episode plays out: jitter draws after the hand's moves, so positions match.
      expect(Array.from(jittered[i]!.hand)).toEqual(Array.from(scene.hand));
      if (!same(jittered[i]!.views[0]!, scene.views[0]!)) pixelsDiffer++;
      if (Array.from(jittered[i]!.image).some((x, k) => Math.abs(x - scene.image[k]!) > 1e-6)) imageTargetsDiffer++;
    });
    expect(pixelsDiffer).toBe(4);
    expect(imageTargetsDiffer).toBeGreaterThan(0);
    // After jittered captures, an unjittered run from the same seed renders as before.
    const after = await collect('push-cube', 4, 7, false);
    after.forEach((scene, i) => expect(same(scene.views[0]!, plain[i]!.views[0]!)).toBe(true));
  });
});
