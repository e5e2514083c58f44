import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../config/schema.js';
import { createLayoutRng, createRng } from './rng.js';
import { SimRobot } from './robot.js';

describe('layout random numbers (a lab reset)', () => {
  it('spread 0 draws the layout itself whatever the episode seed', () => {
    const draws = (episode: number): number[] => {
      const rng = createLayoutRng(7, episode, 0);
      return [rng.uniform(0.3, 0.6), rng.uniform(-0.2, 0.2), rng.next(), rng.normal()];
    };
    expect(draws(1)).toEqual(draws(2));
    const layout = createRng(7);
    expect(draws(1).slice(0, 2)).toEqual([layout.uniform(0.3, 0.6), layout.uniform(-0.2, 0.2)]);
  });

  it('spread 1 draws ranges from the episode and plain draws from the layout', () => {
    const rng = createLayoutRng(7, 3, 1);
    const episode = createRng(3);
    const layout = createRng(7);
    expect(rng.uniform(0.3, 0.6)).toBeCloseTo(episode.uniform(0.3, 0.6), 12);
    layout.next();
    expect(rng.next()).toBe(layout.next());
  });

  it('keeps every draw inside its range and within the spread of the layout', () => {
    const spread = 0.25;
    const layout = createRng(5).uniform(-0.2, 0.2);
    const values = Array.from({ length: 500 }, (_, episode) => createLayoutRng(5, episode, spread).uniform(-0.2, 0.2));
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(-0.2);
      expect(v).toBeLessThan(0.2);
      expect(Math.abs(v - layout)).toBeLessThanOrEqual(spread * 0.4 + 1e-12);
    }
    // The episodes do differ: the narrowed range is used, not collapsed.
    expect(Math.max(...values) - Math.min(...values)).toBeGreaterThan(0.5 * spread * 0.4);
  });
});

describe('sim robot with robot.sim.layout', () => {
  const colour = (robot: SimRobot, geom: string): number[] => {
    const id = robot.world.id('geom', geom);
    return Array.from((robot.world.model.geom_rgba as Float32Array).subarray(id * 4, id * 4 + 3));
  };
  let lab: SimRobot;
  let full: SimRobot;
  beforeAll(async () => {
    const config: Config = configSchema.parse({ robot: { task: 'pick-place', sim: { layout: { seed: 4, spread: 0.1 } } } });
    lab = await SimRobot.create(config, { task: 'pick-place' });
    full = await SimRobot.create(configSchema.parse({ robot: { task: 'pick-place' } }), { task: 'pick-place' });
  });
  afterAll(async () => {
    await lab.close();
    await full.close();
  });

  it('places the same objects near one layout every episode, where the full randomisation roams', async () => {
    const scenes = async (robot: SimRobot): Promise<{ cube: number[]; bin: number[]; cubeColour: number[]; binColour: number[] }[]> => {
      const out = [];
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        await robot.reset(seed);
        out.push({ cube: robot.world.bodyPosition('cube'), bin: robot.world.bodyPosition('bin'), cubeColour: colour(robot, 'cube'), binColour: colour(robot, 'bin_floor') });
      }
      return out;
    };
    const spanOf = (points: number[][], axis: number): number => Math.max(...points.map((p) => p[axis]!)) - Math.min(...points.map((p) => p[axis]!));
    const labScenes = await scenes(lab);
    const fullScenes = await scenes(full);
    // Colours: one set in the lab, several under the full randomisation.
    expect(new Set(labScenes.map((s) => s.cubeColour.join()))).toHaveProperty('size', 1);
    expect(new Set(labScenes.map((s) => s.binColour.join()))).toHaveProperty('size', 1);
    expect(new Set(fullScenes.map((s) => s.cubeColour.join())).size).toBeGreaterThan(1);
    // Positions: pick-place draws the cube's y from 40 cm; spread 0.1 keeps it within 4 cm of the layout.
    const labCubes = labScenes.map((s) => s.cube);
    expect(spanOf(labCubes, 1)).toBeGreaterThan(0.002);
    expect(spanOf(labCubes, 1)).toBeLessThanOrEqual(2 * 0.1 * 0.4);
    expect(spanOf(labScenes.map((s) => s.bin), 1)).toBeLessThanOrEqual(2 * 0.1 * 0.4);
    expect(spanOf(fullScenes.map((s) => s.cube), 1)).toBeGreaterThan(2 * 0.1 * 0.4);
  });
});
