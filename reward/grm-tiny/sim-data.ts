/**
 * Simulator episodes for GRM-tiny, kept in memory: the scripted expert runs a task on the
 * embedded robot (same seeds as `dopamine sim record`), every control step's three camera frames
 * are kept, and the expert's phases become the keyframes. Nothing is written to disk.
 */
import type { Config } from '../../config/schema.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { episodeSeed, expertSeed } from '../../robot/sim/record.js';
import { SimRobot } from '../../robot/sim/robot.js';
import { SIM_CAMERAS } from '../../robot/sim/scene.js';
import { startPoses, taskProgress } from '../../robot/sim/progress.js';
import type { ArmAction, CameraRole, Observation } from '../../robot/types.js';
import type { Episode, RgbImage } from '../episode.js';
import { memoryEpisode } from './memory-episode.js';
import { LOCATION_SIZE } from './model.js';

export interface SimEpisode {
  episode: Episode;
  /** Per frame, the location target (model.ts): the task's key bodies relative to the hand, in decimetres ([LOCATION_SIZE]), or where they appear in each view ([3 * LOCATION_SIZE], keyBodyImageLocations). */
  locations: Float32Array[];
  /** True progress of every frame (robot/sim/progress.ts), in [0, 1]. */
  progress: number[];
  success: boolean;
  seed: number;
  noise: number;
}

/** The camera views of one observation, copied (the simulator reuses its frame buffers). */
export type Views = Partial<Record<CameraRole, RgbImage>> & { front: RgbImage };

export function views(observation: Observation): Views {
  const out: Partial<Record<CameraRole, RgbImage>> = {};
  for (const frame of observation.frames) out[frame.role] = { width: frame.width, height: frame.height, rgb: Uint8Array.from(frame.rgb) };
  if (!out.front) throw new Error('simulator observation without a front camera frame');
  return out as Views;
}

/** The task's two key bodies relative to the hand, decimetres (values of order 1 for the loss). */
export function keyBodyLocations(robot: SimRobot): Float32Array {
  const world = robot.world;
  const ee = world.eePosition();
  const out = new Float32Array(LOCATION_SIZE);
  robot.task.keyBodies.forEach((body, b) => {
    const p = world.bodyPosition(body);
    for (let i = 0; i < 3; i++) out[3 * b + i] = 10 * (p[i]! - ee[i]!);
  });
  return out;
}

/** The cameras of a frame's views, in the episode's view order (memory-episode.ts). */
const VIEW_CAMERAS = [SIM_CAMERAS.front, SIM_CAMERAS.left_wrist, SIM_CAMERAS.right_wrist] as const;
/** Image positions beyond the edge are clipped here: the target says "off this side". */
const IMAGE_CLIP = 1.5;

/**
 * Where the task's two key bodies appear in each view (front, left wrist, right wrist):
 * per body (x, y, in view), x and y in the image's [-1, 1] frame (x to the right, y down: the
 * frame of the spatial-softmax keypoints) clipped to +-1.5, and 1 when the body's centre is in
 * view, else 0. [3 * LOCATION_SIZE]. `aspect`: the images' width / height. A keypoint can take this value directly, so this target asks
 * the encoder for a channel that follows each object in the image, which the policy reads.
 */
export function keyBodyImageLocations(robot: SimRobot, aspect: number): Float32Array {
  const world = robot.world;
  const out = new Float32Array(VIEW_CAMERAS.length * LOCATION_SIZE);
  const camPos = world.data.cam_xpos as Float64Array;
  const camMat = world.data.cam_xmat as Float64Array;
  VIEW_CAMERAS.forEach((camera, v) => {
    const id = world.id('camera', camera);
    const tanY = Math.tan((((world.model.cam_fovy as Float64Array)[id]!) * Math.PI) / 360);
    const tanX = tanY * aspect;
    const m = camMat.subarray(id * 9, id * 9 + 9);
    robot.task.keyBodies.forEach((body, b) => {
      const p = world.bodyPosition(body);
      const d = [p[0] - camPos[id * 3]!, p[1] - camPos[id * 3 + 1]!, p[2] - camPos[id * 3 + 2]!];
      // camera frame = M^T (p - camera position); the camera looks along its -z, y up
      const [cx, cy, cz] = [0, 1, 2].map((k) => m[k]! * d[0]! + m[3 + k]! * d[1]! + m[6 + k]! * d[2]!) as [number, number, number];
      const ahead = cz < -1e-6;
      const x = ahead ? cx / -cz / tanX : 0;
      const y = ahead ? -cy / -cz / tanY : 0;
      const clip = (value: number): number => Math.max(-IMAGE_CLIP, Math.min(IMAGE_CLIP, value));
      out.set([clip(x), clip(y), ahead && Math.abs(x) <= 1 && Math.abs(y) <= 1 ? 1 : 0], v * LOCATION_SIZE + 3 * b);
    });
  });
  return out;
}

