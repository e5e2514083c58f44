import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { DEFAULT_LIGHT, RayCastRenderer } from './render.js';
import { SIM_CAMERAS } from './scene.js';
import { findTask } from './tasks.js';
import { SimWorld } from './world.js';

describe('ray-cast renderer light', () => {
  it('shades by the light set, returns to the default, and refuses a zero direction', async () => {
    const config = loadConfig(undefined);
    const world = await SimWorld.create({
      task: findTask('pick-place')!,
      physicsStepS: config.robot.sim.physicsStepS,
      controlHz: config.robot.controlHz,
      bounds: { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax },
    });
    const renderer = new RayCastRenderer(world.mujoco, world.model, 32, 24);
    try {
      world.reset(3);
      const front = world.id('camera', SIM_CAMERAS.front);
      const base = Uint8Array.from(renderer.render(world.data, front).rgb);
      renderer.setLight([-0.8, 0.8, 0.4]);
      const moved = Uint8Array.from(renderer.render(world.data, front).rgb);
      const changed = base.filter((v, i) => v !== moved[i]).length;
      expect(changed).toBeGreaterThan(base.length / 10);
      renderer.setLight(DEFAULT_LIGHT.map((v) => 3 * v));
      expect(Array.from(renderer.render(world.data, front).rgb)).toEqual(Array.from(base));
      expect(() => renderer.setLight([0, 0, 0])).toThrow(/light direction: expected a finite non-zero vector/);
    } finally {
      renderer.close();
      world.close();
    }
  });
});
