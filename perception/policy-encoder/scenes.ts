/**
 * Simulator scenes for the policy encoder's pretraining and its benchmark: the task's full
 * randomisation (layout and colours), the hand wherever a learning policy may put it, and what the
 * simulator knows of every position as the target.
 *
 * Each episode resets the world with its own seed and captures four scenes: two while the
 * scripted expert works at a random noise (so grasps, lifts and carries are seen), then two after
 * moving the hand to a random point, anywhere in the workspace or within 8 cm of the object, with
 * a random yaw and gripper opening. Without the expert (random scenes: the task's objects, never
 * its episodes), all four come after random moves. Only captured scenes are rendered (about 34 ms for three
 * views); the control steps between are physics only.
 *
 * With `jitter`, each capture also draws the light's direction and moves each camera by up to
 * 1.5 cm (front) or 0.5 cm (wrists), so that the encoder does not learn one scene; the image
 * targets follow the moved cameras.
 */
import type { Config } from '../../config/schema.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { keyBodyImageLocations, keyBodyLocations, VIEW_CAMERAS } from '../../robot/sim/key-bodies.js';
import { DEFAULT_LIGHT, RayCastRenderer } from '../../robot/sim/render.js';
import { createRng, type Rng } from '../../robot/sim/rng.js';
import { findTask } from '../../robot/sim/tasks.js';
import { SimWorld } from '../../robot/sim/world.js';
import type { ArmAction } from '../../robot/types.js';

export interface EncoderScene {
  task: string;
  /** Packed RGB of each view in view order (front, left wrist, right wrist), width x height each. */
  views: Uint8Array[];
  /** End-effector x, y, z, yaw and gripper opening (the policy's proprioception). */
  proprio: Float32Array;
  /** The task's two key bodies relative to the hand, decimetres [6]. */
  hand: Float32Array;
  /** Where the key bodies appear in each view, [3 * 6] (robot/sim/key-bodies.ts). */
  image: Float32Array;
}

export interface ScenesOptions {
  config: Config;
  task: string;
  /** Scenes wanted (four per episode; the last episode may give fewer). */
  count: number;
  /** Episode seeds are seed, seed + 1, ... */
  seed: number;
  jitter: boolean;
  /** Two of each episode's four scenes while the scripted expert works (default true); false: every scene after a random move (no task episode seen). */
  expert?: boolean;
  width?: number;
  height?: number;
}

const SCENES_PER_EPISODE = 4;
const MOVE_STEPS = 12;
const FRONT_JITTER_M = 0.015;
const WRIST_JITTER_M = 0.005;

/** Drives the hand towards a point for `steps` control steps (each step capped by the world's bounds). */
function moveTowards(world: SimWorld, target: readonly [number, number, number], yaw: number, gripper: number, steps: number): void {
  for (let i = 0; i < steps; i++) {
    const ee = world.eePosition();
    const action: ArmAction = { dx: target[0] - ee[0], dy: target[1] - ee[1], dz: target[2] - ee[2], dyaw: yaw - world.eeYaw(), gripper };
    world.step(action);
  }
}

function capture(world: SimWorld, renderer: RayCastRenderer, cameraIds: number[], rng: Rng, jitter: boolean): Omit<EncoderScene, 'task'> {
  const camPos = world.model.cam_pos as Float64Array;
  const saved = Float64Array.from(camPos);
  if (jitter) {
    renderer.setLight([rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), 1]);
    cameraIds.forEach((id, v) => {
      const reach = v === 0 ? FRONT_JITTER_M : WRIST_JITTER_M;
      for (let k = 0; k < 3; k++) camPos[id * 3 + k] = saved[id * 3 + k]! + rng.uniform(-reach, reach);
    });
  }
  world.mujoco.mj_forward(world.model, world.data);
  const views = cameraIds.map((id) => Uint8Array.from(renderer.render(world.data, id).rgb));
  const image = keyBodyImageLocations(world, renderer.width / renderer.height);
  if (jitter) {
    camPos.set(saved);
    renderer.setLight(DEFAULT_LIGHT);
    world.mujoco.mj_forward(world.model, world.data);
  }
  const ee = world.eePosition();
  return { views, proprio: Float32Array.from([ee[0], ee[1], ee[2], world.eeYaw(), world.gripperOpening()]), hand: keyBodyLocations(world), image };
}

/** Scenes of one task, `count` of them, reproducible from the seed. */
export async function* encoderScenes(options: ScenesOptions): AsyncGenerator<EncoderScene> {
  const task = findTask(options.task);
  if (!task) throw new RangeError(`unknown simulator task ${JSON.stringify(options.task)}`);
  const { config } = options;
  const world = await SimWorld.create({
    task,
    physicsStepS: config.robot.sim.physicsStepS,
    controlHz: config.robot.controlHz,
    bounds: { maxStepM: config.safety.maxStepM, maxYawStepRad: config.safety.maxYawStepRad, workspaceMin: config.safety.workspaceMin, workspaceMax: config.safety.workspaceMax },
  });
  const renderer = new RayCastRenderer(world.mujoco, world.model, options.width ?? config.cameras.width, options.height ?? config.cameras.height);
  const cameraIds = VIEW_CAMERAS.map((camera) => world.id('camera', camera));
  const min = config.safety.workspaceMin;
  const max = config.safety.workspaceMax;
  try {
    let made = 0;
    for (let episode = 0; made < options.count; episode++) {
      const seed = options.seed + episode;
      const rng = createRng(seed * 7 + 3);
      // Jitter draws from its own stream: the episode plays out the same with or without it.
      const jitterRng = createRng(seed * 7 + 5);
      world.reset(seed);
      const scene = (): EncoderScene => ({ task: task.name, ...capture(world, renderer, cameraIds, jitterRng, options.jitter) });
      // Two scenes while the expert works: at two random steps of its first `length`.
      const expert = new ScriptedExpert(world, { noise: rng.uniform(0.1, 0.8), seed });
      const length = Math.floor(rng.uniform(0, 110));
      const at = new Set([Math.floor(rng.uniform(0, length + 1)), Math.floor(rng.uniform(0, length + 1))]);
      let wanted = Math.min(SCENES_PER_EPISODE, options.count - made);
      for (let step = 0; step <= length && wanted > 2 && options.expert !== false; step++) {
        if (at.has(step)) {
          yield scene();
          made++;
          wanted--;
        }
        const action = expert.next();
        if (!action) break;
        world.step(action);
      }
      // Then the hand anywhere in the workspace, or near the object the task moves.
      while (wanted > 0) {
        const object = world.bodyPosition(task.keyBodies[0]);
        const near = rng.next() < 0.5;
        const target: [number, number, number] = near
          ? [object[0] + rng.uniform(-0.08, 0.08), object[1] + rng.uniform(-0.08, 0.08), object[2] + rng.uniform(0.01, 0.1)]
          : [rng.uniform(min[0], max[0]), rng.uniform(min[1], max[1]), rng.uniform(min[2], max[2])];
        moveTowards(world, target, rng.uniform(-0.9, 0.9), rng.next() < 0.5 ? 0 : rng.uniform(0, 1), MOVE_STEPS);
        yield scene();
        made++;
        wanted--;
      }
    }
  } finally {
    renderer.close();
    world.close();
  }
}
