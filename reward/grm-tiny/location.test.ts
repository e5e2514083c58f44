import { describe, expect, it } from 'vitest';
import { Preprocessor } from '../../perception/preprocess.js';
import { createRng } from '../rng.js';
import type { EpisodeSamples } from './dataset.js';
import { collectEpisode, drawExample, episodesByTask, PairBatch } from './dataset.js';
import { createGrmTinyStore, exportGrmTiny } from './io.js';
import { GRM_TINY_CONFIG, LOCATION_SIZE } from './model.js';
import { syntheticEpisode } from './synthetic.js';
import { trainGrmTiny } from './train.js';
import { loadConfig } from '../../config/load.js';
import { SimRobot } from '../../robot/sim/robot.js';
import { keyBodyImageLocations } from '../../robot/sim/key-bodies.js';

const config = GRM_TINY_CONFIG;
const preprocessor = new Preprocessor({ width: config.width, height: config.height });

/** A location target per frame: the synthetic square's progress along its path, and the frame id (to trace which frame a view came from). */
function squareLocations(frames: number): Float32Array[] {
  return Array.from({ length: frames }, (_, t) => Float32Array.from([4 * (t / (frames - 1)) - 2, 0, 0, 0, 0, t]));
}

async function episodesWithLocations(count: number): Promise<EpisodeSamples[]> {
  const out: EpisodeSamples[] = [];
  for (let seed = 0; seed < count; seed++) {
    out.push(await collectEpisode(syntheticEpisode({ seed }), 'slide', preprocessor, { sampleFactor: 2, pairs: 100, seed, locations: squareLocations(40) }));
  }
  return out;
}

