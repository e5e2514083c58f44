import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../config/schema.js';
import { spearman } from '../../reward/evaluation.js';
import { ScriptedExpert } from './expert.js';
import { startPoses, taskProgress, type StartPoses } from './progress.js';
import { SimRobot } from './robot.js';
import type { Vec3 } from './scene.js';
import { SIM_TASKS } from './tasks.js';
import type { SimWorld } from './world.js';

const config: Config = configSchema.parse({});

/** Runs the noise-free expert (with misperceptions, if given) to its end; true progress and the predicate per state. */
function expertRun(world: SimWorld, seed: number, limit: number, misperceive?: Record<string, Vec3>): { progress: number[]; success: boolean[]; start: StartPoses } {
  world.reset(seed);
  const start = startPoses(world);
  const expert = new ScriptedExpert(world, { noise: 0, seed, ...(misperceive ? { misperceive } : {}) });
  const progress = [taskProgress(world.task, world, start)];
  const success = [world.task.success(world)];
  while (world.steps < limit) {
    const action = expert.next();
    if (!action) break;
    world.step(action);
    progress.push(taskProgress(world.task, world, start));
    success.push(world.task.success(world));
  }
  return { progress, success, start };
}

/**
 * Per task: what the expert is made to misperceive so that it leaves the task nearly done (the
 * object beside the target, the fingers closed in front of the handle, a press beside the button),
 * the most true progress the final state may have, and the most any state may have (carrying the
 * object towards the wrong place is real progress, less than the carry to the right one ends with).
 * push-cube's progress is the RL loop's, linear in the cube's distance to the target, so a cube
 * 7 cm off is still half-way.
 */
const NEAR: Record<string, { misperceive: Record<string, Vec3>; finalBelow: number; maxBelow: number }> = {
  'pick-place': { misperceive: { bin: [0.12, 0, 0] }, finalBelow: 0.3, maxBelow: 0.85 },
  'stack-blocks': { misperceive: { big_block: [0.07, 0, 0] }, finalBelow: 0.3, maxBelow: 0.85 },
  'push-cube': { misperceive: { target: [0, 0.07, 0] }, finalBelow: 0.6, maxBelow: 0.7 },
  'open-drawer': { misperceive: { drawer: [-0.045, 0, 0] }, finalBelow: 0.3, maxBelow: 0.35 },
  'press-button': { misperceive: { button: [0.045, 0, 0] }, finalBelow: 0.5, maxBelow: 0.5 },
};

describe.each(SIM_TASKS.map((t) => t.name))('true progress of %s', (name) => {
  let robot: SimRobot;
  beforeAll(async () => {
    robot = await SimRobot.create(config, { task: name, render: false });
  });
  afterAll(async () => {
    await robot.close();
  });

  it('rises along clean expert episodes and is exactly 1 where the success predicate holds, below 1 elsewhere', () => {
    for (const seed of [1, 2]) {
      const { progress, success } = expertRun(robot.world, seed, robot.stepLimit);
      expect(success[success.length - 1], `seed ${seed}`).toBe(true);
      progress.forEach((p, t) => {
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p === 1).toBe(success[t]);
      });
      expect(progress[0]!).toBeLessThan(0.3);
      expect(spearman(progress, progress.map((_, t) => t)), `seed ${seed}`).toBeGreaterThanOrEqual(0.9);
    }
  });

  it('stays low when the expert leaves the task nearly done without success', () => {
    const near = NEAR[name]!;
    const { progress, success } = expertRun(robot.world, 3, robot.stepLimit, near.misperceive);
    expect(success.some((s) => s)).toBe(false);
    expect(progress[progress.length - 1]!).toBeLessThan(near.finalBelow);
    expect(Math.max(...progress)).toBeLessThan(near.maxBelow);
  });

  it('falls when the work is undone (the press-button light latches: its task cannot be undone)', () => {
    const world = robot.world;
    const { start } = expertRun(world, 4, robot.stepLimit);
    expect(taskProgress(world.task, world, start)).toBe(1);
    const [object] = world.task.keyBodies;
    if (name === 'open-drawer') world.setJointPosition('drawer_slide', 0);
    else if (name === 'press-button') world.physicsSteps(100);
    else world.placeFreeBody(object, start[object]!);
    world.physicsSteps(50);
    const undone = taskProgress(world.task, world, start);
    if (name === 'press-button') expect(undone).toBe(1);
    else expect(undone).toBeLessThan(0.4);
  });
});
