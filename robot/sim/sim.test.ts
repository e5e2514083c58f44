import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../config/schema.js';
import { CAMERA_ROLES } from '../types.js';
import { evaluateExpert } from './evaluate.js';
import { SimRobot, requireTask } from './robot.js';
import { HOME } from './scene.js';
import { SIM_TASKS, findTask } from './tasks.js';

const config: Config = configSchema.parse({});
const { maxStepM, maxYawStepRad, workspaceMin, workspaceMax } = config.safety;
const still = { dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: 0 };

describe('task registry', () => {
  it('has at least five differently structured tasks, push-cube among them, exactly one held out', () => {
    expect(SIM_TASKS.length).toBeGreaterThanOrEqual(5);
    expect(new Set(SIM_TASKS.map((t) => t.name)).size).toBe(SIM_TASKS.length);
    expect(findTask(config.robot.task)?.name).toBe('push-cube');
    expect(SIM_TASKS.filter((t) => t.heldOut)).toHaveLength(1);
    expect(new Set(SIM_TASKS.map((t) => t.phaseNames.join('|'))).size).toBe(SIM_TASKS.length);
    for (const task of SIM_TASKS) {
      expect(task.instructions.length, task.name).toBeGreaterThanOrEqual(2);
      expect(task.phaseNames.length, task.name).toBeGreaterThanOrEqual(3);
      expect(task.expertPhases().map((p) => p.name)).toEqual(task.phaseNames);
      expect(task.timeLimitS).toBeGreaterThan(0);
    }
  });

  it('refuses an unknown task with the list of tasks', () => {
    expect(() => requireTask('juggle')).toThrow(/task: expected one of push-cube, .*press-button, got "juggle"/);
  });
});