/** The location target of a frame: key bodies relative to the hand (the same for every view), or where they appear in each view. */
export type LocationTarget = 'hand' | 'image';

/**
 * Control steps an evaluation rollout rests after its last action (1.5 s at 10 Hz): the episode
 * goes on while the arm holds still, as a run's episode does until the step limit or the judge,
 * so that "done" can be judged over a window of scored steps (reward/completion.ts) and a failure
 * has as long to fool the judge as a success has to convince it.
 */
export const REST_STEPS = 15;

/** The still action: no motion, the gripper as commanded. */
export const restAction = (robot: SimRobot): ArmAction => ({ dx: 0, dy: 0, dz: 0, dyaw: 0, gripper: robot.world.gripperCommanded() });

export interface RunOptions {
  /** Stop the expert after this many phase changes. */
  stopAfterPhases?: number;
  locationTarget?: LocationTarget;
  /** Control steps of holding still after the expert's last action (default 0); keyframes end before them. */
  restSteps?: number;
}

/** Runs one expert episode of the robot's task with seed `seed` and expert noise `noise`. */
export async function runSimEpisode(robot: SimRobot, seed: number, noise: number, options: RunOptions = {}): Promise<SimEpisode> {
  let observation = await robot.reset(seed);
  const start = startPoses(robot.world);
  const expert = new ScriptedExpert(robot.world, { noise, seed: expertSeed(seed) });
  const { width, height } = observation.frames[0]!;
  const target = options.locationTarget === 'image' ? (r: SimRobot): Float32Array => keyBodyImageLocations(r, width / height) : keyBodyLocations;
  const frames: Views[] = [];
  const locations: Float32Array[] = [];
  const progress: number[] = [];
  // Each frame: its views, its location target and its true progress.
  const record = (): void => {
    frames.push(views(observation));
    locations.push(target(robot));
    progress.push(taskProgress(robot.task, robot.world, start));
  };
  record();
  let success = robot.task.success(robot.world);
  const phaseLimit = options.stopAfterPhases;
  let phases = 0;
  let lastPhase = expert.phase;
  while (robot.world.steps < robot.stepLimit) {
    const action = expert.next();
    if (!action) break;
    if (expert.phase !== lastPhase) {
      phases++;
      lastPhase = expert.phase;
      if (phaseLimit !== undefined && phases >= phaseLimit) break;
    }
    const result = await robot.act(action);
    observation = result.observation;
    success = result.success === true;
    record();
  }
  const keyframes = expert.keyframes(frames.length - 1).filter((k) => k.end_frame_id <= frames.length - 1);
  for (let rest = 0; rest < (options.restSteps ?? 0) && robot.world.steps < robot.stepLimit; rest++) {
    const result = await robot.act(restAction(robot));
    observation = result.observation;
    success = result.success === true;
    record();
  }
  const segments = keyframes.map((k) => ({ label: k.anotation, startFrame: k.start_frame_id, endFrame: k.end_frame_id }));
  const episode = memoryEpisode({
    name: `${robot.task.name}_seed${seed}`,
    instructions: robot.task.instructions,
    frames,
    segments: segments.length > 0 ? segments : undefined,
    fps: robot.controlHz,
  });
  return { episode, locations, progress, success, seed, noise };
}

export interface SimEpisodesOptions {
  config: Config;
  task: string;
  count: number;
  seed: number;
  /** Expert noise of episode i (default: 0.2). */
  noise?: (index: number) => number;
  /** What the episodes' location targets are (default hand). */
  locationTarget?: LocationTarget;
  /** Control steps of rest after the expert's last action (default 0). */
  restSteps?: number;
  width?: number;
  height?: number;
}

/** A simulator of the task that renders its cameras, at the given size (default: the configuration's). */
export function renderingRobot(options: { config: Config; task: string; width?: number; height?: number }): Promise<SimRobot> {
  return SimRobot.create(options.config, {
    task: options.task,
    render: true,
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
  });
}

/** `count` episodes of a task, seeds `episodeSeed(seed, i)` as in `dopamine sim record`. */
export async function* simEpisodes(options: SimEpisodesOptions): AsyncGenerator<SimEpisode> {
  const robot = await renderingRobot(options);
  try {
    for (let i = 0; i < options.count; i++) yield await runSimEpisode(robot, episodeSeed(options.seed, i), options.noise?.(i) ?? 0.2, { locationTarget: options.locationTarget ?? 'hand', restSteps: options.restSteps ?? 0 });
  } finally {
    await robot.close();
  }
}
