/**
 * Dense true progress of every simulator task, from the world's state: a number in [0, 1] that is
 * exactly 1 when the task's success predicate holds, rises through the scripted expert's phases
 * (reach, grasp, lift, carry, release; reach, press; reach, grasp, pull) and falls when the work is
 * undone. PRIVILEGED: it reads object poses that neither the policy nor the reward model sees; it
 * labels simulator episodes (failed, near-miss and regressing ones included) for reward-model
 * training and evaluation, and is the RL loop's debugging reward (policy/environment.ts).
 *
 * Every non-success state stays below 1, and states that look close without being a success (the
 * object beside the target, a grasp that never lifted, fingers closed beside the object) stay well
 * below the score of the state just before success.
 */
import type { Vec3 } from './scene.js';
import { BIG_HALF, BUTTON_PRESSED, DRAWER_OPEN, HANDLE, SMALL_HALF, type SimTask } from './tasks.js';
import type { SimWorld } from './world.js';

/** Positions of the task's key bodies right after the reset (push-cube measures against them). */
export type StartPoses = Record<string, Vec3>;

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
const distXY = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
const unit = (x: number): number => Math.max(0, Math.min(1, x));
const closed = (world: SimWorld): boolean => world.gripperCommanded() > 0.5;

type ProgressFn = (world: SimWorld, start: StartPoses) => number;

/**
 * Everything but the success case: each function is only called when the success predicate is
 * false, and returns a value below 1. pick-place and push-cube are the RL loop's PRIVILEGED
 * progress as it was in policy/environment.ts, unchanged (the RL tests and figures rest on it).
 */
const partial: Record<string, ProgressFn> = {
  'pick-place'(world) {
    const ee = world.eePosition();
    const cube = world.bodyPosition('cube');
    const bin = world.bodyPosition('bin');
    const held = cube[2] > 0.035 && closed(world) && dist(ee, cube) < 0.06;
    // Released over the bin and falling in: one step from success, not back to reaching (a
    // dip there made the release step look like a loss to the pbrs arm).
    const overBin = Math.abs(cube[0] - bin[0]) < 0.06 && Math.abs(cube[1] - bin[1]) < 0.06;
    if (!held && overBin && cube[2] > 0.035) return 0.95;
    if (!held) return 0.35 * unit(1 - dist(ee, [cube[0], cube[1], cube[2] + 0.005]) / 0.3) + (dist(ee, cube) < 0.03 && closed(world) ? 0.05 : 0);
    return 0.45 + 0.45 * unit(1 - distXY(cube, bin) / 0.4);
  },

  'push-cube'(world, start) {
    const cube = world.bodyPosition('cube');
    const target = world.bodyPosition('target');
    const initial = Math.max(0.05, distXY(start.cube!, target));
    const reach = unit(1 - dist(world.eePosition(), cube) / 0.3);
    return 0.25 * reach + 0.7 * unit(1 - distXY(cube, target) / initial);
  },

  'stack-blocks'(world) {
    const ee = world.eePosition();
    const small = world.bodyPosition('small_block');
    const big = world.bodyPosition('big_block');
    const onTopZ = big[2] + BIG_HALF + SMALL_HALF;
    const held = small[2] > SMALL_HALF + 0.015 && closed(world) && dist(ee, small) < 0.06;
    if (!held) {
      // Let go on the big block but not a success (off-centre, tilted, or still settling): most of
      // the way, below the held-and-lowered state that precedes a clean release.
      const resting = distXY(small, big) < 0.035 && Math.abs(small[2] - onTopZ) < 0.015;
      if (resting) return 0.85;
      return 0.35 * unit(1 - dist(ee, [small[0], small[1], small[2] + 0.005]) / 0.3) + (dist(ee, small) < 0.03 && closed(world) ? 0.05 : 0);
    }
    // Held: carried over the big block, then lowered onto it.
    const over = distXY(small, big);
    const lowered = over < 0.03 ? unit((0.14 - small[2]) / (0.14 - onTopZ)) : 0;
    return 0.45 + 0.4 * unit(1 - over / 0.4) + 0.1 * lowered;
  },

  'open-drawer'(world) {
    const drawer = world.bodyPosition('drawer');
    // Where the expert grasps the handle (tasks.ts): it moves with the drawer.
    const handle: Vec3 = [drawer[0] + HANDLE[0], drawer[1] + HANDLE[1], 0.05];
    const near = dist(world.eePosition(), handle);
    const reach = unit(1 - near / 0.3);
    const grasp = closed(world) && near < 0.02 ? 1 : 0;
    const open = unit(world.jointPosition('drawer_slide') / DRAWER_OPEN);
    // Reaches 1 only at the predicate's threshold (slide > DRAWER_OPEN); taskProgress caps it below.
    return 0.3 * reach + 0.1 * grasp + 0.6 * open;
  },

  'press-button'(world) {
    const ee = world.eePosition();
    const button = world.bodyPosition('button');
    const above: Vec3 = [button[0], button[1], 0.09];
    // Over the cap the hand descends; anywhere else, reaching is the distance to the point above it.
    const over = distXY(ee, button) < 0.015;
    const reach = over ? 1 : unit(1 - dist(ee, above) / 0.3);
    const descend = over ? unit((0.09 - ee[2]) / (0.09 - 0.028)) : 0;
    const pressed = unit(world.jointPosition('button_press') / BUTTON_PRESSED);
    return 0.45 * reach + 0.3 * descend + 0.2 * pressed;
  },
};

/** Whether a task has true progress (every simulator task does; a guard for callers with names). */
export function hasTaskProgress(task: string): boolean {
  return Object.hasOwn(partial, task);
}

/** The key bodies' positions now: call right after a reset, pass to taskProgress for the episode. */
export function startPoses(world: SimWorld): StartPoses {
  return Object.fromEntries(world.task.keyBodies.map((b) => [b, world.bodyPosition(b)]));
}

/** True progress of the world's task in [0, 1]; exactly 1 when its success predicate holds. */
export function taskProgress(task: SimTask, world: SimWorld, start: StartPoses): number {
  if (task.success(world)) return 1;
  const fn = partial[task.name];
  if (!fn) throw new Error(`no true progress for task ${task.name}`);
  return Math.max(0, Math.min(0.99, fn(world, start)));
}