describe('sim robot', () => {
  let robot: SimRobot;
  beforeAll(async () => {
    robot = await SimRobot.create(config, { task: 'pick-place' });
  });
  afterAll(async () => {
    await robot.close();
  });

  it('resets to the home pose with three synchronised camera frames of the configured size', async () => {
    const observation = await robot.reset(3);
    expect(observation.state.eePosition.map((v, i) => Math.abs(v - HOME[i]!))).toSatisfy((d: number[]) => d.every((x) => x < 0.005));
    expect(observation.state.gripperOpening).toBeGreaterThan(0.95);
    expect(observation.state.stampMs).toBe(0);
    expect(observation.frames.map((f) => f.role)).toEqual([...CAMERA_ROLES]);
    expect(observation.frames.map((f) => f.camera)).toEqual(['cam_high', 'cam_left_wrist', 'cam_right_wrist']);
    for (const frame of observation.frames) {
      expect([frame.width, frame.height]).toEqual([config.cameras.width, config.cameras.height]);
      expect(frame.rgb.length).toBe(frame.width * frame.height * 3);
      expect(frame.stampMs).toBe(0);
    }
    expect(robot.cameras.map((c) => c.latest())).toEqual(observation.frames);
    const next = await robot.act(still);
    expect(next.observation.state.stampMs).toBeCloseTo(1000 / config.robot.controlHz, 6);
    expect(next.observation.frames.every((f) => f.stampMs === next.observation.state.stampMs)).toBe(true);
  });

  it('renders shaded colour images, depth and segmentation that agree with the scene', async () => {
    await robot.reset(4);
    const world = robot.world;
    const front = robot.cameras[0]!.lastView!;
    const table = world.id('geom', 'table');
    const cube = world.id('geom', 'cube');
    const seg = Array.from(front.segmentation);
    expect(seg.filter((g) => g === table).length).toBeGreaterThan(front.width * front.height * 0.2);
    const cubePixels = seg.flatMap((g, p) => (g === cube ? [p] : []));
    expect(cubePixels.length).toBeGreaterThan(3);
    // The cube's pixels carry the cube's colour (shading scales it): compare directions in RGB space.
    const rgba = Array.from((world.model.geom_rgba as Float32Array).subarray(cube * 4, cube * 4 + 3));
    const mean = [0, 1, 2].map((ch) => cubePixels.reduce((sum, p) => sum + front.rgb[p * 3 + ch]!, 0) / cubePixels.length);
    const cosine = (a: number[], b: number[]): number =>
      a.reduce((s, v, i) => s + v * b[i]!, 0) / (Math.hypot(...a) * Math.hypot(...b));
    expect(cosine(mean, rgba)).toBeGreaterThan(0.97);
    const tableRgba = Array.from((world.model.geom_rgba as Float32Array).subarray(table * 4, table * 4 + 3));
    expect(cosine(mean, rgba)).toBeGreaterThan(cosine(mean, tableRgba));
    // Depth: the cube is nearer than the table behind it, every hit has a finite depth, misses none.
    const cubeDepth = Math.min(...cubePixels.map((p) => front.depth[p]!));
    const camera = world.data.cam_xpos as Float64Array;
    const cubePos = world.bodyPosition('cube');
    const id = robot.cameras[0]!.camId;
    const trueDistance = Math.hypot(cubePos[0] - camera[id * 3]!, cubePos[1] - camera[id * 3 + 1]!, cubePos[2] - camera[id * 3 + 2]!);
    expect(Math.abs(cubeDepth - trueDistance)).toBeLessThan(0.05);
    seg.forEach((g, p) => expect(Number.isFinite(front.depth[p]!)).toBe(g >= 0));
    // Not flat: shading and texture spread the brightness of the table.
    const tableBrightness = seg.flatMap((g, p) => (g === table ? [front.rgb[p * 3]! + front.rgb[p * 3 + 1]! + front.rgb[p * 3 + 2]!] : []));
    const average = tableBrightness.reduce((a, b) => a + b, 0) / tableBrightness.length;
    const sd = Math.sqrt(tableBrightness.reduce((a, b) => a + (b - average) ** 2, 0) / tableBrightness.length);
    expect(sd).toBeGreaterThan(3);
    // The wrist cameras see the fingers.
    const wrist = robot.cameras[1]!.lastView!;
    const fingers = [world.id('geom', 'finger_left'), world.id('geom', 'finger_right')];
    expect(Array.from(wrist.segmentation).some((g) => fingers.includes(g))).toBe(true);
  });

  it('bounds every action: step caps, workspace box, gripper range', async () => {
    await robot.reset(5);
    let before = (await robot.observe()).state;
    const result = await robot.act({ dx: 1, dy: -1, dz: 1, dyaw: 2, gripper: 7 });
    const after = result.observation.state;
    const moved = Math.hypot(...after.eePosition.map((v, i) => v - before.eePosition[i]!));
    expect(moved).toBeLessThanOrEqual(maxStepM + 0.002);
    expect(moved).toBeGreaterThan(maxStepM * 0.8);
    expect(Math.abs(after.eeYaw - before.eeYaw)).toBeLessThanOrEqual(maxYawStepRad + 0.01);
    expect(robot.lastApplied!.gripper).toBe(1);
    // Push against the workspace box for a while: the hand stays inside it.
    for (let i = 0; i < 30; i++) {
      before = after;
      const state = (await robot.act({ dx: -0.05, dy: 0.05, dz: -0.05, dyaw: 0, gripper: 0 })).observation.state;
      state.eePosition.forEach((v, axis) => {
        expect(v).toBeGreaterThanOrEqual(workspaceMin[axis]! - 0.003);
        expect(v).toBeLessThanOrEqual(workspaceMax[axis]! + 0.003);
      });
    }
  });

  it('refuses actions of the wrong length or with NaN, and moves nothing', async () => {
    await robot.reset(6);
    const before = robot.world.jointPositions();
    await expect(robot.act([0, 0, 0, 0] as never)).rejects.toThrow(/expected 5 numbers/);
    await expect(robot.act({ ...still, dz: Number.NaN })).rejects.toThrow(/action\.dz: expected a finite number, got NaN/);
    expect(robot.world.jointPositions()).toEqual(before);
    expect(robot.world.steps).toBe(0);
  });

  it('holds still after stop() until the next reset', async () => {
    await robot.reset(7);
    await robot.act({ ...still, dz: -0.03 });
    await robot.stop('test');
    const held = (await robot.observe()).state.eePosition;
    for (let i = 0; i < 5; i++) await robot.act({ dx: 0.03, dy: 0, dz: 0, dyaw: 0, gripper: 1 });
    const now = (await robot.observe()).state.eePosition;
    expect(Math.hypot(...now.map((v, i) => v - held[i]!))).toBeLessThan(0.002);
    await robot.reset(7);
    await robot.act({ dx: 0.03, dy: 0, dz: 0, dyaw: 0, gripper: 0 });
    expect(robot.world.eePosition()[0]).toBeGreaterThan(HOME[0] + 0.02);
  });

  it('is deterministic for a seed and varies poses and colours across seeds', async () => {
    const run = async (seed: number): Promise<number[]> => {
      await robot.reset(seed);
      const trace = [...robot.world.bodyPosition('cube'), ...robot.world.bodyPosition('bin')];
      trace.push(...Array.from((robot.world.model.geom_rgba as Float32Array).subarray(robot.world.id('geom', 'cube') * 4, robot.world.id('geom', 'cube') * 4 + 3)));
      for (let i = 0; i < 15; i++) {
        const r = await robot.act({ dx: 0.02 * Math.sin(i), dy: 0.01, dz: -0.01, dyaw: 0.05, gripper: i > 8 ? 1 : 0 });
        trace.push(...r.observation.state.jointPositions, r.observation.frames[0]!.rgb.reduce((a, b) => a + b, 0));
      }
      return trace;
    };
    const first = await run(11);
    expect(await run(11)).toEqual(first);
    const other = await run(12);
    expect(other.slice(0, 6)).not.toEqual(first.slice(0, 6));
  });

  it('reset restores the start of the episode after a grasp and a lift', async () => {
    const start = await robot.reset(21);
    const cubeAtStart = robot.world.bodyPosition('cube');
    for (let i = 0; i < 10; i++) await robot.act({ dx: 0, dy: 0, dz: -0.03, dyaw: 0, gripper: i > 5 ? 1 : 0 });
    const again = await robot.reset(21);
    expect(again.state).toEqual(start.state);
    expect(robot.world.bodyPosition('cube')).toEqual(cubeAtStart);
    expect(robot.world.steps).toBe(0);
    expect(again.frames[0]!.rgb).toEqual(start.frames[0]!.rgb);
  });

  it('reports the time limit', async () => {
    await robot.reset(1);
    let last;
    for (let i = 0; i < robot.stepLimit; i++) last = await robot.act(still);
    expect(last!.timeLimit).toBe(true);
    expect(robot.stepLimit).toBe(Math.round(Math.min(robot.task.timeLimitS, config.robot.episodeSeconds) * config.robot.controlHz));
  });
});