describe('GRM-tiny auxiliary location target', () => {
  it('image targets: where the cube centre projects is where the cube shows, in the front view and in both wrist views above it', async () => {
    const robot = await SimRobot.create(loadConfig(undefined), { task: 'pick-place', render: true });
    try {
      const world = robot.world;
      const cubeId = world.id('geom', 'cube');
      // The centroid, in the [-1, 1] image frame, of the pixels close to the cube's colour (its lit faces).
      const cubeCentroid = (frame: { width: number; height: number; rgb: Uint8Array }): [number, number, number] => {
        const colour = [...(world.model.geom_rgba as Float32Array).subarray(cubeId * 4, cubeId * 4 + 3)].map((v) => 255 * v);
        let [n, sx, sy] = [0, 0, 0];
        for (let row = 0; row < frame.height; row++) {
          for (let col = 0; col < frame.width; col++) {
            const i = 3 * (row * frame.width + col);
            if (Math.hypot(frame.rgb[i]! - colour[0]!, frame.rgb[i + 1]! - colour[1]!, frame.rgb[i + 2]! - colour[2]!) < 60) [n, sx, sy] = [n + 1, sx + col + 0.5, sy + row + 0.5];
          }
        }
        return [(2 * sx) / n / frame.width - 1, (2 * sy) / n / frame.height - 1, n];
      };
      const expectAt = (target: Float32Array, view: number, frame: { width: number; height: number; rgb: Uint8Array }): void => {
        const [x, y, pixels] = cubeCentroid(frame);
        expect(pixels).toBeGreaterThan(3);
        expect(target[view * LOCATION_SIZE + 2]).toBe(1); // in view
        expect(Math.abs(target[view * LOCATION_SIZE]! - x)).toBeLessThan(0.12);
        expect(Math.abs(target[view * LOCATION_SIZE + 1]! - y)).toBeLessThan(0.12);
      };
      for (const seed of [1, 2, 3, 4]) {
        const observation = await robot.reset(seed);
        const target = keyBodyImageLocations(robot.world, observation.frames[0]!.width / observation.frames[0]!.height);
        expect(target).toHaveLength(3 * LOCATION_SIZE);
        expectAt(target, 0, observation.frames[0]!);
      }
      // the hand 10 cm straight above the cube: the cube is in both wrist views, where the targets say
      let observation = await robot.reset(5);
      const cube = world.bodyPosition('cube');
      const toward = (d: number): number => Math.max(-0.03, Math.min(0.03, d));
      for (let i = 0; i < 30; i++) {
        const ee = world.eePosition();
        observation = (await robot.act({ dx: toward(cube[0] - ee[0]), dy: toward(cube[1] - ee[1]), dz: toward(0.12 - ee[2]), dyaw: 0, gripper: 0 })).observation;
      }
      const target = keyBodyImageLocations(robot.world, observation.frames[0]!.width / observation.frames[0]!.height);
      for (const view of [1, 2]) expectAt(target, view, observation.frames[view]!);
    } finally {
      await robot.close();
    }
  });

  it('gives every view the location of the frame it shows, misleading views included', async () => {
    const episodes = await episodesWithLocations(1);
    const episode = episodes[0]!;
    const rng = createRng(5);
    let misleading = 0;
    for (let i = 0; i < 50; i++) {
      const example = drawExample(episodes, 0, rng, { viewDropout: 0, misleadingView: 0.5, referenceSwap: 0 }, episodesByTask(episodes));
      expect(example.locations).toHaveLength(6);
      [...example.before, ...example.after].forEach((image, v) => {
        const shown = example.locations![v]![5]!;
        // the image is the stored view of the frame whose target it got
        expect(image).toBe(episode.frames.get(shown)![v % 3]);
      });
      if (example.locations![1]![5] !== example.locations![0]![5]) misleading++;
    }
    expect(misleading).toBeGreaterThan(5);
  });

  it('with a target per camera, every view gets the target of the camera whose image it holds (a dropped wrist view: the front one)', async () => {
    // per frame, camera c's target is (c, frame id, 0, 0, 0, 0)
    const perCamera = (frames: number): Float32Array[] =>
      Array.from({ length: frames }, (_, t) => Float32Array.from({ length: 3 * LOCATION_SIZE }, (_, i) => (i % LOCATION_SIZE === 0 ? Math.floor(i / LOCATION_SIZE) : i % LOCATION_SIZE === 1 ? t : 0)));
    const episode = await collectEpisode(syntheticEpisode({ seed: 3 }), 'slide', preprocessor, { sampleFactor: 2, pairs: 50, seed: 3, locations: perCamera(40) });
    const rng = createRng(8);
    let dropped = 0;
    for (let i = 0; i < 40; i++) {
      const example = drawExample([episode], 0, rng, { viewDropout: 0.5, misleadingView: 0.2, referenceSwap: 0 }, new Map());
      [...example.before, ...example.after].forEach((image, v) => {
        const [camera, frame] = [example.locations![v]![0]!, example.locations![v]![1]!];
        expect(example.locations![v]).toHaveLength(LOCATION_SIZE);
        expect(image).toBe(episode.frames.get(frame)![camera]);
        if (v % 3 !== 0 && camera === 0) dropped++;
      });
    }
    expect(dropped).toBeGreaterThan(10);
  });

  it('masks examples without targets and refuses a weight without any target', async () => {
    const batch = new PairBatch(config, 2, preprocessor, { locations: true });
    const [withTargets] = await episodesWithLocations(1);
    const plain = await collectEpisode(syntheticEpisode({ seed: 9 }), 'slide', preprocessor, { sampleFactor: 2, pairs: 20, seed: 9 });
    const rng = createRng(1);
    batch.set(0, drawExample([withTargets!], 0, rng, { viewDropout: 0, misleadingView: 0, referenceSwap: 0 }, new Map()));
    batch.set(1, drawExample([plain], 0, rng, { viewDropout: 0, misleadingView: 0, referenceSwap: 0 }, new Map()));
    expect([...batch.locationMask]).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(batch.feeds().target_location).toHaveLength(2 * 6 * LOCATION_SIZE);
    await expect(trainGrmTiny(createGrmTinyStore(config, 1), config, [plain], preprocessor, { steps: 1, batch: 2, lr: 1e-3, seed: 1, augmentation: { viewDropout: 0, misleadingView: 0, referenceSwap: 0 }, locationWeight: 1 })).rejects.toThrow(/location weight > 0: expected episodes with location targets/);
  });

  it('training with a location weight learns where the square is; the exported model carries no auxiliary weights', async () => {
    const episodes = await episodesWithLocations(3);
    // Only the square's position is learnable; the frame-id column is constant 0 here.
    for (const e of episodes) for (const [id, target] of e.locations!) e.locations!.set(id, Float32Array.from([target[0]!, 0, 0, 0, 0, 0]));
    const store = createGrmTinyStore(config, 2);
    const report = await trainGrmTiny(store, config, episodes, preprocessor, { steps: 150, batch: 8, lr: 3e-3, seed: 2, augmentation: { viewDropout: 0, misleadingView: 0, referenceSwap: 0 }, locationWeight: 1 });
    // The target's spread: a head predicting the mean would score sqrt(var / 6) over the 6 values.
    const values = episodes.flatMap((e) => [...e.locations!.values()].map((t) => t[0]!));
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const constantRmseCm = 10 * Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length / LOCATION_SIZE);
    expect(report.locationRmseCm!.last).toBeLessThan(0.5 * constantRmseCm);
    const bytes = exportGrmTiny(store, config, 3);
    expect(Buffer.from(bytes).includes('aux.location')).toBe(false);
    expect(store.names().some((n) => n.startsWith('aux.'))).toBe(true);
  });
});
