/**
 * Simulator episodes for GRM-tiny, kept in memory: the scripted expert runs a task on the
 * embedded robot (same seeds as `dopamine sim record`), every control step's three camera frames
 * are kept, and the expert's phases become the keyframes. Nothing is written to disk.
 */
import type { Config } from '../../config/schema.js';
import { ScriptedExpert } from '../../robot/sim/expert.js';
import { episodeSeed, expertSeed } from '../../robot/sim/record.js';
import { SimRobot } from '../../robot/sim/robot.js';
import { keyBodyImageLocations, keyBodyLocations } from '../../robot/sim/key-bodies.js';
import { startPoses, taskProgress } from '../../robot/sim/progress.js';
import type { ArmAction, CameraRole, Observation } from '../../robot/types.js';
import type { Episode, RgbImage } from '../episode.js';
import { memoryEpisode } from './memory-episode.js';

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
  const target = options.locationTarget === 'image' ? (r: SimRobot): Float32Array => keyBodyImageLocations(r.world, width / height) : (r: SimRobot): Float32Array => keyBodyLocations(r.world);
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