describe('success predicates', () => {
  // Each task: a start that is not a success, and a state put together by hand that is.
  const cases: Record<string, (robot: SimRobot) => Promise<void>> = {
    'push-cube': async (r) => {
      const t = r.world.bodyPosition('target');
      r.world.placeFreeBody('cube', [t[0] + 0.01, t[1] - 0.01, 0.02], 0.3);
    },
    'pick-place': async (r) => {
      const b = r.world.bodyPosition('bin');
      r.world.placeFreeBody('cube', [b[0], b[1], 0.05], 0);
    },
    'open-drawer': async (r) => r.world.setJointPosition('drawer_slide', 0.1),
    'stack-blocks': async (r) => {
      const b = r.world.bodyPosition('big_block');
      r.world.placeFreeBody('small_block', [b[0] + 0.005, b[1], b[2] + 0.026 + 0.018 + 0.002], 0.2);
    },
    'press-button': async (r) => {
      r.world.setJointPosition('button_press', -0.011);
      // The task latches the press at the end of a control step; the spring pushes the button back after.
      r.task.update!(r.world);
    },
  };

  for (const task of SIM_TASKS) {
    it(`${task.name}: false at the start, true once the goal state holds`, async () => {
      const robot = await SimRobot.create(config, { task: task.name, render: false });
      try {
        for (const seed of [0, 1, 2]) {
          await robot.reset(seed);
          expect(task.success(robot.world), `seed ${seed}`).toBe(false);
        }
        // The key bodies (the reward model's location target) are bodies of this scene.
        for (const body of task.keyBodies) expect(robot.world.bodyPosition(body).every(Number.isFinite), body).toBe(true);
        await cases[task.name]!(robot);
        // Let physics settle the placed objects (arm still, gripper open).
        for (let i = 0; i < 5; i++) await robot.act(still);
        expect(task.success(robot.world)).toBe(true);
      } finally {
        await robot.close();
      }
    });
  }

  it('pick-place and stack-blocks need the gripper to let go', async () => {
    const robot = await SimRobot.create(config, { task: 'pick-place', render: false });
    try {
      await robot.reset(0);
      const b = robot.world.bodyPosition('bin');
      robot.world.placeFreeBody('cube', [b[0], b[1], 0.05], 0);
      for (let i = 0; i < 5; i++) await robot.act({ ...still, gripper: 1 });
      expect(robot.task.success(robot.world)).toBe(false);
    } finally {
      await robot.close();
    }
  });
});

describe('scripted expert', () => {
  // 20 seeded episodes per task here; the benchmark runs the full 50 (bench/results/sim.json).
  const EPISODES = 20;
  for (const task of SIM_TASKS) {
    it(`${task.name}: clean demos succeed on >= 95% of seeded episodes; high noise fails often`, async () => {
      const clean = await evaluateExpert(config, { task: task.name, episodes: EPISODES, noise: 0, seed: 100 });
      expect(clean.successRate, JSON.stringify(clean.results.filter((r) => !r.success))).toBeGreaterThanOrEqual(0.95);
      const noisy = await evaluateExpert(config, { task: task.name, episodes: EPISODES, noise: 1, seed: 100 });
      expect(noisy.successRate).toBeLessThanOrEqual(0.6);
      // Same seed, same outcome.
      const again = await evaluateExpert(config, { task: task.name, episodes: 3, noise: 1, seed: 100 });
      expect(again.results).toEqual(noisy.results.slice(0, 3));
    });
  }
});
